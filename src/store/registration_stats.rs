//! Aggregate reads over an event's registrations for the organisers' overview: how many
//! registered in each hour, one grouped query, so the overview costs the same whatever
//! the number of people. Kept apart from `store::registrations`, whose rows and writes they do not
//! touch.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::registrations::CANCELLED;
use crate::db::DbConnection;

#[derive(QueryableByName)]
struct HourCount {
    #[diesel(sql_type = Timestamp)]
    hour: NaiveDateTime,
    #[diesel(sql_type = BigInt)]
    registered: i64,
}

/// Active (not cancelled) registrations of the event per UTC hour of registration,
/// earliest first. Hours, not days: the caller turns them into days of the event's time
/// zone, which SQL cannot do alike on both backends (exact for every zone whose offset
/// is a whole number of hours; at most 24 rows a day of registration).
pub fn registered_by_hour(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(NaiveDateTime, i64)>> {
    let rows: Vec<HourCount> = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(
            "SELECT date_trunc('hour', created_at) AS hour, COUNT(*) AS registered \
             FROM registrations WHERE event_id = $1 AND status <> $2 GROUP BY 1 ORDER BY 1",
        )
        .bind::<Text, _>(event_id)
        .bind::<Text, _>(CANCELLED)
        .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "SELECT strftime('%Y-%m-%d %H:00:00', created_at) AS hour, COUNT(*) AS registered \
             FROM registrations WHERE event_id = ? AND status <> ? GROUP BY 1 ORDER BY 1",
        )
        .bind::<Text, _>(event_id)
        .bind::<Text, _>(CANCELLED)
        .load(lite)?,
    };
    Ok(rows.into_iter().map(|r| (r.hour, r.registered)).collect())
}
