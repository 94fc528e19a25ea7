//! The organisers' lists and reads of many registrations at once: the filtered, paged
//! list, rosters, reads by id list (in slices small enough to bind), and the confirmed
//! people of an event in registration order.

use chrono::NaiveDateTime;
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::{Backend, RegistrationRow, RegistrationStatus, CONFIRMED};
use crate::db::schema::{registration_preferences, registrations, seat_assignments};
use crate::db::DbConnection;

/// What an organiser's list can be narrowed to.
#[derive(Clone, Debug, Default)]
pub struct RegistrationFilter {
    pub status: Option<RegistrationStatus>,
    pub country: Option<String>,
    /// Registrations holding a seat in this visit.
    pub site_visit_id: Option<String>,
    /// Part of the stored `search_text` (names, organisation, email), already folded by
    /// `domain::search::fold`: that is what makes it ignore letter case and accents.
    pub search: Option<String>,
    /// Only confirmed registrations holding no seat.
    pub without_seat: bool,
}

fn filtered<'a>(event_id: &'a str, filter: &'a RegistrationFilter) -> registrations::BoxedQuery<'a, Backend> {
    let mut query = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(registrations::status.eq(status.as_str()));
    }
    if let Some(country) = &filter.country {
        query = query.filter(registrations::country.eq(country));
    }
    if let Some(visit) = &filter.site_visit_id {
        // From the visit's seats (an index range), not a look-up per registration of
        // the event: 3,000 seats of 10,000 registrations read in about half the time.
        query = query.filter(
            registrations::id.eq_any(
                seat_assignments::table
                    .filter(seat_assignments::site_visit_id.eq(visit))
                    .select(seat_assignments::registration_id),
            ),
        );
    }
    if filter.without_seat {
        query = query
            .filter(registrations::status.eq(CONFIRMED))
            .filter(not(exists(
                seat_assignments::table.filter(seat_assignments::registration_id.eq(registrations::id)),
            )));
    }
    if let Some(search) = &filter.search {
        let escaped = search
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        query = query.filter(registrations::search_text.like(pattern).escape('\\'));
    }
    query
}

/// A page of the event's registrations in registration order, and how many match.
pub fn list_for_event(
    conn: &mut DbConnection,
    event_id: &str,
    filter: &RegistrationFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<RegistrationRow>, i64)> {
    let total = filtered(event_id, filter).count().get_result(conn)?;
    let page = filtered(event_id, filter)
        .order((registrations::created_at, registrations::id))
        .limit(limit)
        .offset(offset)
        .select(RegistrationRow::as_select())
        .load(conn)?;
    Ok((page, total))
}

/// What a roster page filters and sorts on: a few columns of a registration, so that a
/// roster of thousands is read without building an entry for each person.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = registrations)]
pub struct RosterKey {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub country: String,
    pub created_at: NaiveDateTime,
}

/// The keys of the event's registrations that `filter` keeps, in registration order.
pub fn keys(
    conn: &mut DbConnection,
    event_id: &str,
    filter: &RegistrationFilter,
) -> QueryResult<Vec<RosterKey>> {
    filtered(event_id, filter)
        .order((registrations::created_at, registrations::id))
        .select(RosterKey::as_select())
        .load(conn)
}

/// The keys of those among `ids` that `filter` keeps, in no particular order.
pub fn keys_among(
    conn: &mut DbConnection,
    event_id: &str,
    filter: &RegistrationFilter,
    ids: &[String],
) -> QueryResult<Vec<RosterKey>> {
    in_slices(conn, ids, |conn, ids| {
        filtered(event_id, filter)
            .filter(registrations::id.eq_any(ids))
            .select(RosterKey::as_select())
            .load(conn)
    })
}

/// The keys of `limit` people seated in `visit_id` from the `offset + 1`th on, in
/// registration order.
pub fn seated_keys(
    conn: &mut DbConnection,
    visit_id: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<RosterKey>> {
    seat_assignments::table
        .inner_join(registrations::table)
        .filter(seat_assignments::site_visit_id.eq(visit_id))
        .order((registrations::created_at, registrations::id))
        .select(RosterKey::as_select())
        .limit(limit)
        .offset(offset)
        .load(conn)
}

/// How many of the event's registrations `filter` keeps.
pub fn count(conn: &mut DbConnection, event_id: &str, filter: &RegistrationFilter) -> QueryResult<i64> {
    filtered(event_id, filter).count().get_result(conn)
}

/// Ids bound in one `IN (…)` list at most: SQLite refuses a statement with more than
/// 32,766 bound values, and an event can have more registrations than that.
const IDS_PER_STATEMENT: usize = 10_000;

/// `query` run for each slice of `ids` small enough to bind, the results in slice order.
fn in_slices<T>(
    conn: &mut DbConnection,
    ids: &[String],
    mut query: impl FnMut(&mut DbConnection, &[String]) -> QueryResult<Vec<T>>,
) -> QueryResult<Vec<T>> {
    let mut all = Vec::new();
    for slice in ids.chunks(IDS_PER_STATEMENT) {
        all.extend(query(conn, slice)?);
    }
    Ok(all)
}

pub fn find_many(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<RegistrationRow>> {
    in_slices(conn, ids, |conn, ids| {
        registrations::table
            .filter(registrations::id.eq_any(ids))
            .select(RegistrationRow::as_select())
            .load(conn)
    })
}

/// Seats of these registrations: (registration id, visit id).
pub fn seats_of(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    in_slices(conn, ids, |conn, ids| {
        seat_assignments::table
            .filter(seat_assignments::registration_id.eq_any(ids))
            .select((seat_assignments::registration_id, seat_assignments::site_visit_id))
            .load(conn)
    })
}

/// Rankings of these registrations: (registration id, rank, visit id), each person's
/// ranks in order.
pub fn preferences_of(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, i32, String)>> {
    in_slices(conn, ids, |conn, ids| {
        registration_preferences::table
            .filter(registration_preferences::registration_id.eq_any(ids))
            .order((
                registration_preferences::registration_id,
                registration_preferences::rank,
            ))
            .select((
                registration_preferences::registration_id,
                registration_preferences::rank,
                registration_preferences::site_visit_id,
            ))
            .load(conn)
    })
}

/// Everyone holding a seat in the visit, in registration order, with when they got it.
pub fn seated_in(
    conn: &mut DbConnection,
    visit_id: &str,
) -> QueryResult<Vec<(RegistrationRow, NaiveDateTime)>> {
    seat_assignments::table
        .inner_join(registrations::table)
        .filter(seat_assignments::site_visit_id.eq(visit_id))
        .order((registrations::created_at, registrations::id))
        .select((RegistrationRow::as_select(), seat_assignments::assigned_at))
        .load(conn)
}

/// Every active confirmed registration of the event, in registration order.
pub fn confirmed_in_order(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<RegistrationRow>> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(CONFIRMED))
        .order((registrations::created_at, registrations::id))
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// Every active registration (confirmed or on the event's waitlist) of the event among
/// `ids`, in registration order.
pub fn active_in_order(
    conn: &mut DbConnection,
    event_id: &str,
    ids: &[String],
) -> QueryResult<Vec<RegistrationRow>> {
    let mut rows: Vec<RegistrationRow> = find_many(conn, ids)?
        .into_iter()
        .filter(|row| row.event_id == event_id && row.status != RegistrationStatus::Cancelled)
        .collect();
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}
