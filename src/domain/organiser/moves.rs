//! Moving a person into a visit, or out of every visit, by an organiser's hand.

use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

use super::{find_registration, find_visit, slug_of};
use crate::db::DbConnection;
use crate::domain::audit::{self, AuditEntry};
use crate::domain::error::DomainError;
use crate::domain::event_rules::{find_event_with_visits, lock_for_seat_changes};
use crate::domain::input::Fields;
use crate::domain::notify::{self, Notice};
use crate::domain::view::{registration_view, RegistrationView};
use crate::domain::{offers, seats};
use crate::mail::content::{EmailKind, SeatReason};
use crate::store::registrations;
use crate::store::registrations::RegistrationStatus::{Cancelled, Confirmed};
use crate::store::site_visits;

/// The target of a move, from `{site_visit: slug | null}`. The key must be present
/// (null, or a blank form value, removes the seat), so that a misspelt key never takes
/// a seat away.
pub fn parse_move_target(body: Map<String, Value>) -> Result<Option<String>, DomainError> {
    let mut fields = Fields::new(body);
    if !fields.contains("site_visit") {
        fields.error(
            "site_visit",
            "is required: a site-visit slug, or null to remove the seat",
        );
    }
    let target = fields.optional_text("site_visit", 64);
    fields.finish(|| Some(target))
}

/// Moves a registration into `target` (a visit slug) or out of every visit (`None`).
/// Capacity is absolute: a full visit is 409, frozen or not. The seat left behind is
/// refilled at once; the person is no longer moved automatically (an organiser decided).
pub fn move_participant(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    registration_id: &str,
    target: Option<&str>,
    now: NaiveDateTime,
) -> Result<RegistrationView, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    lock_for_seat_changes(conn, &event)?;
    let registration = find_registration(conn, &event, registration_id)?;
    let target = match target {
        Some(slug) => Some(find_visit(&visits, slug).map_err(|_| {
            DomainError::invalid(
                "site_visit",
                format!("`{slug}` is not a site visit of this event"),
            )
        })?),
        None => None,
    };
    let id = registration.id.as_str();
    if !registrations::change_status(conn, id, Confirmed, Confirmed, now)? {
        let current = registrations::find(conn, id)?.map(|r| r.status);
        return Err(if current == Some(Cancelled) {
            DomainError::RegistrationClosed("this registration is cancelled".into())
        } else {
            DomainError::CapacityExceeded("the person is on the event's waitlist: the event is full".into())
        });
    }
    // Before any refill, so that the seat this person leaves does not come straight back.
    registrations::set_auto_seat(conn, id, false)?;
    // An open offer ends with the organiser's decision; its seat is refilled after the
    // move (it may be the very seat the person is moved into).
    let offered = offers::give_up(conn, id)?;
    let held = registrations::seat(conn, id)?;
    let mut changes = Vec::new();
    if held.as_deref() != target.as_ref().map(|v| v.id.as_str()) {
        match (&target, &held) {
            (Some(visit), _) if !site_visits::try_take_seat(conn, &visit.id, false)? => {
                return Err(DomainError::CapacityExceeded(format!(
                    "{} is full ({} of {} seats taken)",
                    visit.name, visit.assigned, visit.capacity
                )));
            }
            (Some(visit), Some(from)) => {
                seats::move_to_taken_seat(conn, id, from, &visit.id, now, &mut changes)?
            }
            (Some(visit), None) => registrations::insert_seat(conn, id, &visit.id, now)?,
            (None, Some(_)) => {
                seats::release_seat(conn, id, now, &mut changes)?;
            }
            (None, None) => {}
        }
        let notice = Notice {
            kind: EmailKind::SeatChanged,
            reason: Some(if target.is_some() {
                SeatReason::Moved
            } else {
                SeatReason::Released
            }),
            previous_visit: held.as_deref(),
            ended_offer: None,
            seat_changed: true,
        };
        notify::queue_for(conn, &event, &visits, id, notice, now)?;
        notify::side_effects(conn, &event, &visits, &changes, &[], Some(id), now)?;
    }
    if let Some(visit) = offered {
        let mut changes = Vec::new();
        seats::refill(conn, vec![visit], now, &mut changes)?;
        notify::side_effects(conn, &event, &visits, &changes, &[], Some(id), now)?;
    }
    let entry = AuditEntry {
        event_id: Some(&event.id),
        actor,
        action: "move",
        subject: Some(id),
        before: Some(json!({ "site_visit": slug_of(&visits, held.as_deref()) })),
        after: Some(json!({ "site_visit": target.as_ref().map(|v| v.slug.clone()) })),
    };
    audit::record(conn, entry, now)?;
    let registration = find_registration(conn, &event, id)?;
    registration_view(conn, &event, &visits, &registration)
}
