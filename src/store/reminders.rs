//! Queries on reminders: which events have rules, who was reminded, and the insert that
//! makes a reminder go once (a conflict on the primary key does nothing).

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Integer, Text, Timestamp};

use super::events::EventRow;
use crate::db::schema::{events, reminders_sent};
use crate::db::DbConnection;

/// The events that have reminder rules.
pub fn events_with_rules(conn: &mut DbConnection) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::reminder_hours.ne(""))
        .order(events::id)
        .select(EventRow::as_select())
        .load(conn)
}

/// Who was reminded of `visit_id` by the rule `hours_before`.
pub fn reminded(conn: &mut DbConnection, visit_id: &str, hours_before: i32) -> QueryResult<HashSet<String>> {
    let ids: Vec<String> = reminders_sent::table
        .filter(reminders_sent::site_visit_id.eq(visit_id))
        .filter(reminders_sent::hours_before.eq(hours_before))
        .select(reminders_sent::registration_id)
        .load(conn)?;
    Ok(ids.into_iter().collect())
}

/// A reminder queued: this person, of this visit, by this rule.
pub struct SentReminder<'a> {
    pub registration_id: &'a str,
    pub site_visit_id: &'a str,
    pub hours_before: i32,
    pub event_id: &'a str,
    pub sent_at: NaiveDateTime,
}

/// Records a reminder unless it is recorded already: true when this call did (and so
/// must queue its email). On PostgreSQL a concurrent insert of the same one makes this
/// one wait for it and then do nothing.
pub fn record(conn: &mut DbConnection, row: &SentReminder<'_>) -> QueryResult<bool> {
    Ok(InsertReminder { row }.execute(conn)? == 1)
}

/// The insert of [`record`], kept prepared like the check-in inserts (diesel prepares an
/// `ON CONFLICT` insert again on every run).
struct InsertReminder<'a> {
    row: &'a SentReminder<'a>,
}
prepared_statement!(InsertReminder);

impl<DB> QueryFragment<DB> for InsertReminder<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Integer> + HasSqlType<Timestamp>,
    str: ToSql<Text, DB>,
    i32: ToSql<Integer, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let row = self.row;
        sql_with_binds!(out, "INSERT INTO reminders_sent (registration_id, site_visit_id, \
             hours_before, event_id, sent_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
            Text => row.registration_id, Text => row.site_visit_id, Integer => &row.hours_before,
            Text => row.event_id, Timestamp => &row.sent_at);
        Ok(())
    }
}
