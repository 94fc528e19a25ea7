//! Who waits, and where: the visits' waitlists, read from the `visit_waitlist` view
//! (who waits is defined there once), and the event-wide waitlist of an event whose
//! own capacity is reached.
//!
//! `waiting_counts` (how many wait per visit, counted from the view) is a reference
//! implementation behind the `reference` feature: the product reads those numbers from
//! the maintained counters (`store::counts`), the tests check the counters against it.

use diesel::dsl::{count_star, not};
use diesel::prelude::*;

use super::{Backend, RegistrationRow, WAITLISTED};
use crate::db::schema::{registrations, visit_waitlist};
use crate::db::DbConnection;

/// The people waiting for `visit_id` who hold no seat (`upgrading` false) or who would
/// move up from a lower-ranked seat (true), in registration order. Who waits is defined
/// once, by the `visit_waitlist` view; its two branches are one per kind, and naming
/// the kind as a constant (not a bound value) lets the planner read only that branch.
fn waitlist_of(visit_id: &str, upgrading: bool) -> visit_waitlist::BoxedQuery<'_, Backend> {
    let query = visit_waitlist::table
        .filter(visit_waitlist::site_visit_id.eq(visit_id))
        .order((visit_waitlist::created_at, visit_waitlist::registration_id))
        .into_boxed();
    if upgrading {
        query.filter(visit_waitlist::upgrading)
    } else {
        query.filter(not(visit_waitlist::upgrading))
    }
}

/// The people waiting for `visit_id` in the order a free seat goes to them (invariant
/// 4): the first `limit` of those holding no seat, then (when `upgrades`) of those who
/// would move up from a lower-ranked seat.
pub fn waiting_for(
    conn: &mut DbConnection,
    visit_id: &str,
    upgrades: bool,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let mut waiting: Vec<String> = waitlist_of(visit_id, false)
        .select(visit_waitlist::registration_id)
        .limit(limit)
        .load(conn)?;
    if upgrades {
        waiting.extend(
            waitlist_of(visit_id, true)
                .select(visit_waitlist::registration_id)
                .limit(limit)
                .load::<String>(conn)?,
        );
    }
    Ok(waiting)
}

/// The next person a free seat of `visit_id` goes to: the earliest holding no seat,
/// else the earliest who would move up.
pub fn next_waiting(conn: &mut DbConnection, visit_id: &str) -> QueryResult<Option<String>> {
    for upgrading in [false, true] {
        let next = waitlist_of(visit_id, upgrading)
            .select(visit_waitlist::registration_id)
            .first(conn)
            .optional()?;
        if next.is_some() {
            return Ok(next);
        }
    }
    Ok(None)
}

/// Whether automatic seat changes apply to the registration (an organiser's placement
/// turns them off; the person's own new ranking turns them on again).
pub fn set_auto_seat(conn: &mut DbConnection, id: &str, auto_seat: bool) -> QueryResult<()> {
    diesel::update(registrations::table.find(id))
        .set(registrations::auto_seat.eq(auto_seat))
        .execute(conn)?;
    Ok(())
}

/// 1-based place of an unseated registration in the visit's waitlist (the people
/// holding a seat come after everyone who holds none, so only those count).
pub fn waitlist_position(
    conn: &mut DbConnection,
    visit_id: &str,
    registration: &RegistrationRow,
) -> QueryResult<i64> {
    let ahead: i64 = visit_waitlist::table
        // The event narrows the rows before the visit does: with it the planner walks
        // the event's registrations in order even in a plan made for any visit.
        .filter(visit_waitlist::event_id.eq(&registration.event_id))
        .filter(visit_waitlist::site_visit_id.eq(visit_id))
        .filter(not(visit_waitlist::upgrading))
        .filter(
            visit_waitlist::created_at
                .lt(registration.created_at)
                .or(visit_waitlist::created_at
                    .eq(registration.created_at)
                    .and(visit_waitlist::registration_id.lt(&registration.id))),
        )
        .select(count_star())
        .first(conn)?;
    Ok(ahead + 1)
}

/// How many wait for each visit of the event that anyone waits for.
#[cfg(feature = "reference")]
pub fn waiting_counts(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(String, i64)>> {
    visit_waitlist::table
        .filter(visit_waitlist::event_id.eq(event_id))
        .group_by(visit_waitlist::site_visit_id)
        .select((visit_waitlist::site_visit_id, count_star()))
        .load(conn)
}

/// The earliest registration on the event-wide waitlist.
pub fn first_event_waitlisted(conn: &mut DbConnection, event_id: &str) -> QueryResult<Option<String>> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(WAITLISTED))
        .order((registrations::created_at, registrations::id))
        .select(registrations::id)
        .first(conn)
        .optional()
}

/// 1-based place on the event-wide waitlist.
pub fn event_waitlist_position(conn: &mut DbConnection, registration: &RegistrationRow) -> QueryResult<i64> {
    let ahead: i64 = registrations::table
        .filter(registrations::event_id.eq(&registration.event_id))
        .filter(registrations::status.eq(WAITLISTED))
        .filter(
            registrations::created_at
                .lt(registration.created_at)
                .or(registrations::created_at
                    .eq(registration.created_at)
                    .and(registrations::id.lt(&registration.id))),
        )
        .select(count_star())
        .first(conn)?;
    Ok(ahead + 1)
}
