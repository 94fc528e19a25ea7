//! Secrets that grant access: API tokens (admin, organiser), manage links and the
//! organiser board's sign-in sessions. Only a SHA-256 of each token is stored. API
//! tokens are 256 random bits; manage tokens are an HMAC of the registration id under a
//! key the database or the settings hold, so that emails sent later can carry the link;
//! a board session is the token's id and an expiry, signed under the same key. Either
//! way guessing is hopeless.

use chrono::NaiveDateTime;
use diesel::Connection;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::error::DomainError;
use crate::db::DbConnection;
use crate::store::{service_keys, tokens};

/// The key manage-link tokens are derived from: `token = hex(HMAC-SHA256(key, id))`.
/// Deriving (rather than storing) the token lets every later email carry the link while
/// the database keeps only the token's hash.
#[derive(Clone)]
pub struct ManageKey(Vec<u8>);

impl std::fmt::Debug for ManageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManageKey(..)")
    }
}

impl ManageKey {
    pub fn new(secret: &str) -> Self {
        Self(secret.as_bytes().to_vec())
    }

    /// The manage token of a registration: 256 bits no one can compute without the key.
    pub fn token_for(&self, registration_id: &str) -> String {
        hex::encode(
            self.mac(MANAGE_LINK_LABEL, registration_id)
                .finalize()
                .into_bytes(),
        )
    }

    /// An HMAC of `data` under the key, for one purpose: the label keeps a signature made
    /// for one use from being valid for another.
    fn mac(&self, label: &[u8], data: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(label);
        mac.update(data.as_bytes());
        mac
    }

    /// The cookie value of a board session: `{token id}.{expiry, Unix seconds}.{HMAC}`.
    /// The token's secret is never in it; stealing the cookie gives at most its
    /// remaining hours, and revoking the token ends every session made with it.
    pub fn sign_session(&self, token_id: &str, expires_at: i64) -> String {
        let payload = format!("{token_id}.{expires_at}");
        let signature = hex::encode(self.mac(SESSION_LABEL, &payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The token id of a session cookie made by [`ManageKey::sign_session`], if its
    /// signature holds (compared in constant time) and it has not expired at `now`.
    pub fn verify_session(&self, value: &str, now: i64) -> Option<String> {
        let (payload, signature) = value.rsplit_once('.')?;
        let (token_id, expires_at) = payload.split_once('.')?;
        let signature = hex::decode(signature).ok()?;
        self.mac(SESSION_LABEL, payload).verify_slice(&signature).ok()?;
        (expires_at.parse::<i64>().ok()? > now).then(|| token_id.to_owned())
    }
}

/// The private link of a registration: `{public_url}/manage/{token}` (the one place that
/// spells it; pages, API answers and emails all use it).
pub fn manage_url(public_url: &str, token: &str) -> String {
    format!("{}/manage/{token}", public_url.trim_end_matches('/'))
}

const MANAGE_LINK_LABEL: &[u8] = b"rallypoint manage link\0";
const SESSION_LABEL: &[u8] = b"rallypoint board session\0";

const MANAGE_KEY: &str = "manage_link";

/// The configured key, or the one kept in the database (created on first use, so every
/// instance sharing the database derives the same links).
pub fn load_manage_key(
    conn: &mut DbConnection,
    configured: &str,
    now: NaiveDateTime,
) -> Result<ManageKey, DomainError> {
    if !configured.is_empty() {
        return Ok(ManageKey::new(configured));
    }
    if let Some(secret) = service_keys::find(conn, MANAGE_KEY)? {
        return Ok(ManageKey::new(&secret));
    }
    let secret = new_secret("");
    // Another instance may create it at the same moment: then its key wins.
    match conn.transaction(|conn| service_keys::insert(conn, MANAGE_KEY, &secret, now)) {
        Ok(()) => Ok(ManageKey::new(&secret)),
        Err(_) => service_keys::find(conn, MANAGE_KEY)?
            .map(|secret| ManageKey::new(&secret))
            .ok_or(DomainError::NotFound("manage key")),
    }
}

/// Who is calling, from a valid API token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub name: String,
    pub role: Role,
}

/// The principal of a live (not revoked) token, by its id: a board session names the
/// token it was made with, and is worth no more than that token is now.
pub fn principal_by_token_id(
    conn: &mut DbConnection,
    token_id: &str,
) -> Result<Option<Principal>, DomainError> {
    Ok(tokens::find_active(conn, token_id)?.and_then(|row| {
        Some(Principal {
            role: Role::parse(&row.role)?,
            token_id: row.id,
            name: row.name,
        })
    }))
}

/// Creates an API token and returns its secret (the only time it is seen).
pub fn create_api_token(
    conn: &mut DbConnection,
    role: Role,
    name: &str,
    now: NaiveDateTime,
) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::invalid("name", "must be 1 to 100 characters"));
    }
    let secret = new_secret("rpa_");
    let id = uuid::Uuid::now_v7().to_string();
    tokens::insert(conn, &id, name, role.as_str(), &hash_secret(&secret), now)?;
    Ok(secret)
}

/// The principal behind a bearer secret. The lookup is by SHA-256 of the secret, so
/// timing reveals nothing about the stored value.
pub fn authenticate(conn: &mut DbConnection, secret: &str) -> Result<Option<Principal>, DomainError> {
    if secret.len() > 200 {
        return Ok(None);
    }
    Ok(
        tokens::find_active_by_hash(conn, &hash_secret(secret))?.and_then(|row| {
            Some(Principal {
                role: Role::parse(&row.role)?,
                token_id: row.id,
                name: row.name,
            })
        }),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Organiser,
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Self::Admin),
            "organiser" => Some(Self::Organiser),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Organiser => "organiser",
        }
    }

    /// Admins may do everything organisers do.
    pub fn includes(self, required: Role) -> bool {
        self >= required
    }
}

/// A fresh secret with its prefix (`rpa_` for API tokens, none for manage links):
/// 32 random bytes, hex-encoded so it survives URLs and shells unescaped.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A manage-link token has the shape `new_secret("")` gives; anything else is not
/// looked up at all.
pub fn is_well_formed_manage_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_only_their_hash_is_kept() {
        let a = new_secret("rpa_");
        let b = new_secret("rpa_");
        assert_ne!(a, b);
        assert!(a.starts_with("rpa_") && a.len() == 68);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert!(is_well_formed_manage_token(&new_secret("")));
        let key = ManageKey::new("k");
        assert_eq!(key.token_for("a"), key.token_for("a"));
        assert_ne!(key.token_for("a"), key.token_for("b"));
        assert_ne!(ManageKey::new("other").token_for("a"), key.token_for("a"));
        assert!(is_well_formed_manage_token(&key.token_for("a")));
        assert!(!is_well_formed_manage_token("../etc"));
    }

    #[test]
    fn sessions_hold_until_they_expire_and_cannot_be_altered() {
        let key = ManageKey::new("k");
        let cookie = key.sign_session("token-1", 1_000);
        assert_eq!(key.verify_session(&cookie, 999).as_deref(), Some("token-1"));
        assert_eq!(key.verify_session(&cookie, 1_000), None, "expired");
        assert_eq!(ManageKey::new("other").verify_session(&cookie, 0), None);
        let longer = cookie.replace(".1000.", ".9999.");
        assert_eq!(key.verify_session(&longer, 0), None, "the expiry is signed");
        let other_token = cookie.replace("token-1", "token-2");
        assert_eq!(key.verify_session(&other_token, 0), None);
        assert_eq!(key.verify_session("garbage", 0), None);
        // A manage-link signature is not a session signature.
        let forged = format!("a.5000.{}", key.token_for("a.5000"));
        assert_eq!(key.verify_session(&forged, 0), None);
    }

    #[test]
    fn admins_include_organisers() {
        assert!(Role::Admin.includes(Role::Organiser));
        assert!(!Role::Organiser.includes(Role::Admin));
    }
}
