//! Who waits, and where: the visits' waitlists, read from the `visit_waitlist` view
//! (who waits is defined there once), and the event-wide waitlist of an event whose
//! own capacity is reached.
//!
//! `waiting_counts` (how many wait per visit, counted from the view) is a reference
//! implementation behind the `reference` feature: the product reads those numbers from
//! the maintained counters (`store::counts`), the tests check the counters against it.

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::{Backend, RegistrationRow, WAITLISTED};
use crate::db::schema::{registrations, visit_waitlist};
use crate::db::DbConnection;

/// The people waiting for `visit_id`, in the order a free seat goes to them (invariant
/// 4): those holding no seat by registration time, then those holding a seat they
/// ranked lower. Who waits is defined once, by the `visit_waitlist` view.
fn waitlist_of(visit_id: &str) -> visit_waitlist::BoxedQuery<'_, Backend> {
    visit_waitlist::table
        .filter(visit_waitlist::site_visit_id.eq(visit_id))
        .order((
            visit_waitlist::upgrading,
            visit_waitlist::created_at,
            visit_waitlist::registration_id,
        ))
        .into_boxed()
}

/// The first `limit` people waiting for `visit_id` who hold no seat, then (when
/// `upgrades`) those who would move up from a lower-ranked seat.
pub fn waiting_for(
    conn: &mut DbConnection,
    visit_id: &str,
    upgrades: bool,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let mut query = waitlist_of(visit_id);
    if !upgrades {
        query = query.filter(visit_waitlist::upgrading.eq(false));
    }
    query
        .select(visit_waitlist::registration_id)
        .limit(limit)
        .load(conn)
}

/// The next person a free seat of `visit_id` goes to.
pub fn next_waiting(conn: &mut DbConnection, visit_id: &str) -> QueryResult<Option<String>> {
    waitlist_of(visit_id)
        .select(visit_waitlist::registration_id)
        .first(conn)
        .optional()
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
        .filter(visit_waitlist::site_visit_id.eq(visit_id))
        .filter(visit_waitlist::upgrading.eq(false))
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
