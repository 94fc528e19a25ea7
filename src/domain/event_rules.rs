//! What a stored event means for the rules: finding it, its time zone, its
//! registration window and when seats are given.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use super::error::DomainError;
use super::event::AssignmentMode;
use crate::db::DbConnection;
use crate::store::events::{self, EventRow};
use crate::store::site_visits::{self, SiteVisitRow};

pub fn event_timezone(event: &EventRow) -> Tz {
    event.timezone.parse().unwrap_or(Tz::UTC)
}

/// A stored UTC time shown in the event's time zone, with its offset.
pub fn local_time(tz: Tz, utc: NaiveDateTime) -> DateTime<FixedOffset> {
    tz.from_utc_datetime(&utc).fixed_offset()
}

pub fn find_event(conn: &mut DbConnection, slug: &str) -> Result<EventRow, DomainError> {
    events::find_by_slug(conn, slug)?.ok_or(DomainError::NotFound("event"))
}

/// The event and its site visits, in one query.
pub fn find_event_with_visits(
    conn: &mut DbConnection,
    slug: &str,
) -> Result<(EventRow, Vec<SiteVisitRow>), DomainError> {
    site_visits::event_with_visits(conn, slug)?.ok_or(DomainError::NotFound("event"))
}

pub fn assignment_mode(event: &EventRow) -> AssignmentMode {
    AssignmentMode::parse(&event.assignment_mode).unwrap_or(AssignmentMode::FirstCome)
}

/// Seats are taken at registration (and freed seats refilled) in `first_come` events,
/// and in `preferences` events once an allocation has been applied (latecomers and freed
/// seats are then handled first come, first served).
pub fn seats_at_once(event: &EventRow) -> bool {
    assignment_mode(event) == AssignmentMode::FirstCome || event.allocated_at.is_some()
}

/// Refuses changes outside the registration window.
pub fn check_window(event: &EventRow, now: NaiveDateTime) -> Result<(), DomainError> {
    let tz = event_timezone(event);
    if let Some(opens) = event.registration_opens_at {
        if now < opens {
            return Err(DomainError::RegistrationClosed(format!(
                "registration opens at {}",
                local_time(tz, opens).to_rfc3339()
            )));
        }
    }
    if let Some(closes) = event.registration_closes_at {
        if now >= closes {
            return Err(DomainError::RegistrationClosed(format!(
                "registration closed at {}",
                local_time(tz, closes).to_rfc3339()
            )));
        }
    }
    Ok(())
}

/// Takes the event's seat-change lock. Every change that moves existing people's seats
/// (a cancellation, a new ranking, an organiser's move, a capacity or a freeze, the
/// allocation, an event file loaded again) takes it first, so that all of them take
/// their locks in one order — the event, then visits, then people — and no two of them
/// wait for each other in a circle (PostgreSQL would break such a deadlock by failing
/// one). Such changes of one event run one at a time. Every join of and departure from a
/// stored waitlist queue happens under it too, so that places follow the commit order. A
/// registration that gets a seat locks only the seat it claims (and, in an event with
/// its own capacity, the event row before it, in the same order); one that must wait
/// takes this lock before it joins the queues.
pub fn lock_for_seat_changes(conn: &mut DbConnection, event: &EventRow) -> Result<(), DomainError> {
    events::find_locked(conn, &event.id)?;
    Ok(())
}

/// The event by id with its seat-change lock taken (see [`lock_for_seat_changes`]), in
/// one query.
pub fn find_event_for_seat_changes(conn: &mut DbConnection, id: &str) -> Result<EventRow, DomainError> {
    Ok(events::find_locked(conn, id)?)
}
