//! Queries on check-in: the code hash that finds a registration, the state of each
//! person on each list (`checkins`) and the log of every scan (`checkin_scans`). The
//! rule-bearing writes are conditional (an insert that does nothing on a conflict, updates
//! that say in their `WHERE` what they expect) and report whether they changed a row, so
//! that two transactions never both believe they checked the same person in (invariant
//! 11); the primary key of `checkins` is the backstop.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Nullable, Text, Timestamp};

use super::registrations::{RegistrationRow, CONFIRMED};
use crate::db::schema::{checkin_scans, checkins, registrations, seat_assignments};
use crate::db::DbConnection;

/// `site_visit_id` of the entrance list.
pub const ENTRY: &str = "";

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = checkins)]
pub struct CheckinRow {
    pub registration_id: String,
    /// [`ENTRY`] for the entrance list.
    pub site_visit_id: String,
    pub event_id: String,
    pub checked_in_at: NaiveDateTime,
    pub scan_id: String,
    pub device: String,
    pub inside: bool,
    pub moved_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = checkins)]
pub struct NewCheckin<'a> {
    pub registration_id: &'a str,
    pub site_visit_id: &'a str,
    pub event_id: &'a str,
    pub checked_in_at: NaiveDateTime,
    pub scan_id: &'a str,
    pub device: &'a str,
    pub inside: bool,
    pub moved_at: NaiveDateTime,
}

impl From<&NewCheckin<'_>> for CheckinRow {
    /// The row an insert wrote, as a read would find it.
    fn from(new: &NewCheckin<'_>) -> Self {
        Self {
            registration_id: new.registration_id.to_owned(),
            site_visit_id: new.site_visit_id.to_owned(),
            event_id: new.event_id.to_owned(),
            checked_in_at: new.checked_in_at,
            scan_id: new.scan_id.to_owned(),
            device: new.device.to_owned(),
            inside: new.inside,
            moved_at: new.moved_at,
        }
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = checkin_scans)]
pub struct ScanRow {
    pub id: String,
    pub event_id: String,
    pub nonce: String,
    pub registration_id: Option<String>,
    pub site_visit_id: String,
    pub direction: String,
    pub outcome: String,
    pub scanned_by: String,
    pub scanned_by_name: String,
    pub device: String,
    pub scanned_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = checkin_scans, treat_none_as_default_value = false)]
pub struct NewScan<'a> {
    pub id: &'a str,
    pub event_id: &'a str,
    pub nonce: &'a str,
    pub registration_id: Option<&'a str>,
    pub site_visit_id: &'a str,
    pub direction: &'a str,
    pub outcome: &'a str,
    pub scanned_by: &'a str,
    pub scanned_by_name: &'a str,
    pub device: &'a str,
    pub scanned_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
}

/// A confirmed registration as the check-in lists need it: who, the code's hash, and
/// the visit whose seat they hold.
#[derive(Clone, Debug, Queryable)]
pub struct ListPerson {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub organisation: String,
    pub country: String,
    pub checkin_code_hash: Option<String>,
    pub seat: Option<String>,
}

/// Whom a scan names: the hash of a check-in code, or a registration id.
#[derive(Clone, Copy, Debug)]
pub enum Named<'a> {
    CodeHash(&'a str),
    Registration(&'a str),
}

/// The registration a scan names, with the visit whose seat it holds: one statement on
/// every scan's path (any event; erased rows have no code hash, but keep their id).
pub fn person_with_seat(
    conn: &mut DbConnection,
    named: Named<'_>,
) -> QueryResult<Option<(RegistrationRow, Option<String>)>> {
    let query = registrations::table.left_join(seat_assignments::table).select((
        RegistrationRow::as_select(),
        seat_assignments::site_visit_id.nullable(),
    ));
    match named {
        Named::CodeHash(hash) => query
            .filter(registrations::checkin_code_hash.eq(hash))
            .first(conn)
            .optional(),
        Named::Registration(id) => query.filter(registrations::id.eq(id)).first(conn).optional(),
    }
}

/// Up to `limit` registrations, not erased, that have no code hash yet (made before the
/// column existed).
pub fn without_code_hash(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<String>> {
    registrations::table
        .filter(registrations::checkin_code_hash.is_null())
        .filter(registrations::erased_at.is_null())
        .order(registrations::id)
        .limit(limit)
        .select(registrations::id)
        .load(conn)
}

pub fn set_code_hash(conn: &mut DbConnection, id: &str, hash: &str) -> QueryResult<()> {
    diesel::update(
        registrations::table
            .find(id)
            .filter(registrations::erased_at.is_null()),
    )
    .set(registrations::checkin_code_hash.eq(hash))
    .execute(conn)?;
    Ok(())
}

/// The event's confirmed registrations with their seats, in registration order.
pub fn confirmed_people(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<ListPerson>> {
    registrations::table
        .left_join(seat_assignments::table)
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(CONFIRMED))
        .order((registrations::created_at, registrations::id))
        .select((
            registrations::id,
            registrations::first_name,
            registrations::last_name,
            registrations::organisation,
            registrations::country,
            registrations::checkin_code_hash,
            seat_assignments::site_visit_id.nullable(),
        ))
        .load(conn)
}

pub fn find(conn: &mut DbConnection, registration_id: &str, list: &str) -> QueryResult<Option<CheckinRow>> {
    checkins::table
        .find((registration_id, list))
        .select(CheckinRow::as_select())
        .first(conn)
        .optional()
}

/// Every check-in of the event, on every list.
pub fn of_event(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<CheckinRow>> {
    checkins::table
        .filter(checkins::event_id.eq(event_id))
        .select(CheckinRow::as_select())
        .load(conn)
}

/// The check-ins of these registrations, on every list.
pub fn of_registrations(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<CheckinRow>> {
    checkins::table
        .filter(checkins::registration_id.eq_any(ids))
        .select(CheckinRow::as_select())
        .load(conn)
}

/// Per visit id, how many of the people seated in it are checked in on its list.
pub fn seated_checked_in(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(String, i64)>> {
    seat_assignments::table
        .inner_join(
            checkins::table.on(checkins::registration_id
                .eq(seat_assignments::registration_id)
                .and(checkins::site_visit_id.eq(seat_assignments::site_visit_id))),
        )
        .filter(checkins::event_id.eq(event_id))
        .group_by(seat_assignments::site_visit_id)
        .select((seat_assignments::site_visit_id, count_star()))
        .load(conn)
}

/// Checks a person in on a list unless they already are: true when this call did it.
/// On PostgreSQL a concurrent insert of the same (person, list) makes this one wait for
/// it and then do nothing.
pub fn insert_checkin(conn: &mut DbConnection, row: &NewCheckin<'_>) -> QueryResult<bool> {
    Ok(InsertCheckin { row }.execute(conn)? == 1)
}

/// The insert of [`insert_checkin`], written by hand so that it stays prepared: diesel
/// prepares an `ON CONFLICT` insert again on every run (see [`crate::store`]), and this
/// one and [`InsertScan`] are on every scan's path (a batch runs them a thousand times).
struct InsertCheckin<'a> {
    row: &'a NewCheckin<'a>,
}
prepared_statement!(InsertCheckin);

impl<DB> QueryFragment<DB> for InsertCheckin<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Bool> + HasSqlType<Timestamp>,
    str: ToSql<Text, DB>,
    bool: ToSql<Bool, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let row = self.row;
        sql_with_binds!(out, "INSERT INTO checkins (registration_id, site_visit_id, event_id, \
             checked_in_at, scan_id, device, inside, moved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT DO NOTHING";
            Text => row.registration_id, Text => row.site_visit_id, Text => row.event_id,
            Timestamp => &row.checked_in_at, Text => row.scan_id, Text => row.device,
            Bool => &row.inside, Timestamp => &row.moved_at);
        Ok(())
    }
}

/// Makes `scan_id` the check-in if it is earlier than the one recorded (an offline scan
/// that arrives late): true when it was.
pub fn take_over_checkin(
    conn: &mut DbConnection,
    registration_id: &str,
    list: &str,
    scanned_at: NaiveDateTime,
    scan_id: &str,
    device: &str,
) -> QueryResult<bool> {
    let changed = diesel::update(
        checkins::table
            .find((registration_id, list))
            .filter(checkins::checked_in_at.gt(scanned_at)),
    )
    .set((
        checkins::checked_in_at.eq(scanned_at),
        checkins::scan_id.eq(scan_id),
        checkins::device.eq(device),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Someone checked in and gone out comes back in, if this is their latest movement:
/// true when it was.
pub fn enter_again(
    conn: &mut DbConnection,
    registration_id: &str,
    list: &str,
    scanned_at: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        checkins::table
            .find((registration_id, list))
            .filter(checkins::inside.eq(false))
            .filter(checkins::moved_at.le(scanned_at))
            .filter(checkins::checked_in_at.le(scanned_at)),
    )
    .set((checkins::inside.eq(true), checkins::moved_at.eq(scanned_at)))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Someone inside goes out, if this is their latest movement: true when they did.
pub fn leave(
    conn: &mut DbConnection,
    registration_id: &str,
    list: &str,
    scanned_at: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        checkins::table
            .find((registration_id, list))
            .filter(checkins::inside.eq(true))
            .filter(checkins::moved_at.le(scanned_at)),
    )
    .set((checkins::inside.eq(false), checkins::moved_at.eq(scanned_at)))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn find_scan(conn: &mut DbConnection, event_id: &str, nonce: &str) -> QueryResult<Option<ScanRow>> {
    checkin_scans::table
        .filter(checkin_scans::event_id.eq(event_id))
        .filter(checkin_scans::nonce.eq(nonce))
        .select(ScanRow::as_select())
        .first(conn)
        .optional()
}

/// Records a scan unless its nonce is already recorded for the event: true when this
/// call recorded it. On PostgreSQL a concurrent insert of the same nonce makes this one
/// wait for it and then do nothing.
pub fn insert_scan(conn: &mut DbConnection, row: &NewScan<'_>) -> QueryResult<bool> {
    Ok(InsertScan { row }.execute(conn)? == 1)
}

/// The insert of [`insert_scan`], prepared once like [`InsertCheckin`].
struct InsertScan<'a> {
    row: &'a NewScan<'a>,
}
prepared_statement!(InsertScan);

impl<DB> QueryFragment<DB> for InsertScan<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    str: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let row = self.row;
        sql_with_binds!(out, "INSERT INTO checkin_scans (id, event_id, nonce, registration_id, \
             site_visit_id, direction, outcome, scanned_by, scanned_by_name, device, scanned_at, \
             received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
            Text => row.id, Text => row.event_id, Text => row.nonce,
            Nullable<Text> => &row.registration_id, Text => row.site_visit_id,
            Text => row.direction, Text => row.outcome, Text => row.scanned_by,
            Text => row.scanned_by_name, Text => row.device, Timestamp => &row.scanned_at,
            Timestamp => &row.received_at);
        Ok(())
    }
}

/// How many scans the event has recorded (tests: nothing is written on bad input).
pub fn count_scans(conn: &mut DbConnection, event_id: &str) -> QueryResult<i64> {
    checkin_scans::table
        .filter(checkin_scans::event_id.eq(event_id))
        .select(count_star())
        .first(conn)
}
