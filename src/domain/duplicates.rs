//! Invariant 13, registration tells strangers nothing: a registration whose address
//! already has an active registration for the event is answered exactly as a new one
//! would be — the placement a new registration would get at that moment, a fresh id and
//! a manage link that leads nowhere — while nothing is written but, at most once an hour,
//! an email to the address's owner with the link to the registration they have. The
//! one-registration-per-address invariant (2) is untouched: the second registration is
//! never written. Decisions and the channels that remain: docs/security.md.

use chrono::NaiveDateTime;

use super::access::ManageKey;
use super::booking::Registered;
use super::error::DomainError;
use super::event_rules::seats_at_once;
use super::notify;
use super::registration::NewRegistration;
use super::view::{view_of, Known};
use crate::db::DbConnection;
use crate::mail::content::EmailKind;
use crate::store::events::EventRow;
use crate::store::registrations::RegistrationStatus::{Confirmed, Waitlisted};
use crate::store::registrations::{NewRegistrationRow, RegistrationRow, CONFIRMED};
use crate::store::site_visits::SiteVisitRow;
use crate::store::{outbox, queues};

/// At most one "someone registered your address again" email per registration in this
/// many minutes, so that the API cannot be used to fill someone's inbox.
pub const ATTEMPT_EMAIL_EVERY_MINUTES: i64 = 60;

/// The answer to a registration whose address already has the active registration
/// `existing` for the event, in the unit of work of
/// [`super::booking::register_participant`]: the owner is told by email (at most once an
/// hour), and the caller gets what a new registration would have been told.
#[allow(clippy::too_many_arguments)]
pub(super) fn answer(
    conn: &mut DbConnection,
    key: &ManageKey,
    event: &EventRow,
    visits: &[SiteVisitRow],
    existing: &RegistrationRow,
    input: &NewRegistration,
    ranked: &[String],
    now: NaiveDateTime,
) -> Result<Registered, DomainError> {
    let kind = EmailKind::RegistrationAttempt;
    let since = now - chrono::Duration::minutes(ATTEMPT_EMAIL_EVERY_MINUTES);
    if !outbox::queued_since(conn, &existing.id, kind.as_str(), since)? {
        notify::queue_attempt_email(conn, event, existing, now)?;
    }
    would_be(conn, key, event, visits, input, ranked, now)
}

/// What a new registration with `input` would have been told at this moment, without
/// writing it: seated in the best-ranked visit with room (events that seat at once),
/// otherwise last in its first choice's queue; on the event's waiting list, last, when
/// the event is full. A fresh id, whose manage token hashes to no stored one.
fn would_be(
    conn: &mut DbConnection,
    key: &ManageKey,
    event: &EventRow,
    visits: &[SiteVisitRow],
    input: &NewRegistration,
    ranked: &[String],
    now: NaiveDateTime,
) -> Result<Registered, DomainError> {
    let id = uuid::Uuid::now_v7().to_string();
    let manage_token = key.token_for(&id);
    let email_normalized = input.email.normalized();
    let confirmed = event.capacity.is_none_or(|capacity| event.confirmed < capacity);
    let row = NewRegistrationRow {
        id: &id,
        event_id: &event.id,
        first_name: &input.first_name,
        last_name: &input.last_name,
        email: input.email.as_str(),
        email_normalized: &email_normalized,
        organisation: &input.organisation,
        country: input.country.as_str(),
        job_title: input.job_title.as_deref(),
        dietary: input.dietary.as_deref(),
        status: CONFIRMED,
        manage_token_hash: "",
        consent_at: now,
        created_at: now,
        updated_at: now,
        language: input.language.code(),
        search_text: "",
        checkin_code_hash: "",
    };
    let registration = RegistrationRow {
        status: if confirmed { Confirmed } else { Waitlisted },
        ..row.to_owned_row()
    };
    let has_room = |visit_id: &String| {
        visits
            .iter()
            .any(|v| &v.id == visit_id && v.assigned < v.capacity && !v.frozen)
    };
    let seat = (confirmed && seats_at_once(event))
        .then(|| ranked.iter().find(|id| has_room(id)).cloned())
        .flatten();
    let position = match (confirmed && seats_at_once(event), &seat, ranked.first()) {
        (true, None, Some(first)) => Some(queues::length(conn, first)? + 1),
        _ => None,
    };
    let mut view = view_of(
        conn,
        event,
        visits,
        &registration,
        ranked,
        seat.as_deref(),
        Known::New { position },
    )?;
    if !confirmed {
        // The event's waiting list is the queue named by the event's id.
        view.waitlist_position = Some(queues::length(conn, &event.id)? + 1);
    }
    Ok(Registered {
        view,
        manage_token,
        duplicate: true,
    })
}
