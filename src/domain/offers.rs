//! Offers with a claim window (docs/decisions.md, "Offers"). When an event turns them on
//! (`offer_window_hours`), a freed seat is held for the first person in line instead of
//! given (`seats::refill` makes the offer): the seat counts against capacity (rule 10)
//! until the person accepts it (seated), declines it or lets it expire — then it is
//! offered to the next person in the same transaction. Declining or letting an offer
//! expire takes that visit off the person's ranking (they said they would not come, or
//! did not answer); they keep their seat, if any, and wait for the rest.
//!
//! Every change here takes the event's seat-change lock first, like any other seat
//! change, and ends the offer with a conditional delete: however many requests and
//! workers race for one offer, exactly one ends it.

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, AuditEntry};
use super::error::DomainError;
use super::event_rules::{event_timezone, find_event_for_seat_changes, local_time};
use super::notify::{self, Notice};
use super::seats::{self, SeatChange};
use crate::db::DbConnection;
use crate::mail::content::{EmailKind, SeatReason};
use crate::store::events::EventRow;
use crate::store::offers::{self, OfferRow};
use crate::store::registrations::{self, RegistrationRow, RegistrationStatus};
use crate::store::site_visits::{self, SiteVisitRow};

/// An open offer as its holder and the organisers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferView {
    /// The visit whose seat is held.
    pub site_visit: String,
    pub name: String,
    pub offered_at: DateTime<FixedOffset>,
    /// Accept before this, or the seat goes to the next person.
    pub expires_at: DateTime<FixedOffset>,
}

pub fn offer_view(event: &EventRow, visits: &[SiteVisitRow], offer: &OfferRow) -> Option<OfferView> {
    let tz = event_timezone(event);
    let visit = visits.iter().find(|v| v.id == offer.site_visit_id)?;
    Some(OfferView {
        site_visit: visit.slug.clone(),
        name: visit.name.clone(),
        offered_at: local_time(tz, offer.offered_at),
        expires_at: local_time(tz, offer.expires_at),
    })
}

/// Ends the person's open offer, gives its seat back and makes them wait again for what
/// they still rank; returns the visit, whose free seat the caller refills (after its own
/// change, so that a seat the person had been offered can be theirs by another way).
pub fn give_up(conn: &mut DbConnection, registration_id: &str) -> Result<Option<String>, DomainError> {
    let Some(offer) = offers::of(conn, registration_id)? else {
        return Ok(None);
    };
    if !offers::end(conn, registration_id, &offer.site_visit_id)? {
        return Ok(None);
    }
    site_visits::give_back_seat(conn, &offer.site_visit_id)?;
    registrations::sync_queues(conn, registration_id)?;
    Ok(Some(offer.site_visit_id))
}

/// Withdraws the person's open offer when they would no longer take it — cancelled,
/// placed by an organiser, the visit no longer ranked above their seat — and offers the
/// seat to the next person. Every change of a person's status, ranking or seat by
/// someone other than the offer's own flow calls it.
pub fn withdraw_unwanted(
    conn: &mut DbConnection,
    registration_id: &str,
    now: NaiveDateTime,
    changes: &mut Vec<SeatChange>,
) -> Result<(), DomainError> {
    let Some(offer) = offers::of(conn, registration_id)? else {
        return Ok(());
    };
    let wanted = match registrations::find(conn, registration_id)? {
        Some(r) if r.status == RegistrationStatus::Confirmed && r.auto_seat => {
            let ranked = registrations::preferences(conn, registration_id)?;
            let held = registrations::seat(conn, registration_id)?;
            seats::wants_seat(&ranked, held.as_deref(), &offer.site_visit_id)
        }
        _ => false,
    };
    if !wanted {
        if let Some(visit) = give_up(conn, registration_id)? {
            seats::refill(conn, vec![visit], now, changes)?;
        }
    }
    Ok(())
}

/// The open offer of `registration`, locked for a change: the event's seat-change lock
/// is taken first. Answers 409 when there is none or it has expired.
fn open_offer(
    conn: &mut DbConnection,
    registration: &RegistrationRow,
    now: NaiveDateTime,
) -> Result<(EventRow, OfferRow), DomainError> {
    let event = find_event_for_seat_changes(conn, &registration.event_id)?;
    let offer = offers::of(conn, &registration.id)?
        .ok_or_else(|| DomainError::NoOpenOffer("there is no open offer for this registration".into()))?;
    if offer.expires_at <= now {
        return Err(DomainError::NoOpenOffer(format!(
            "the offer expired at {}",
            local_time(event_timezone(&event), offer.expires_at).to_rfc3339()
        )));
    }
    Ok((event, offer))
}

/// The holder's answer to an offer: [`accept`] or [`decline`].
pub type Answer = fn(&mut DbConnection, &RegistrationRow, NaiveDateTime) -> Result<(), DomainError>;

/// Accepts the open offer: the held seat becomes the person's; a seat they held in a
/// visit ranked lower goes on to the next person.
pub fn accept(
    conn: &mut DbConnection,
    registration: &RegistrationRow,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let (event, offer) = open_offer(conn, registration, now)?;
    let id = registration.id.as_str();
    let visit = offer.site_visit_id.as_str();
    if !registrations::lock_confirmed(conn, id, now)? || !offers::end(conn, id, visit)? {
        return Err(DomainError::NoOpenOffer("the offer is no longer open".into()));
    }
    let mut changes = Vec::new();
    let held = registrations::seat(conn, id)?;
    match &held {
        // The held seat is already counted in the visit: it only changes hands.
        None => registrations::insert_seat(conn, id, visit, now)?,
        Some(old) => {
            registrations::move_seat(conn, id, visit, now)?;
            registrations::sync_queues(conn, id)?;
            site_visits::give_back_seat(conn, old)?;
            seats::refill(conn, vec![old.clone()], now, &mut changes)?;
        }
    }
    record(conn, &event, id, "offer_accepted", &offer, now)?;
    let visits = site_visits::list(conn, &event.id)?;
    let notice = Notice {
        kind: EmailKind::SeatChanged,
        reason: Some(SeatReason::OfferAccepted),
        previous_visit: held.as_deref(),
        ended_offer: None,
        seat_changed: true,
    };
    notify::queue_for(conn, &event, &visits, id, notice, now)?;
    notify::side_effects(conn, &event, &visits, &changes, &[], Some(id), now)
}

/// Declines the open offer: the seat is offered to the next person, and the visit
/// leaves the person's ranking.
pub fn decline(
    conn: &mut DbConnection,
    registration: &RegistrationRow,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let (event, offer) = open_offer(conn, registration, now)?;
    if !offers::end(conn, &registration.id, &offer.site_visit_id)? {
        return Err(DomainError::NoOpenOffer("the offer is no longer open".into()));
    }
    let visits = site_visits::list(conn, &event.id)?;
    let changes = pass_on(conn, &offer, now)?;
    record(conn, &event, &registration.id, "offer_declined", &offer, now)?;
    let notice = Notice {
        reason: Some(SeatReason::OfferDeclined),
        ended_offer: Some(&offer.site_visit_id),
        ..Notice::of(EmailKind::SeatChanged)
    };
    notify::queue_for(conn, &event, &visits, &registration.id, notice, now)?;
    notify::side_effects(conn, &event, &visits, &changes, &[], Some(&registration.id), now)
}

/// The seat of an ended offer goes back and on to the next person; the visit leaves the
/// ranking of the person who did not take it.
fn pass_on(
    conn: &mut DbConnection,
    offer: &OfferRow,
    now: NaiveDateTime,
) -> Result<Vec<SeatChange>, DomainError> {
    site_visits::give_back_seat(conn, &offer.site_visit_id)?;
    let mut ranked = registrations::preferences(conn, &offer.registration_id)?;
    ranked.retain(|v| *v != offer.site_visit_id);
    registrations::replace_preferences(conn, &offer.registration_id, &ranked)?;
    let mut changes = Vec::new();
    seats::refill(conn, vec![offer.site_visit_id.clone()], now, &mut changes)?;
    Ok(changes)
}

fn record(
    conn: &mut DbConnection,
    event: &EventRow,
    id: &str,
    action: &str,
    offer: &OfferRow,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let entry = AuditEntry {
        event_id: Some(&event.id),
        actor: if action == "offer_expired" {
            "system"
        } else {
            "participant"
        },
        action,
        subject: Some(id),
        before: Some(json!({
            "site_visit_id": offer.site_visit_id,
            "offered_at": offer.offered_at,
            "expires_at": offer.expires_at,
        })),
        after: None,
    };
    audit::record(conn, entry, now)
}

/// Expires up to `limit` offers whose deadline has passed by `now`, each in turn under
/// its event's lock; returns how many this call expired. Several workers may run it at
/// once: each offer is expired by exactly one of them (the conditional delete decides),
/// and the others skip it.
pub fn expire_due(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> Result<usize, DomainError> {
    let due = offers::due(conn, now, limit)?;
    let mut expired = 0;
    // Each event once: its seat-change lock, and its visits for the emails.
    let mut locked: Vec<(EventRow, Vec<SiteVisitRow>)> = Vec::new();
    for offer in due {
        let at = match locked.iter().position(|(e, _)| e.id == offer.event_id) {
            Some(at) => at,
            None => {
                let event = find_event_for_seat_changes(conn, &offer.event_id)?;
                let visits = site_visits::list(conn, &event.id)?;
                locked.push((event, visits));
                locked.len() - 1
            }
        };
        if !offers::end_expired(conn, &offer.registration_id, &offer.site_visit_id, now)? {
            continue; // another worker, the person or a change got there first
        }
        let (event, visits) = &locked[at];
        let changes = pass_on(conn, &offer, now)?;
        record(conn, event, &offer.registration_id, "offer_expired", &offer, now)?;
        let notice = Notice {
            reason: Some(SeatReason::OfferExpired),
            ended_offer: Some(&offer.site_visit_id),
            ..Notice::of(EmailKind::SeatChanged)
        };
        notify::queue_for(conn, event, visits, &offer.registration_id, notice, now)?;
        notify::side_effects(
            conn,
            event,
            visits,
            &changes,
            &[],
            Some(&offer.registration_id),
            now,
        )?;
        expired += 1;
    }
    Ok(expired)
}
