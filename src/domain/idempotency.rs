//! Idempotent writes: the first answer to a request carrying an `Idempotency-Key` is kept
//! with the write itself (same transaction), so a retry with the same key and the same
//! body gets that answer again and writes nothing; the same key with another body is
//! refused. Keys live 24 hours; the retention worker purges them after that, and an
//! erasure forgets every answer about the person at once.

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::DomainError;
use crate::db::{Database, DbConnection, DbError};
use crate::store::idempotency::{self, StoredAnswer};

pub const LIFETIME_HOURS: i64 = 24;

/// A request's key, the scope it is valid in, and a digest of what was asked.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    pub key: String,
    pub scope: String,
    pub request_hash: String,
}

impl IdempotencyKey {
    /// `scope` names the method, route and caller; `request` is the parsed body (a JSON
    /// object's keys are sorted, so the digest does not depend on their order).
    pub fn new(key: &str, scope: String, request: &Value) -> Result<Self, DomainError> {
        let valid = !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(DomainError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        let digest = Sha256::digest(format!("{scope}\n{request}").as_bytes());
        Ok(Self {
            key: key.to_owned(),
            scope,
            request_hash: hex::encode(digest),
        })
    }
}

/// Whether some kept answers have expired (a read, so that an idle hour takes no write
/// lock).
pub fn any_expired(conn: &mut DbConnection, now: NaiveDateTime) -> Result<bool, DomainError> {
    Ok(idempotency::any_before(conn, expired_before(now))?)
}

/// Forgets the kept answers that have expired; returns how many.
pub fn purge_expired(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, DomainError> {
    Ok(idempotency::purge(conn, expired_before(now))?)
}

fn expired_before(now: NaiveDateTime) -> NaiveDateTime {
    now - chrono::Duration::hours(LIFETIME_HOURS)
}

/// What a write produced: fresh, or the answer kept from the first time.
pub enum Answer<T> {
    Fresh(T),
    Replayed { status: u16, body: Value },
}

impl<T> Answer<T> {
    /// The status and body to answer with: `fresh_status` and the rendered result, or
    /// what was kept.
    pub fn into_parts(self, fresh_status: u16, render: impl FnOnce(&T) -> Value) -> (u16, Value) {
        match self {
            Self::Fresh(value) => (fresh_status, render(&value)),
            Self::Replayed { status, body } => (status, body),
        }
    }
}

/// Runs `action` unless `key` was seen (then its kept answer is returned), and keeps
/// `(status, render(result))` as the answer for later retries, in the same transaction.
pub fn run<T>(
    conn: &mut DbConnection,
    key: Option<&IdempotencyKey>,
    status: u16,
    now: NaiveDateTime,
    action: impl FnOnce(&mut DbConnection) -> Result<T, DomainError>,
    render: impl FnOnce(&T) -> Value,
) -> Result<Answer<T>, DomainError> {
    let Some(key) = key else {
        return action(conn).map(Answer::Fresh);
    };
    let expired_before = expired_before(now);
    if let Some(kept) = idempotency::find(conn, &key.key, &key.scope, expired_before)? {
        if kept.request_hash != key.request_hash {
            return Err(DomainError::invalid(
                "Idempotency-Key",
                "was already used with a different request",
            ));
        }
        return Ok(Answer::Replayed {
            status: u16::try_from(kept.status).unwrap_or(200),
            body: serde_json::from_str(&kept.response).unwrap_or(Value::Null),
        });
    }
    // Claim the key before acting: a concurrent request with the same key waits on this
    // row (PostgreSQL) and, once the first commits, fails here and is rerun to replay.
    let mut answer = StoredAnswer {
        idempotency_key: key.key.clone(),
        scope: key.scope.clone(),
        request_hash: key.request_hash.clone(),
        status: i32::from(status),
        response: String::new(),
        created_at: now,
    };
    match idempotency::insert(conn, &answer, expired_before) {
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
            return Err(DomainError::Storage(DbError::Conflict(info.message().to_owned())));
        }
        other => other?,
    }
    let result = action(conn)?;
    answer.response = render(&result).to_string();
    idempotency::set_response(conn, &answer)?;
    Ok(Answer::Fresh(result))
}

/// Runs `action` as one write transaction at the time it runs, kept under `key` with
/// `status` and `render(result)` so that a retry replays that answer: the one way every
/// idempotent write of the API is made.
pub async fn write<T, F, R>(
    db: &Database,
    key: Option<IdempotencyKey>,
    status: u16,
    action: F,
    render: R,
) -> Result<Answer<T>, DomainError>
where
    F: Fn(&mut DbConnection, NaiveDateTime) -> Result<T, DomainError> + Send + 'static,
    R: Fn(&T) -> Value + Send + 'static,
    T: Send + 'static,
{
    db.write(move |conn| {
        let now = crate::db::now();
        run(conn, key.as_ref(), status, now, |conn| action(conn, now), &render)
    })
    .await
}
