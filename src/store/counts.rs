//! The maintained attendee counters (`registration_counts`). Database triggers keep them
//! exact in the transaction of every change to a registration, its ranking or its seat
//! (migration `2024-11-07-000000_counts`); this module only reads them. An event has a
//! row per (country, visit) pair that ever had someone — on PostgreSQL up to eight, one
//! per shard, summed here — so a read costs O(countries × visits) whatever the number
//! of people.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::schema::registration_counts;
use crate::db::DbConnection;

/// `site_visit_id` of a country's own row.
pub const COUNTRY_ROW: &str = "";

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = registration_counts)]
pub struct CountRow {
    pub country: String,
    /// A visit id, or [`COUNTRY_ROW`].
    pub site_visit_id: String,
    /// Country row: active registrations.
    pub registered: i64,
    /// Visit row: seats the country's people hold in the visit.
    pub assigned: i64,
    /// Country row: active people without a seat still waiting for a visit. Visit row:
    /// confirmed people waiting for that visit (no seat, or a seat they ranked lower).
    pub waitlisted: i64,
}

/// On PostgreSQL the counters are brought up to date at commit (the triggers note
/// changes and apply them then, in one lock order): a reader inside a writing
/// transaction first applies that transaction's own changes. Nothing to do otherwise,
/// and nothing to do on SQLite, whose triggers update the counters at once.
fn apply_own_changes(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(pg) => pg.batch_execute("SELECT registration_counts_apply()"),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// The event's counters by (country, visit), shards summed, without the all-zero ones.
pub fn of_event(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<CountRow>> {
    apply_own_changes(conn)?;
    let shards: Vec<CountRow> = registration_counts::table
        .filter(registration_counts::event_id.eq(event_id))
        .filter(
            registration_counts::registered
                .ne(0)
                .or(registration_counts::assigned.ne(0))
                .or(registration_counts::waitlisted.ne(0)),
        )
        .order((registration_counts::country, registration_counts::site_visit_id))
        .select(CountRow::as_select())
        .load(conn)?;
    Ok(sum_shards(shards))
}

/// Rows ordered by (country, visit) → one row per (country, visit).
fn sum_shards(shards: Vec<CountRow>) -> Vec<CountRow> {
    let mut rows: Vec<CountRow> = Vec::with_capacity(shards.len());
    for shard in shards {
        match rows.last_mut() {
            Some(row) if row.country == shard.country && row.site_visit_id == shard.site_visit_id => {
                row.registered += shard.registered;
                row.assigned += shard.assigned;
                row.waitlisted += shard.waitlisted;
            }
            _ => rows.push(shard),
        }
    }
    rows.retain(|row| row.registered != 0 || row.assigned != 0 || row.waitlisted != 0);
    rows
}

/// People waiting per visit id of the event (the event view's `waitlisted`).
pub fn waiting_by_visit(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(String, i64)>> {
    let mut waiting: Vec<(String, i64)> = Vec::new();
    for row in of_event(conn, event_id)? {
        if row.site_visit_id == COUNTRY_ROW || row.waitlisted == 0 {
            continue;
        }
        match waiting.iter_mut().find(|(visit, _)| *visit == row.site_visit_id) {
            Some(entry) => entry.1 += row.waitlisted,
            None => waiting.push((row.site_visit_id, row.waitlisted)),
        }
    }
    Ok(waiting)
}
