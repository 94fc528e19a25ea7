//! The updates of a registration's status, automatic seating and seat, written by hand
//! so that they stay prepared: diesel prepares its own `UPDATE`s again on every run
//! (see [`crate::store`]), and on SQLite preparing an update of `registrations` or
//! `seat_assignments` compiles the counters' triggers into it — ten times the cost of
//! running it. Every seat change (cancellations, refills, offers, moves) runs these.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Text, Timestamp};
use diesel::QueryResult;

/// `status` from `from` to `to` (and `cancelled_at` when it is a cancellation).
pub(super) struct ChangeStatus<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub cancels: bool,
    pub now: NaiveDateTime,
}
prepared_statement!(ChangeStatus);

impl<DB> QueryFragment<DB> for ChangeStatus<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Bool> + HasSqlType<Timestamp>,
    str: ToSql<Text, DB>,
    bool: ToSql<Bool, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        sql_with_binds!(out, "UPDATE registrations SET status = ?, updated_at = ?, \
             cancelled_at = CASE WHEN ? THEN ? ELSE cancelled_at END \
             WHERE id = ? AND status = ?";
            Text => self.to, Timestamp => &self.now, Bool => &self.cancels, Timestamp => &self.now,
            Text => self.id, Text => self.from);
        Ok(())
    }
}

pub(super) struct SetAutoSeat<'a> {
    pub id: &'a str,
    pub auto_seat: bool,
}
prepared_statement!(SetAutoSeat);

impl<DB> QueryFragment<DB> for SetAutoSeat<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Bool>,
    str: ToSql<Text, DB>,
    bool: ToSql<Bool, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        sql_with_binds!(out, "UPDATE registrations SET auto_seat = ? WHERE id = ?";
            Bool => &self.auto_seat, Text => self.id);
        Ok(())
    }
}

pub(super) struct MoveSeat<'a> {
    pub id: &'a str,
    pub visit_id: &'a str,
    pub now: NaiveDateTime,
}
prepared_statement!(MoveSeat);

impl<DB> QueryFragment<DB> for MoveSeat<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    str: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        sql_with_binds!(out, "UPDATE seat_assignments SET site_visit_id = ?, assigned_at = ? \
             WHERE registration_id = ?";
            Text => self.visit_id, Timestamp => &self.now, Text => self.id);
        Ok(())
    }
}
