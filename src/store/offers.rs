//! Queries on `seat_offers`: the open offers (a seat held for a person until they accept
//! it, decline it or let it expire). Ending an offer is a conditional delete whose
//! affected-row count decides, so that however many workers or requests race for one
//! offer, exactly one ends it.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::schema::{events, registrations, seat_offers, site_visits};
use crate::db::DbConnection;

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = seat_offers)]
pub struct OfferRow {
    pub registration_id: String,
    pub event_id: String,
    pub site_visit_id: String,
    pub offered_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// What decides an offer's deadline for a visit: its start, and its event's window and
/// cut-off (hours).
#[derive(Clone, Debug)]
pub struct OfferTerms {
    pub event_id: String,
    pub starts_at: NaiveDateTime,
    pub window_hours: Option<i32>,
    pub cutoff_hours: i32,
}

pub fn terms(conn: &mut DbConnection, visit_id: &str) -> QueryResult<OfferTerms> {
    let (event_id, starts_at, window_hours, cutoff_hours) = site_visits::table
        .inner_join(events::table)
        .filter(site_visits::id.eq(visit_id))
        .select((
            site_visits::event_id,
            site_visits::starts_at,
            events::offer_window_hours,
            events::offer_cutoff_hours,
        ))
        .first(conn)?;
    Ok(OfferTerms {
        event_id,
        starts_at,
        window_hours,
        cutoff_hours,
    })
}

pub fn insert(conn: &mut DbConnection, offer: &OfferRow) -> QueryResult<()> {
    diesel::insert_into(seat_offers::table)
        .values(offer)
        .execute(conn)?;
    Ok(())
}

/// The person's open offer, if any.
pub fn of(conn: &mut DbConnection, registration_id: &str) -> QueryResult<Option<OfferRow>> {
    seat_offers::table
        .find(registration_id)
        .select(OfferRow::as_select())
        .first(conn)
        .optional()
}

/// Ends the person's offer for `visit_id`; true for the one caller that did.
pub fn end(conn: &mut DbConnection, registration_id: &str, visit_id: &str) -> QueryResult<bool> {
    let ended = diesel::delete(
        seat_offers::table
            .find(registration_id)
            .filter(seat_offers::site_visit_id.eq(visit_id)),
    )
    .execute(conn)?;
    Ok(ended == 1)
}

/// Ends the person's offer for `visit_id` if it has expired by `now`; true for the one
/// caller that did.
pub fn end_expired(
    conn: &mut DbConnection,
    registration_id: &str,
    visit_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let ended = diesel::delete(
        seat_offers::table
            .find(registration_id)
            .filter(seat_offers::site_visit_id.eq(visit_id))
            .filter(seat_offers::expires_at.le(now)),
    )
    .execute(conn)?;
    Ok(ended == 1)
}

/// Up to `limit` offers expired by `now`, the earliest deadline first.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<OfferRow>> {
    seat_offers::table
        .filter(seat_offers::expires_at.le(now))
        .order((seat_offers::expires_at, seat_offers::registration_id))
        .limit(limit)
        .select(OfferRow::as_select())
        .load(conn)
}

/// The event's open offers, by visit and in the order they were made.
pub fn of_event(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<OfferRow>> {
    seat_offers::table
        .filter(seat_offers::event_id.eq(event_id))
        .order((
            seat_offers::site_visit_id,
            seat_offers::offered_at,
            seat_offers::registration_id,
        ))
        .select(OfferRow::as_select())
        .load(conn)
}

/// Open offers per visit id.
pub fn count_by_visit(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(String, i64)>> {
    seat_offers::table
        .filter(seat_offers::event_id.eq(event_id))
        .group_by(seat_offers::site_visit_id)
        .select((seat_offers::site_visit_id, count_star()))
        .load(conn)
}

/// Open offers per country of the people holding them.
pub fn count_by_country(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(String, i64)>> {
    seat_offers::table
        .inner_join(registrations::table)
        .filter(seat_offers::event_id.eq(event_id))
        .group_by(registrations::country)
        .select((registrations::country, count_star()))
        .load(conn)
}
