//! Queries on `site_visits`, including the conditional seat counter updates that keep
//! invariant 1: a seat is taken only by `UPDATE … WHERE assigned < capacity` that
//! reports one affected row; the table's CHECK is the backstop.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Text};

use crate::db::schema::{events, site_visits};
use crate::db::DbConnection;
use crate::store::events::EventRow;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = site_visits)]
pub struct SiteVisitRow {
    pub id: String,
    pub event_id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub location: String,
    pub meeting_point: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub capacity: i32,
    pub assigned: i32,
    pub frozen: bool,
    pub position: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// What to bring (said in reminders).
    pub bring: String,
    /// The identity fields required, a JSON list (docs/identity-data.md).
    pub identity: String,
}

/// A visit's descriptive fields, as written on creation and on every later change;
/// capacity and the seat counter change only through their own queries.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = site_visits)]
pub struct VisitDetails<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub location: &'a str,
    pub meeting_point: &'a str,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub position: i32,
    pub updated_at: NaiveDateTime,
    pub bring: &'a str,
    /// The identity fields required, a JSON list (docs/identity-data.md).
    pub identity: String,
}

/// The event's visits in display order.
pub fn list(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<SiteVisitRow>> {
    site_visits::table
        .filter(site_visits::event_id.eq(event_id))
        .order((site_visits::position, site_visits::starts_at, site_visits::slug))
        .select(SiteVisitRow::as_select())
        .load(conn)
}

/// The event with this slug and its visits (in [`list`]'s order), in one round trip:
/// most requests start with both.
pub fn event_with_visits(
    conn: &mut DbConnection,
    event_slug: &str,
) -> QueryResult<Option<(EventRow, Vec<SiteVisitRow>)>> {
    let rows: Vec<(EventRow, Option<SiteVisitRow>)> = events::table
        .left_join(site_visits::table)
        .filter(events::slug.eq(event_slug))
        .order((site_visits::position, site_visits::starts_at, site_visits::slug))
        .select((EventRow::as_select(), Option::<SiteVisitRow>::as_select()))
        .load(conn)?;
    let mut rows = rows.into_iter();
    Ok(rows.next().map(|(event, first)| {
        let visits = first
            .into_iter()
            .chain(rows.filter_map(|(_, visit)| visit))
            .collect();
        (event, visits)
    }))
}

pub fn find(conn: &mut DbConnection, event_id: &str, slug: &str) -> QueryResult<Option<SiteVisitRow>> {
    site_visits::table
        .filter(site_visits::event_id.eq(event_id))
        .filter(site_visits::slug.eq(slug))
        .select(SiteVisitRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert(
    conn: &mut DbConnection,
    id: &str,
    event_id: &str,
    slug: &str,
    capacity: i32,
    details: &VisitDetails<'_>,
) -> QueryResult<()> {
    diesel::insert_into(site_visits::table)
        .values((
            site_visits::id.eq(id),
            site_visits::event_id.eq(event_id),
            site_visits::slug.eq(slug),
            site_visits::capacity.eq(capacity),
            site_visits::assigned.eq(0),
            site_visits::frozen.eq(false),
            site_visits::created_at.eq(details.updated_at),
            details,
        ))
        .execute(conn)?;
    Ok(())
}

/// Rewrites the descriptive fields; capacity changes go through [`set_capacity`].
pub fn update_details(conn: &mut DbConnection, id: &str, details: &VisitDetails<'_>) -> QueryResult<()> {
    diesel::update(site_visits::table.find(id))
        .set(details)
        .execute(conn)?;
    Ok(())
}

/// The conditional seat update, written by hand so that it stays prepared (diesel
/// prepares its own `UPDATE`s again on every run; see [`crate::store`]). One text for
/// both kinds of claim, since diesel caches it under its type: an organiser's claim
/// (`automatic` false) may fill a frozen visit.
struct TakeSeat<'a> {
    id: &'a str,
    ignore_frozen: bool,
}
prepared_statement!(TakeSeat);

impl<DB> QueryFragment<DB> for TakeSeat<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Bool>,
    str: ToSql<Text, DB>,
    bool: ToSql<Bool, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        sql_with_binds!(out, "UPDATE site_visits SET assigned = assigned + 1 \
             WHERE id = ? AND assigned < capacity AND (? OR NOT frozen)";
            Text => self.id, Bool => &self.ignore_frozen);
        Ok(())
    }
}

/// Takes one seat if the visit has room; true when it did. `automatic` claims
/// (registration, waitlist promotion) also respect a frozen roster; an organiser's
/// explicit move does not.
pub fn try_take_seat(conn: &mut DbConnection, id: &str, automatic: bool) -> QueryResult<bool> {
    let claim = TakeSeat {
        id,
        ignore_frozen: !automatic,
    };
    Ok(claim.execute(conn)? == 1)
}

pub fn give_back_seat(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    GiveBackSeat { id }.execute(conn)?;
    Ok(())
}

/// The seat counter's decrement, prepared once like [`TakeSeat`].
struct GiveBackSeat<'a> {
    id: &'a str,
}
prepared_statement!(GiveBackSeat);

impl<DB> QueryFragment<DB> for GiveBackSeat<'_>
where
    DB: Backend + HasSqlType<Text>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        sql_with_binds!(out, "UPDATE site_visits SET assigned = assigned - 1 WHERE id = ? AND assigned > 0";
            Text => self.id);
        Ok(())
    }
}

/// Sets the capacity unless it would fall below the seats already taken.
pub fn set_capacity(
    conn: &mut DbConnection,
    id: &str,
    capacity: i32,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        site_visits::table
            .find(id)
            .filter(site_visits::assigned.le(capacity)),
    )
    .set((
        site_visits::capacity.eq(capacity),
        site_visits::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn set_frozen(conn: &mut DbConnection, id: &str, frozen: bool, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(site_visits::table.find(id))
        .set((site_visits::frozen.eq(frozen), site_visits::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// (event slug, visit slug, capacity, assigned) of every visit, for metrics.
pub fn all_with_event_slug(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, i32, i32)>> {
    use crate::db::schema::events;
    site_visits::table
        .inner_join(events::table)
        .order((events::slug, site_visits::position, site_visits::slug))
        .select((
            events::slug,
            site_visits::slug,
            site_visits::capacity,
            site_visits::assigned,
        ))
        .load(conn)
}
