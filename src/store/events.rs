//! Queries on `events`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::events;
use crate::db::DbConnection;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub venue: String,
    pub contact_email: String,
    pub timezone: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub assignment_mode: String,
    pub registration_opens_at: Option<NaiveDateTime>,
    pub registration_closes_at: Option<NaiveDateTime>,
    pub max_preferences: i32,
    pub capacity: Option<i32>,
    pub confirmed: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub allocated_at: Option<NaiveDateTime>,
    pub offer_window_hours: Option<i32>,
    pub offer_cutoff_hours: i32,
    pub no_show_after_minutes: i32,
    /// Hours before each visit's start at which its people are reminded: `24,2`.
    pub reminder_hours: String,
    /// Until when answers to questions may change (NULL: the default, see
    /// `domain::questions::answers_close_at`).
    pub answers_close_at: Option<NaiveDateTime>,
}

/// An event's details as written on creation and on every later change (an event file
/// loaded again); the `confirmed` counter and `allocated_at` are not among them.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = events, treat_none_as_null = true)]
pub struct EventChanges<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub venue: &'a str,
    pub contact_email: &'a str,
    pub timezone: &'a str,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub assignment_mode: &'a str,
    pub registration_opens_at: Option<NaiveDateTime>,
    pub registration_closes_at: Option<NaiveDateTime>,
    pub max_preferences: i32,
    pub capacity: Option<i32>,
    pub offer_window_hours: Option<i32>,
    pub offer_cutoff_hours: i32,
    pub no_show_after_minutes: i32,
    pub reminder_hours: &'a str,
    pub answers_close_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<EventRow>> {
    events::table
        .filter(events::slug.eq(slug))
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

diesel::define_sql_function! {
    /// SQL `lower()`, for case-insensitive search on both backends (ASCII on SQLite).
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Events whose name or slug contains `search` (any letter case), or every event.
fn matching(search: Option<&str>) -> events::BoxedQuery<'static, crate::db::MultiBackend> {
    let mut query = events::table.into_boxed();
    if let Some(search) = search {
        let escaped = search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        query = query.filter(
            lower(events::name)
                .like(pattern.clone())
                .escape('\\')
                .or(events::slug.like(pattern).escape('\\')),
        );
    }
    query
}

/// A page of the events matching `search`, the latest start first, and how many match.
pub fn page(
    conn: &mut DbConnection,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<EventRow>, i64)> {
    let total = matching(search).count().get_result(conn)?;
    let rows = matching(search)
        .order((events::starts_on.desc(), events::slug))
        .limit(limit)
        .offset(offset)
        .select(EventRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<EventRow> {
    events::table.find(id).select(EventRow::as_select()).first(conn)
}

/// The event, its row locked until the transaction ends (PostgreSQL; SQLite has one
/// writer). `FOR NO KEY UPDATE` does not hold up registrations, whose inserts take only
/// a key share of it through their foreign key.
pub fn find_locked(conn: &mut DbConnection, id: &str) -> QueryResult<EventRow> {
    match conn {
        DbConnection::Postgres(pg) => events::table
            .find(id)
            .select(EventRow::as_select())
            .for_no_key_update()
            .first(pg),
        DbConnection::Sqlite(_) => find(conn, id),
    }
}

pub fn insert(conn: &mut DbConnection, id: &str, slug: &str, event: &EventChanges<'_>) -> QueryResult<()> {
    diesel::insert_into(events::table)
        .values((
            events::id.eq(id),
            events::slug.eq(slug),
            events::confirmed.eq(0),
            events::created_at.eq(event.updated_at),
            event,
        ))
        .execute(conn)?;
    Ok(())
}

/// Rewrites the event's details (an event file loaded again). The `confirmed` counter
/// stays; a capacity below it fails on the table's CHECK and is refused before that.
pub fn update(conn: &mut DbConnection, id: &str, event: &EventChanges<'_>) -> QueryResult<()> {
    diesel::update(events::table.find(id)).set(event).execute(conn)?;
    Ok(())
}

/// Takes one place of the event-wide capacity if one is left.
pub fn try_take_place(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    let taken = diesel::update(
        events::table
            .find(id)
            .filter(events::capacity.is_not_null())
            .filter(events::confirmed.lt(events::capacity.assume_not_null())),
    )
    .set(events::confirmed.eq(events::confirmed + 1))
    .execute(conn)?;
    Ok(taken == 1)
}

pub fn give_back_place(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(events::table.find(id).filter(events::confirmed.gt(0)))
        .set(events::confirmed.eq(events::confirmed - 1))
        .execute(conn)?;
    Ok(())
}

/// Recounts the active confirmed registrations into `confirmed` (used when an event
/// gains an event-wide capacity, since the counter is kept only while one is set).
pub fn set_confirmed(conn: &mut DbConnection, id: &str, confirmed: i32) -> QueryResult<()> {
    diesel::update(events::table.find(id))
        .set(events::confirmed.eq(confirmed))
        .execute(conn)?;
    Ok(())
}

pub fn mark_allocated(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(events::table.find(id))
        .set(events::allocated_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

/// Ids of the events that ended before `day`.
pub fn ended_before(conn: &mut DbConnection, day: NaiveDate) -> QueryResult<Vec<String>> {
    events::table
        .filter(events::ends_on.lt(day))
        .select(events::id)
        .load(conn)
}
