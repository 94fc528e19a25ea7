//! Queries on registrations, their ranked preferences, their seats and the waitlists
//! derived from them. A waitlist is not stored: it is every active confirmed registration
//! that ranked the visit and has no seat, or holds a seat it ranked lower.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, exists, not};
use diesel::prelude::*;

use crate::db::schema::{registration_preferences, registrations, seat_assignments, site_visits};
use crate::db::DbConnection;

pub const CONFIRMED: &str = "confirmed";
pub const WAITLISTED: &str = "waitlisted";
pub const CANCELLED: &str = "cancelled";

diesel::alias!(registration_preferences as held: HeldPreference);

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = registrations)]
pub struct RegistrationRow {
    pub id: String,
    pub event_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub email_normalized: String,
    pub organisation: String,
    pub country: String,
    pub job_title: Option<String>,
    pub dietary: Option<String>,
    pub status: String,
    pub manage_token_hash: String,
    pub consent_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub cancelled_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = registrations)]
pub struct NewRegistrationRow<'a> {
    pub id: &'a str,
    pub event_id: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub organisation: &'a str,
    pub country: &'a str,
    pub job_title: Option<&'a str>,
    pub dietary: Option<&'a str>,
    pub status: &'a str,
    pub manage_token_hash: &'a str,
    pub consent_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &NewRegistrationRow<'_>) -> QueryResult<()> {
    diesel::insert_into(registrations::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RegistrationRow>> {
    registrations::table
        .find(id)
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_token_hash(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<RegistrationRow>> {
    registrations::table
        .filter(registrations::manage_token_hash.eq(hash))
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()
}

/// Moves a registration from `from` to `to`; false when it was not in `from` (someone
/// else changed it first). On PostgreSQL the update also takes the row lock that every
/// seat change holds while it decides about this person.
pub fn change_status(
    conn: &mut DbConnection,
    id: &str,
    from: &[&str],
    to: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let target = registrations::table
        .find(id)
        .filter(registrations::status.eq_any(from));
    let changed = if to == CANCELLED {
        diesel::update(target)
            .set((
                registrations::status.eq(to),
                registrations::updated_at.eq(now),
                registrations::cancelled_at.eq(Some(now)),
            ))
            .execute(conn)?
    } else {
        diesel::update(target)
            .set((registrations::status.eq(to), registrations::updated_at.eq(now)))
            .execute(conn)?
    };
    Ok(changed == 1)
}

/// Locks an active confirmed registration before its seat is changed by someone else's
/// transaction (promotion); false when it is no longer active.
pub fn lock_confirmed(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    change_status(conn, id, &[CONFIRMED], CONFIRMED, now)
}

/// The ranked visit ids, best first.
pub fn preferences(conn: &mut DbConnection, registration_id: &str) -> QueryResult<Vec<String>> {
    registration_preferences::table
        .filter(registration_preferences::registration_id.eq(registration_id))
        .order(registration_preferences::rank)
        .select(registration_preferences::site_visit_id)
        .load(conn)
}

pub fn replace_preferences(
    conn: &mut DbConnection,
    registration_id: &str,
    visit_ids: &[String],
) -> QueryResult<()> {
    diesel::delete(
        registration_preferences::table.filter(registration_preferences::registration_id.eq(registration_id)),
    )
    .execute(conn)?;
    insert_preferences(conn, registration_id, visit_ids)
}

pub fn insert_preferences(
    conn: &mut DbConnection,
    registration_id: &str,
    visit_ids: &[String],
) -> QueryResult<()> {
    if visit_ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = visit_ids
        .iter()
        .enumerate()
        .map(|(index, visit_id)| {
            (
                registration_preferences::registration_id.eq(registration_id),
                registration_preferences::rank.eq(index as i32 + 1),
                registration_preferences::site_visit_id.eq(visit_id.as_str()),
            )
        })
        .collect();
    // Multi-row inserts are backend-specific SQL in diesel: run on the inner connection.
    let insert = diesel::insert_into(registration_preferences::table).values(rows);
    match conn {
        DbConnection::Sqlite(conn) => insert.execute(conn)?,
        DbConnection::Postgres(conn) => insert.execute(conn)?,
    };
    Ok(())
}

/// The visit whose seat the registration holds.
pub fn seat(conn: &mut DbConnection, registration_id: &str) -> QueryResult<Option<String>> {
    seat_assignments::table
        .find(registration_id)
        .select(seat_assignments::site_visit_id)
        .first(conn)
        .optional()
}

pub fn insert_seat(
    conn: &mut DbConnection,
    registration_id: &str,
    visit_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(seat_assignments::table)
        .values((
            seat_assignments::registration_id.eq(registration_id),
            seat_assignments::site_visit_id.eq(visit_id),
            seat_assignments::assigned_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn move_seat(
    conn: &mut DbConnection,
    registration_id: &str,
    visit_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(seat_assignments::table.find(registration_id))
        .set((
            seat_assignments::site_visit_id.eq(visit_id),
            seat_assignments::assigned_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete_seat(conn: &mut DbConnection, registration_id: &str) -> QueryResult<()> {
    diesel::delete(seat_assignments::table.find(registration_id)).execute(conn)?;
    Ok(())
}

/// The earliest registration waiting for `visit_id` that holds no seat at all.
pub fn first_unseated_waiting(conn: &mut DbConnection, visit_id: &str) -> QueryResult<Option<String>> {
    registration_preferences::table
        .inner_join(registrations::table)
        .filter(registration_preferences::site_visit_id.eq(visit_id))
        .filter(registrations::status.eq(CONFIRMED))
        .filter(not(exists(
            seat_assignments::table.filter(seat_assignments::registration_id.eq(registrations::id)),
        )))
        .order((registrations::created_at, registrations::id))
        .select(registrations::id)
        .first(conn)
        .optional()
}

/// The earliest registration that holds a seat it ranked below `visit_id`, in a visit
/// whose roster is not frozen.
pub fn first_upgrade_waiting(conn: &mut DbConnection, visit_id: &str) -> QueryResult<Option<String>> {
    registration_preferences::table
        .inner_join(registrations::table)
        .inner_join(
            seat_assignments::table
                .on(seat_assignments::registration_id.eq(registration_preferences::registration_id)),
        )
        .inner_join(
            held.on(held
                .field(registration_preferences::registration_id)
                .eq(seat_assignments::registration_id)
                .and(
                    held.field(registration_preferences::site_visit_id)
                        .eq(seat_assignments::site_visit_id),
                )),
        )
        .inner_join(site_visits::table.on(site_visits::id.eq(seat_assignments::site_visit_id)))
        .filter(registration_preferences::site_visit_id.eq(visit_id))
        .filter(registrations::status.eq(CONFIRMED))
        .filter(
            held.field(registration_preferences::rank)
                .gt(registration_preferences::rank),
        )
        .filter(site_visits::frozen.eq(false))
        .order((registrations::created_at, registrations::id))
        .select(registrations::id)
        .first(conn)
        .optional()
}

/// 1-based place of an unseated registration in the visit's waitlist.
pub fn waitlist_position(
    conn: &mut DbConnection,
    visit_id: &str,
    registration: &RegistrationRow,
) -> QueryResult<i64> {
    let ahead: i64 = registration_preferences::table
        .inner_join(registrations::table)
        .filter(registration_preferences::site_visit_id.eq(visit_id))
        .filter(registrations::status.eq(CONFIRMED))
        .filter(not(exists(
            seat_assignments::table.filter(seat_assignments::registration_id.eq(registrations::id)),
        )))
        .filter(
            registrations::created_at
                .lt(registration.created_at)
                .or(registrations::created_at
                    .eq(registration.created_at)
                    .and(registrations::id.lt(&registration.id))),
        )
        .select(count_star())
        .first(conn)?;
    Ok(ahead + 1)
}

/// Registrations waiting per visit of the event: (visit id, unseated, holding a
/// lower-ranked seat).
pub fn waiting_counts(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(String, i64, i64)>> {
    let unseated: Vec<(String, i64)> = registration_preferences::table
        .inner_join(registrations::table)
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(CONFIRMED))
        .filter(not(exists(
            seat_assignments::table.filter(seat_assignments::registration_id.eq(registrations::id)),
        )))
        .group_by(registration_preferences::site_visit_id)
        .select((registration_preferences::site_visit_id, count_star()))
        .load(conn)?;
    let upgrading: Vec<(String, i64)> = registration_preferences::table
        .inner_join(registrations::table)
        .inner_join(
            seat_assignments::table
                .on(seat_assignments::registration_id.eq(registration_preferences::registration_id)),
        )
        .inner_join(
            held.on(held
                .field(registration_preferences::registration_id)
                .eq(seat_assignments::registration_id)
                .and(
                    held.field(registration_preferences::site_visit_id)
                        .eq(seat_assignments::site_visit_id),
                )),
        )
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(CONFIRMED))
        .filter(
            held.field(registration_preferences::rank)
                .gt(registration_preferences::rank),
        )
        .group_by(registration_preferences::site_visit_id)
        .select((registration_preferences::site_visit_id, count_star()))
        .load(conn)?;
    let mut counts: Vec<(String, i64, i64)> = unseated.into_iter().map(|(id, n)| (id, n, 0)).collect();
    for (id, n) in upgrading {
        match counts.iter_mut().find(|(visit, _, _)| *visit == id) {
            Some(entry) => entry.2 = n,
            None => counts.push((id, 0, n)),
        }
    }
    Ok(counts)
}

/// The earliest registration on the event-wide waitlist.
pub fn first_event_waitlisted(conn: &mut DbConnection, event_id: &str) -> QueryResult<Option<String>> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(WAITLISTED))
        .order((registrations::created_at, registrations::id))
        .select(registrations::id)
        .first(conn)
        .optional()
}

/// 1-based place on the event-wide waitlist.
pub fn event_waitlist_position(conn: &mut DbConnection, registration: &RegistrationRow) -> QueryResult<i64> {
    let ahead: i64 = registrations::table
        .filter(registrations::event_id.eq(&registration.event_id))
        .filter(registrations::status.eq(WAITLISTED))
        .filter(
            registrations::created_at
                .lt(registration.created_at)
                .or(registrations::created_at
                    .eq(registration.created_at)
                    .and(registrations::id.lt(&registration.id))),
        )
        .select(count_star())
        .first(conn)?;
    Ok(ahead + 1)
}

/// Active registrations with status `confirmed` (to set up an event-wide capacity).
pub fn count_confirmed(conn: &mut DbConnection, event_id: &str) -> QueryResult<i64> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(CONFIRMED))
        .select(count_star())
        .first(conn)
}
