//! Who waits, and where: the visits' waitlists (who waits is defined once, by the
//! `visit_waitlist` view; the order of those holding no seat is their stored queue,
//! `store::queues`), and the event-wide waitlist of an event whose own capacity is
//! reached (a stored queue too).
//!
//! `waiting_counts` (how many wait per visit, counted from the view) is a reference
//! implementation behind the `reference` feature: the product reads those numbers from
//! the maintained counters (`store::counts`), the tests check the counters against it.

use std::collections::HashSet;

#[cfg(feature = "reference")]
use diesel::dsl::count_star;
use diesel::dsl::not;
use diesel::prelude::*;

use super::{Backend, RegistrationRow, CONFIRMED, WAITLISTED};
use crate::db::schema::{registrations, visit_upgrades, visit_waitlist};
use crate::db::DbConnection;
use crate::store::queues;

/// The people waiting for `visit_id` who would move up from a lower-ranked seat, in
/// registration order (the `visit_upgrades` view, `visit_waitlist`'s `upgrading` branch,
/// read alone; the people holding no seat are in the visit's stored queue).
fn upgrades_for(visit_id: &str) -> visit_upgrades::BoxedQuery<'_, Backend> {
    visit_upgrades::table
        .filter(visit_upgrades::site_visit_id.eq(visit_id))
        .order((visit_upgrades::created_at, visit_upgrades::registration_id))
        .into_boxed()
}

/// The people waiting for `visit_id` in the order a free seat goes to them (invariant
/// 4): the first `limit` of its queue (those holding no seat), then (when `upgrades`)
/// of those who would move up from a lower-ranked seat.
pub fn waiting_for(
    conn: &mut DbConnection,
    visit_id: &str,
    upgrades: bool,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let mut waiting = queues::first(conn, visit_id, limit)?;
    if upgrades {
        waiting.extend(
            upgrades_for(visit_id)
                .select(visit_upgrades::registration_id)
                .limit(limit)
                .load::<String>(conn)?,
        );
    }
    Ok(waiting)
}

/// `limit` of those who would move up to `visit_id` from a lower-ranked seat, from the
/// `offset + 1`th on, in their order (after the visit's queue).
pub fn upgrades_page(
    conn: &mut DbConnection,
    visit_id: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<String>> {
    upgrades_for(visit_id)
        .select(visit_upgrades::registration_id)
        .limit(limit)
        .offset(offset)
        .load(conn)
}

/// Those of `ids` who would move up to `visit_id` from a lower-ranked seat, in order.
pub fn upgrades_among(conn: &mut DbConnection, visit_id: &str, ids: &[String]) -> QueryResult<Vec<String>> {
    if ids.len() > 4_096 {
        // Too many to bind in one statement: all of them, kept here.
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let all = upgrades_page(conn, visit_id, 0, i64::MAX)?;
        return Ok(all
            .into_iter()
            .filter(|id| wanted.contains(id.as_str()))
            .collect());
    }
    upgrades_for(visit_id)
        .filter(visit_upgrades::registration_id.eq_any(ids))
        .select(visit_upgrades::registration_id)
        .load(conn)
}

/// The next person a free seat of `visit_id` goes to: the first of its queue, else the
/// earliest who would move up.
pub fn next_waiting(conn: &mut DbConnection, visit_id: &str) -> QueryResult<Option<String>> {
    if let Some(first) = queues::first(conn, visit_id, 1)?.pop() {
        return Ok(Some(first));
    }
    upgrades_for(visit_id)
        .select(visit_upgrades::registration_id)
        .first(conn)
        .optional()
}

/// Makes the stored queues a registration is in equal to what the definition says it
/// waits for: the visits of the `visit_waitlist` view where it holds no seat, and the
/// event's own queue while its status is `waitlisted`. It leaves the queues it no
/// longer waits for (everyone behind moves up) and joins the new ones at the end; a
/// queue it stays in keeps its place. Every write that can change what a person waits
/// for calls it (the registration insert joins its queues itself); the caller holds
/// the event's seat-change lock.
pub fn sync_queues(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    let Some((event_id, status)) = registrations::table
        .find(id)
        .select((registrations::event_id, registrations::status))
        .first::<(String, String)>(conn)
        .optional()?
    else {
        return Ok(());
    };
    let mut wanted: Vec<String> = if status == CONFIRMED {
        visit_waitlist::table
            .filter(visit_waitlist::registration_id.eq(id))
            .filter(not(visit_waitlist::upgrading))
            .select(visit_waitlist::site_visit_id)
            .load(conn)?
    } else {
        Vec::new()
    };
    if status == WAITLISTED {
        wanted.push(event_id);
    }
    let held = queues::queues_of(conn, id)?;
    let leaving: Vec<String> = held.iter().filter(|q| !wanted.contains(q)).cloned().collect();
    let mut joining: Vec<String> = wanted.into_iter().filter(|q| !held.contains(q)).collect();
    joining.sort_unstable();
    queues::leave(conn, id, &leaving)?;
    queues::join(conn, &joining, id)?;
    Ok(())
}

/// Whether automatic seat changes apply to the registration (an organiser's placement
/// turns them off; the person's own new ranking turns them on again).
pub fn set_auto_seat(conn: &mut DbConnection, id: &str, auto_seat: bool) -> QueryResult<()> {
    super::updates::SetAutoSeat { id, auto_seat }.execute(conn)?;
    sync_queues(conn, id)
}

/// 1-based place of an unseated registration in the visit's waitlist (the people
/// holding a seat come after everyone who holds none, so only those count); `None`
/// when it does not wait for the visit.
pub fn waitlist_position(
    conn: &mut DbConnection,
    visit_id: &str,
    registration_id: &str,
) -> QueryResult<Option<i64>> {
    queues::position(conn, visit_id, registration_id)
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

/// The first registration on the event-wide waitlist.
pub fn first_event_waitlisted(conn: &mut DbConnection, event_id: &str) -> QueryResult<Option<String>> {
    Ok(queues::first(conn, event_id, 1)?.pop())
}

/// 1-based place on the event-wide waitlist; `None` when not on it.
pub fn event_waitlist_position(
    conn: &mut DbConnection,
    registration: &RegistrationRow,
) -> QueryResult<Option<i64>> {
    queues::position(conn, &registration.event_id, &registration.id)
}
