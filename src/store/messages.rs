//! Queries on `messages` and on their emails: the message row, its recipients' outbox
//! rows written in batches (a message to thousands is accepted in well under a second),
//! and what became of each.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::schema::{messages, outbox_emails};
use crate::db::DbConnection;

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = messages)]
pub struct MessageRow {
    pub id: String,
    pub event_id: String,
    /// The audience as asked, as JSON.
    pub audience: String,
    /// '' for a language not given.
    pub subject_en: String,
    pub subject_fr: String,
    pub body_en: String,
    pub body_fr: String,
    pub recipients: i32,
    pub sent_by: String,
    pub sent_by_name: String,
    pub created_at: NaiveDateTime,
}

/// One recipient's email of a message: pending and due now.
#[derive(Insertable)]
#[diesel(table_name = outbox_emails, treat_none_as_default_value = false)]
pub struct NewMessageEmail<'a> {
    pub id: &'a str,
    pub event_id: &'a str,
    pub registration_id: Option<&'a str>,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub payload: &'a str,
    pub status: &'a str,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub message_id: Option<&'a str>,
}

/// Rows per insert statement: 11 parameters each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535 per statement.
const ROWS_PER_INSERT: usize = 500;

pub fn insert(conn: &mut DbConnection, row: &MessageRow) -> QueryResult<()> {
    diesel::insert_into(messages::table).values(row).execute(conn)?;
    Ok(())
}

/// Writes the emails, a few hundred rows per statement.
pub fn insert_emails(conn: &mut DbConnection, rows: &[NewMessageEmail<'_>]) -> QueryResult<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        match conn {
            DbConnection::Sqlite(sqlite) => {
                diesel::insert_into(outbox_emails::table)
                    .values(chunk)
                    .execute(sqlite)?;
            }
            DbConnection::Postgres(pg) => {
                diesel::insert_into(outbox_emails::table)
                    .values(chunk)
                    .execute(pg)?;
            }
        }
    }
    Ok(())
}

pub fn find(conn: &mut DbConnection, event_id: &str, id: &str) -> QueryResult<Option<MessageRow>> {
    messages::table
        .find(id)
        .filter(messages::event_id.eq(event_id))
        .select(MessageRow::as_select())
        .first(conn)
        .optional()
}

/// The event's messages, newest first.
pub fn of_event(conn: &mut DbConnection, event_id: &str, limit: i64) -> QueryResult<Vec<MessageRow>> {
    messages::table
        .filter(messages::event_id.eq(event_id))
        .order((messages::created_at.desc(), messages::id.desc()))
        .limit(limit)
        .select(MessageRow::as_select())
        .load(conn)
}

/// How many of the message's emails are in each outbox status.
pub fn totals(conn: &mut DbConnection, message_id: &str) -> QueryResult<Vec<(String, i64)>> {
    outbox_emails::table
        .filter(outbox_emails::message_id.eq(message_id))
        .group_by(outbox_emails::status)
        .select((outbox_emails::status, count_star()))
        .load(conn)
}

/// A recipient's email as the message's status shows it.
#[derive(Clone, Debug, Queryable)]
pub struct RecipientEmail {
    pub registration_id: Option<String>,
    pub recipient: String,
    pub status: String,
    pub sent_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

/// A page of the message's emails, in the order they were written.
pub fn recipients(
    conn: &mut DbConnection,
    message_id: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<RecipientEmail>> {
    outbox_emails::table
        .filter(outbox_emails::message_id.eq(message_id))
        .order(outbox_emails::id)
        .offset(offset)
        .limit(limit)
        .select((
            outbox_emails::registration_id,
            outbox_emails::recipient,
            outbox_emails::status,
            outbox_emails::sent_at,
            outbox_emails::last_error,
        ))
        .load(conn)
}
