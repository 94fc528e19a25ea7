//! Taking registrations away at the staff's hand: cancelling one (organisers), erasing a
//! person's data at their request (admins), and anonymising the registrations of events
//! long over (retention).
//!
//! What "counts stay right" means: erasing an active registration cancels it first,
//! exactly like the person cancelling (the seat is freed and refilled, the event's
//! numbers of active people drop by one); the erasure itself then changes no number,
//! because the row stays with its country, status and seat and only the personal data
//! goes. Erasing a registration already cancelled changes no count at all. Retention
//! does not cancel: an ended event's report keeps its numbers.

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Serialize;
use serde_json::json;

use super::audit::{self, AuditEntry};
use super::booking;
use super::error::DomainError;
use super::event_rules::{event_timezone, find_event, local_time};
use super::registration::Email;
use super::view::{registration_view, RegistrationView};
use super::webhooks::{self, EventType};
use crate::db::{Database, DbConnection};
use crate::store::events::{self, EventRow};
use crate::store::registrations::RegistrationStatus::{self, Cancelled};
use crate::store::registrations::{self, RegistrationRow};
use crate::store::{idempotency, outbox, site_visits, webhooks as webhook_deliveries};

/// An erased registration, as the admin who asked for it sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Erasure {
    pub id: String,
    pub event: String,
    pub status: RegistrationStatus,
    /// False when it had already been cancelled (no number changed).
    pub was_active: bool,
    pub erased_at: DateTime<FixedOffset>,
}

/// Cancels a registration for the person (same rules and emails as their own
/// cancellation), audited. Cancelling twice changes nothing.
pub fn cancel_by_staff(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<RegistrationView, DomainError> {
    let event = find_event(conn, event_slug)?;
    let registration = super::organiser::find_registration(conn, &event, id)?;
    booking::cancel_registration(conn, &registration, now)?;
    if registration.status != Cancelled {
        let entry = AuditEntry {
            event_id: Some(&event.id),
            actor,
            action: "cancel",
            subject: Some(id),
            before: Some(json!({ "status": registration.status })),
            after: Some(json!({ "status": Cancelled })),
        };
        audit::record(conn, entry, now)?;
    }
    let visits = site_visits::list(conn, &event.id)?;
    let registration = super::organiser::find_registration(conn, &event, id)?;
    registration_view(conn, &event, &visits, &registration)
}

/// Erases one registration of the event: cancelled if active, then its personal data
/// and emails are gone. Erasing again answers the same and changes nothing.
pub fn erase_registration(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<Erasure, DomainError> {
    let event = find_event(conn, event_slug)?;
    let registration = super::organiser::find_registration(conn, &event, id)?;
    erase(conn, actor, &event, registration, now)
}

/// Erases every registration with this email in every event: any letter case, and any
/// spelling of its domain that means the same domain (`exämple.com`,
/// `xn--exmple-cua.com`). An address stored as typed before domains were normalised, that
/// start-up could not bring to the normal form, is found as typed too.
pub fn erase_by_email(
    conn: &mut DbConnection,
    actor: &str,
    email: &str,
    now: NaiveDateTime,
) -> Result<Vec<Erasure>, DomainError> {
    let as_typed = email.trim().to_lowercase();
    let mut spellings = vec![as_typed.clone()];
    if let Ok(email) = Email::parse(email) {
        if email.normalized() != as_typed {
            spellings.push(email.normalized());
        }
    }
    let mut erased = Vec::new();
    for registration in registrations::find_by_email(conn, &spellings)? {
        let event = events::find(conn, &registration.event_id)?;
        erased.push(erase(conn, actor, &event, registration, now)?);
    }
    Ok(erased)
}

fn erase(
    conn: &mut DbConnection,
    actor: &str,
    event: &EventRow,
    registration: RegistrationRow,
    now: NaiveDateTime,
) -> Result<Erasure, DomainError> {
    let tz = event_timezone(event);
    if let Some(erased_at) = registration.erased_at {
        return Ok(Erasure {
            id: registration.id,
            event: event.slug.clone(),
            status: registration.status,
            was_active: false,
            erased_at: local_time(tz, erased_at),
        });
    }
    let was_active = registration.status != Cancelled;
    // Frees and refills the seat like any cancellation; the cancellation email it
    // queues for the person is removed again by `forget` below, in this transaction.
    booking::cancel_registration(conn, &registration, now)?;
    forget(conn, event, &registration, "erasure", now)?;
    // The id only: the audit trail must not keep what was erased.
    let entry = AuditEntry {
        event_id: Some(&event.id),
        actor,
        action: "erase",
        subject: Some(&registration.id),
        before: None,
        after: None,
    };
    audit::record(conn, entry, now)?;
    // As stored (PostgreSQL keeps microseconds), so that asking again answers the same.
    let erased_at = registrations::find(conn, &registration.id)?
        .and_then(|r| r.erased_at)
        .unwrap_or(now);
    Ok(Erasure {
        id: registration.id,
        event: event.slug.clone(),
        status: Cancelled,
        was_active,
        erased_at: local_time(tz, erased_at),
    })
}

/// The tables where an erasure or a retention run overwrites or deletes personal data:
/// what [`after_erasure`] vacuums on PostgreSQL.
pub const SCRUBBED_TABLES: &[&str] = &[
    "registrations",
    "outbox_emails",
    "webhook_deliveries",
    "idempotency_keys",
    "answers",
    "identity_data",
];

/// Once an erasure, a retention run or a purge of personal data has committed: takes the
/// old versions of the rows out of the database files ([`Database::scrub`]: a WAL
/// checkpoint on SQLite, `VACUUM` on PostgreSQL). The erasure itself is committed either
/// way, so a scrub that could not finish is logged, not answered as an error; the next
/// one takes what it left.
pub async fn after_erasure(db: &Database) {
    log_scrub(db.scrub(SCRUBBED_TABLES).await);
}

/// [`after_erasure`] for the CLI and the retention thread.
pub fn after_erasure_blocking(db: &Database) {
    log_scrub(db.scrub_blocking(SCRUBBED_TABLES));
}

fn log_scrub(outcome: Result<(), crate::db::DbError>) {
    if let Err(error) = outcome {
        tracing::warn!(%error, "erased data may remain in the database files until the next scrub");
    }
}

/// Personal data out of the registration, its answers to the event's questions, its
/// identity data (docs/identity-data.md), the
/// outbox, the webhook deliveries and the answers kept for retried requests (those
/// naming the registration, and those holding its address); false when it was gone. Webhook receivers are told
/// (`registration.erased`, with `reason`), so that they can forget the person too.
fn forget(
    conn: &mut DbConnection,
    event: &EventRow,
    registration: &RegistrationRow,
    reason: &str,
    now: NaiveDateTime,
) -> Result<bool, DomainError> {
    let id = registration.id.as_str();
    let anonymised = registrations::anonymise(conn, id, now)?;
    outbox::forget_registration(conn, id, &registrations::erased_email(id))?;
    webhook_deliveries::forget_registration(conn, id)?;
    idempotency::forget_registration(conn, id)?;
    // Answers to attempts to register the address again hold it without the id.
    idempotency::forget_address(conn, &registration.email_normalized)?;
    crate::store::questions::forget_registration(conn, id)?;
    crate::store::identity::forget_registration(conn, id)?;
    if anonymised {
        let data = json!({ "reason": reason });
        webhooks::record(conn, event, EventType::RegistrationErased, Some(id), data, now)?;
    }
    Ok(anonymised)
}

/// Retention: anonymises up to `limit` registrations of events whose last day is more
/// than `after_days` days before `now` (UTC), keeping their status and seats. Returns
/// how many it anonymised; the caller repeats until that is zero, so that each
/// transaction stays short.
pub fn anonymise_ended_events(
    conn: &mut DbConnection,
    after_days: u32,
    now: NaiveDateTime,
    limit: i64,
) -> Result<usize, DomainError> {
    let cutoff = now.date() - chrono::Days::new(u64::from(after_days));
    let ended = events::ended_before(conn, cutoff)?;
    if ended.is_empty() {
        return Ok(0);
    }
    let mut anonymised = Vec::new();
    let mut ended_events: Vec<EventRow> = Vec::new();
    for registration in registrations::not_erased(conn, &ended, limit)? {
        if !ended_events.iter().any(|e| e.id == registration.event_id) {
            ended_events.push(events::find(conn, &registration.event_id)?);
        }
        let event = ended_events
            .iter()
            .find(|e| e.id == registration.event_id)
            .expect("loaded above");
        if forget(conn, event, &registration, "retention", now)? {
            anonymised.push(registration.event_id);
        }
    }
    for event_id in &ended {
        let count = anonymised.iter().filter(|id| *id == event_id).count();
        if count > 0 {
            let entry = AuditEntry {
                event_id: Some(event_id),
                actor: "retention",
                action: "anonymise",
                subject: None,
                before: None,
                after: Some(json!({ "registrations": count, "after_days": after_days })),
            };
            audit::record(conn, entry, now)?;
        }
    }
    Ok(anonymised.len())
}
