//! API tokens over their life: issued (for a number of days, or until revoked), listed,
//! revoked. A token is live while it is neither revoked nor expired
//! (`store::tokens::live_at`, the one condition): only a live token authenticates
//! ([`super::access::authenticate`]) and only a live token's board sessions count
//! ([`super::board_sessions`]). Revoking also deletes the token's board sessions. Every
//! issue and revocation is audited (no event; the subject is the token's id). A secret is
//! shown once, when it is issued, and never listed: only its hash is kept.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::access::{hash_secret, new_secret, Role};
use super::audit::{self, AuditEntry};
use super::error::DomainError;
use super::input::Fields;
use crate::db::DbConnection;
use crate::store::board_sessions;
use crate::store::tokens::{self, NewTokenRow, TokenRow};

/// The longest expiry a token can be given, in days (ten years).
pub const MAX_EXPIRY_DAYS: i64 = 3650;
const NAME_MAX: usize = 100;

/// A token to issue, parsed once at the edge.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    /// `None`: the token lives until it is revoked.
    pub expires_in_days: Option<i64>,
}

impl NewToken {
    /// From a submitted object: `name` (1–100 characters on one line), `role` (`admin`,
    /// `organiser` or `steward`) and optional `expires_in_days` (1–3650); every fault at once.
    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let name = fields.required_text("name", NAME_MAX);
        if name.as_deref().is_some_and(|n| n.contains(['\n', '\t'])) {
            fields.error("name", "must be one line");
        }
        let role = match fields.required_text("role", 32) {
            Some(text) => {
                let role = Role::parse(&text);
                if role.is_none() {
                    fields.error("role", "must be admin, organiser or steward");
                }
                role
            }
            None => None,
        };
        let expires_in_days = fields.optional_int("expires_in_days", 1, MAX_EXPIRY_DAYS);
        fields.finish(|| {
            Some(Self {
                name: name?,
                role: role?,
                expires_in_days,
            })
        })
    }

    /// The same rules for callers that hold typed values (the command line, set-up code).
    pub fn new(role: Role, name: &str, expires_in_days: Option<i64>) -> Result<Self, DomainError> {
        let mut body = Map::new();
        body.insert("name".into(), json!(name));
        body.insert("role".into(), json!(role.as_str()));
        if let Some(days) = expires_in_days {
            body.insert("expires_in_days".into(), json!(days));
        }
        Self::parse(body)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// Authenticates (until `expires_at`, when it has one).
    Active,
    /// Past its `expires_at`: authenticates nowhere.
    Expired,
    /// Revoked at `revoked_at`: authenticates nowhere, and its board sessions are gone.
    Revoked,
}

/// A token as admins see it: never its secret nor its hash.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub status: TokenStatus,
    pub created_at: DateTime<Utc>,
    /// Null: the token does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// Null: not revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenView {
    /// The token as it stands at `now`.
    fn of(row: TokenRow, now: NaiveDateTime) -> Self {
        let status = match (row.revoked_at, row.expires_at) {
            (Some(_), _) => TokenStatus::Revoked,
            (None, Some(expires_at)) if expires_at <= now => TokenStatus::Expired,
            _ => TokenStatus::Active,
        };
        Self {
            // The table's CHECK allows only the known roles; the least one if ever not.
            role: Role::parse(&row.role).unwrap_or(Role::Steward),
            status,
            created_at: row.created_at.and_utc(),
            expires_at: row.expires_at.map(|t| t.and_utc()),
            revoked_at: row.revoked_at.map(|t| t.and_utc()),
            id: row.id,
            name: row.name,
        }
    }
}

/// A token just issued, with its secret: the only time the secret is seen.
pub struct IssuedToken {
    pub token: TokenView,
    pub secret: String,
}

/// Issues a token for `actor` (audited). An expiry of N days ends it N × 24 hours from
/// `now`.
pub fn issue(
    conn: &mut DbConnection,
    actor: &str,
    new: &NewToken,
    now: NaiveDateTime,
) -> Result<IssuedToken, DomainError> {
    let secret = new_secret("rpa_");
    let id = uuid::Uuid::now_v7().to_string();
    let expires_at = new.expires_in_days.map(|days| now + Duration::days(days));
    tokens::insert(
        conn,
        &NewTokenRow {
            id: &id,
            name: &new.name,
            role: new.role.as_str(),
            token_hash: &hash_secret(&secret),
            created_at: now,
            expires_at,
        },
    )?;
    let row = tokens::find(conn, &id)?.ok_or(DomainError::NotFound("token"))?;
    let token = TokenView::of(row, now);
    audit::record(
        conn,
        AuditEntry {
            event_id: None,
            actor,
            action: "token.create",
            subject: Some(&id),
            before: None,
            after: Some(json!({
                "name": token.name,
                "role": token.role,
                "expires_at": token.expires_at,
            })),
        },
        now,
    )?;
    Ok(IssuedToken { token, secret })
}

/// Every token as it stands at `now`, oldest first.
pub fn list(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Vec<TokenView>, DomainError> {
    Ok(tokens::list(conn)?
        .into_iter()
        .map(|row| TokenView::of(row, now))
        .collect())
}

/// What a revocation did.
pub struct Revocation {
    pub token: TokenView,
    /// It was revoked before this call, which changed nothing.
    pub already_revoked: bool,
    /// Board sessions of the token that this call ended.
    pub sessions_ended: usize,
}

/// Revokes a token for `actor`, and ends its board sessions, in one transaction. Revoking
/// twice is harmless: the token keeps its first `revoked_at`, and only the first is
/// audited. An unknown id is `NotFound`.
pub fn revoke(
    conn: &mut DbConnection,
    actor: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<Revocation, DomainError> {
    let revoked_now = tokens::revoke(conn, id, now)?;
    let row = tokens::find(conn, id)?.ok_or(DomainError::NotFound("token"))?;
    let sessions_ended = board_sessions::delete_for_token(conn, id)?;
    let token = TokenView::of(row, now);
    if revoked_now {
        audit::record(
            conn,
            AuditEntry {
                event_id: None,
                actor,
                action: "token.revoke",
                subject: Some(id),
                before: Some(json!({ "status": "active" })),
                after: Some(json!({ "status": token.status, "sessions_ended": sessions_ended })),
            },
            now,
        )?;
    }
    Ok(Revocation {
        token,
        already_revoked: !revoked_now,
        sessions_ended,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_new_token_names_every_fault_at_once() {
        let new = NewToken::parse(body(json!({"name": " Ops desk ", "role": "admin"}))).unwrap();
        assert_eq!(
            (new.name.as_str(), new.role, new.expires_in_days),
            ("Ops desk", Role::Admin, None)
        );
        let new = NewToken::parse(body(
            json!({"name": "x", "role": "organiser", "expires_in_days": "30"}),
        ))
        .unwrap();
        assert_eq!(new.expires_in_days, Some(30));

        let Err(DomainError::Validation(errors)) = NewToken::parse(body(
            json!({"name": "", "role": "root", "expires_in_days": -1, "colour": "red"}),
        )) else {
            panic!("refused")
        };
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["colour", "expires_in_days", "name", "role"]);
        for refused in [
            json!({"name": "a\nb", "role": "admin"}),
            json!({"name": "x".repeat(101), "role": "admin"}),
            json!({"name": "x", "role": "admin", "expires_in_days": 0}),
            json!({"name": "x", "role": "admin", "expires_in_days": MAX_EXPIRY_DAYS + 1}),
            json!({"name": "x", "role": "Admin"}),
            json!({"role": "admin"}),
        ] {
            assert!(NewToken::parse(body(refused.clone())).is_err(), "{refused}");
        }
        assert!(NewToken::new(Role::Organiser, "  ", None).is_err());
    }

    #[test]
    fn a_view_says_whether_the_token_is_active_expired_or_revoked() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .naive_utc();
        let row = |expires_at: Option<NaiveDateTime>, revoked_at: Option<NaiveDateTime>| TokenRow {
            id: "t".into(),
            name: "n".into(),
            role: "admin".into(),
            token_hash: "h".into(),
            created_at: now - Duration::days(2),
            revoked_at,
            expires_at,
        };
        let status = |r| TokenView::of(r, now).status;
        assert_eq!(status(row(None, None)), TokenStatus::Active);
        assert_eq!(
            status(row(Some(now + Duration::seconds(1)), None)),
            TokenStatus::Active
        );
        assert_eq!(status(row(Some(now), None)), TokenStatus::Expired);
        assert_eq!(status(row(Some(now), Some(now))), TokenStatus::Revoked);
        assert_eq!(status(row(None, Some(now))), TokenStatus::Revoked);
    }
}
