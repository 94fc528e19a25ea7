//! Queries behind the admin exports: the attendee list a page at a time, in registration
//! order, and its length. The counts come from the maintained counters (`store::counts`).
//! The GROUP BY counts they replaced are in `from_rows`, behind the `reference`
//! feature: tests and benches check the counters against them; the product has no use
//! for them.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::registrations::{RegistrationRow, CANCELLED};
use crate::db::schema::registrations;
use crate::db::DbConnection;

/// Active registrations of the event.
pub fn count_active(conn: &mut DbConnection, event_id: &str) -> QueryResult<i64> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.ne(CANCELLED))
        .select(count_star())
        .first(conn)
}

/// Up to `limit` active registrations after `after` (a registration's `(created_at, id)`)
/// in registration order: keyset pagination, so that every page costs the same however
/// deep into the list it is.
pub fn active_page(
    conn: &mut DbConnection,
    event_id: &str,
    after: Option<(NaiveDateTime, &str)>,
    limit: i64,
) -> QueryResult<Vec<RegistrationRow>> {
    let mut query = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.ne(CANCELLED))
        .into_boxed();
    if let Some((created_at, id)) = after {
        // `created_at >= t` bounds the index range; the OR only skips the rows of the
        // same instant already read.
        query = query.filter(
            registrations::created_at.ge(created_at).and(
                registrations::created_at
                    .gt(created_at)
                    .or(registrations::id.gt(id.to_owned())),
            ),
        );
    }
    query
        .order((registrations::created_at, registrations::id))
        .limit(limit)
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// The export counts as GROUP BY queries over the registrations' rows (never a row per
/// person in memory, but seconds for a million people): the reference the counters are
/// tested against.
#[cfg(feature = "reference")]
pub mod from_rows {
    use diesel::connection::SimpleConnection;
    use diesel::dsl::{count_star, exists, not};
    use diesel::prelude::*;

    use crate::db::schema::{registration_preferences, registrations, seat_assignments, seat_offers};
    use crate::db::DbConnection;
    use crate::store::registrations::CANCELLED;

    /// Makes PostgreSQL plan every statement of the current transaction for its actual
    /// parameters. Prepared statements are cached, and after a few runs PostgreSQL may keep
    /// a generic plan shaped by the average event: with one huge event in the tables, a
    /// small event's counts then hash-join whole tables (measured: 0.86 s instead of a few
    /// milliseconds for 2,000 people next to a million). Nothing to do on SQLite.
    pub fn plan_for_actual_event(conn: &mut DbConnection) -> QueryResult<()> {
        match conn {
            DbConnection::Postgres(pg) => pg.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan"),
            DbConnection::Sqlite(_) => Ok(()),
        }
    }

    /// Active (not cancelled) registrations per country.
    pub fn registered_by_country(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(String, i64)>> {
        registrations::table
            .filter(registrations::event_id.eq(event_id))
            .filter(registrations::status.ne(CANCELLED))
            .group_by(registrations::country)
            .select((registrations::country, count_star()))
            .load(conn)
    }

    /// Seats held per (country, visit id). Only active confirmed registrations hold seats.
    pub fn seats_by_country(
        conn: &mut DbConnection,
        event_id: &str,
    ) -> QueryResult<Vec<(String, String, i64)>> {
        seat_assignments::table
            .inner_join(registrations::table)
            .filter(registrations::event_id.eq(event_id))
            .group_by((registrations::country, seat_assignments::site_visit_id))
            .select((
                registrations::country,
                seat_assignments::site_visit_id,
                count_star(),
            ))
            .load(conn)
    }

    /// Per country, active registrations without a seat that ranked at least one visit and
    /// still wait for one (an organiser who took someone out of every visit ends that).
    pub fn waiting_by_country(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(String, i64)>> {
        registrations::table
            .filter(registrations::event_id.eq(event_id))
            .filter(registrations::status.ne(CANCELLED))
            .filter(registrations::auto_seat.eq(true))
            .filter(not(exists(
                seat_assignments::table.filter(seat_assignments::registration_id.eq(registrations::id)),
            )))
            // Holding an offer, a person counts as offered, not waiting.
            .filter(not(exists(
                seat_offers::table.filter(seat_offers::registration_id.eq(registrations::id)),
            )))
            .filter(exists(registration_preferences::table.filter(
                registration_preferences::registration_id.eq(registrations::id),
            )))
            .group_by(registrations::country)
            .select((registrations::country, count_star()))
            .load(conn)
    }
}
