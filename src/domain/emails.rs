//! The email outbox as admins see it: a page of it, and a failed email queued again.

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::json;

use super::audit::{self, AuditEntry};
use super::error::DomainError;
use crate::db::DbConnection;
use crate::store::outbox::{self, OutboxRow};

/// The statuses an outbox email can have, in the order it goes through them.
pub const STATUSES: [&str; 4] = [outbox::PENDING, outbox::SENDING, outbox::SENT, outbox::FAILED];

/// An email of the outbox.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EmailView {
    pub id: String,
    pub event_id: String,
    pub registration_id: Option<String>,
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<OutboxRow> for EmailView {
    fn from(row: OutboxRow) -> Self {
        let utc = |t: NaiveDateTime| t.and_utc();
        Self {
            id: row.id,
            event_id: row.event_id,
            registration_id: row.registration_id,
            kind: row.kind,
            recipient: row.recipient,
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: utc(row.created_at),
            next_attempt_at: utc(row.next_attempt_at),
            sent_at: row.sent_at.map(utc),
        }
    }
}

/// A page of the outbox, oldest first, optionally of one status (one of [`STATUSES`]).
pub fn list_emails(
    conn: &mut DbConnection,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<EmailView>, DomainError> {
    Ok(outbox::list(conn, status, limit, offset)?
        .into_iter()
        .map(EmailView::from)
        .collect())
}

/// Queues a failed email again, for `actor` (audited). Only a failed email can be
/// retried: one still pending or sending is on its way, a sent one is not sent twice.
pub fn retry_email(
    conn: &mut DbConnection,
    actor: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<EmailView, DomainError> {
    let row = outbox::find(conn, id)?.ok_or(DomainError::NotFound("email"))?;
    if !outbox::requeue_failed(conn, id, now)? {
        return Err(DomainError::invalid(
            "id",
            format!("only failed emails can be retried; this one is {}", row.status),
        ));
    }
    audit::record(
        conn,
        AuditEntry {
            event_id: Some(&row.event_id),
            actor,
            action: "email.retry",
            subject: Some(id),
            before: Some(json!({ "status": row.status, "attempts": row.attempts })),
            after: Some(json!({ "status": outbox::PENDING })),
        },
        now,
    )?;
    Ok(EmailView::from(outbox::find(conn, id)?.unwrap_or(row)))
}

/// How many emails the outbox holds in each of [`STATUSES`] (zero included).
pub fn count_by_status(conn: &mut DbConnection) -> Result<Vec<(&'static str, i64)>, DomainError> {
    let counts = outbox::count_by_status(conn)?;
    Ok(STATUSES
        .iter()
        .map(|status| {
            let count = counts.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
            (*status, count)
        })
        .collect())
}
