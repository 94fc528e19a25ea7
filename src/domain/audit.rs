//! The audit trail: every organiser and admin action, with who, when, and the state
//! before and after. Rows are written in the action's own transaction.

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::Value;

use super::error::DomainError;
use crate::db::DbConnection;
use crate::store::audit::{self, AuditRow};

/// One action to record. `before` and `after` hold only what changed, never personal
/// data beyond ids (erasure must not leave names here).
pub struct AuditEntry<'a> {
    pub event_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: Option<&'a str>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub fn record(conn: &mut DbConnection, entry: AuditEntry<'_>, now: NaiveDateTime) -> Result<(), DomainError> {
    let row = AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        event_id: entry.event_id.map(str::to_owned),
        actor: entry.actor.to_owned(),
        action: entry.action.to_owned(),
        subject: entry.subject.map(str::to_owned),
        before: entry.before.map(|v| v.to_string()),
        after: entry.after.map(|v| v.to_string()),
        created_at: now,
    };
    audit::insert(conn, &row)?;
    Ok(())
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub at: chrono::DateTime<chrono::Utc>,
}

pub fn list(
    conn: &mut DbConnection,
    event_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<AuditView>, DomainError> {
    let parse = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    Ok(audit::list_for_event(conn, event_id, limit, offset)?
        .into_iter()
        .map(|row| AuditView {
            id: row.id,
            actor: row.actor,
            action: row.action,
            subject: row.subject,
            before: parse(row.before),
            after: parse(row.after),
            at: row.created_at.and_utc(),
        })
        .collect())
}
