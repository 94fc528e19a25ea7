//! Queries on `outbox_emails`: enqueue in the caller's transaction, claim with a lease
//! (so several workers in several processes never send one email twice), and settle.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::outbox_emails;
use crate::db::DbConnection;

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = outbox_emails)]
pub struct OutboxRow {
    pub id: String,
    pub event_id: String,
    pub registration_id: Option<String>,
    pub kind: String,
    pub recipient: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_by: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

/// `None` is bound as NULL (see `NewRegistrationRow`): one statement, kept prepared.
#[derive(Insertable)]
#[diesel(table_name = outbox_emails, treat_none_as_default_value = false)]
pub struct NewOutboxRow<'a> {
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
}

pub fn insert(conn: &mut DbConnection, row: &NewOutboxRow<'_>) -> QueryResult<()> {
    diesel::insert_into(outbox_emails::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// How many emails a registration has had queued (the calendar SEQUENCE of the next).
pub fn count_for_registration(conn: &mut DbConnection, registration_id: &str) -> QueryResult<i64> {
    outbox_emails::table
        .filter(outbox_emails::registration_id.eq(registration_id))
        .count()
        .get_result(conn)
}

/// Claims up to `limit` due emails for `worker` until `lease_until`: pending ones whose
/// time has come, and sending ones whose previous lease ran out (a worker died). On
/// PostgreSQL the candidates are locked with `FOR UPDATE SKIP LOCKED`, so concurrent
/// workers take disjoint sets without waiting; on SQLite the single writer serialises
/// claims. The conditional update is what makes a claim exclusive in both cases.
pub fn claim_due(
    conn: &mut DbConnection,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let due = outbox_emails::status
        .eq(PENDING)
        .and(outbox_emails::next_attempt_at.le(now))
        .or(outbox_emails::status
            .eq(SENDING)
            .and(outbox_emails::locked_until.lt(now)));
    let candidates = outbox_emails::table
        .filter(due)
        .order(outbox_emails::next_attempt_at)
        .limit(limit)
        .select(outbox_emails::id);
    let ids: Vec<String> = match conn {
        DbConnection::Postgres(pg) => candidates.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(_) => candidates.load(conn)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(
        outbox_emails::table
            .filter(outbox_emails::id.eq_any(&ids))
            .filter(due),
    )
    .set((
        outbox_emails::status.eq(SENDING),
        outbox_emails::locked_by.eq(worker),
        outbox_emails::locked_until.eq(lease_until),
        outbox_emails::attempts.eq(outbox_emails::attempts + 1),
    ))
    .execute(conn)?;
    outbox_emails::table
        .filter(outbox_emails::id.eq_any(&ids))
        .filter(outbox_emails::status.eq(SENDING))
        .filter(outbox_emails::locked_by.eq(worker))
        .order(outbox_emails::next_attempt_at)
        .select(OutboxRow::as_select())
        .load(conn)
}

/// Settles an email this worker holds; false when the lease was lost meanwhile.
pub fn settle(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    status: &str,
    next_attempt_at: Option<NaiveDateTime>,
    error: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let target = outbox_emails::table
        .find(id)
        .filter(outbox_emails::status.eq(SENDING))
        .filter(outbox_emails::locked_by.eq(worker));
    let changed = diesel::update(target)
        .set((
            outbox_emails::status.eq(status),
            outbox_emails::locked_by.eq(None::<String>),
            outbox_emails::locked_until.eq(None::<NaiveDateTime>),
            outbox_emails::last_error.eq(error),
            outbox_emails::sent_at.eq((status == SENT).then_some(now)),
            outbox_emails::next_attempt_at.eq(next_attempt_at.unwrap_or(now)),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

pub fn list(
    conn: &mut DbConnection,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let mut query = outbox_emails::table.into_boxed();
    if let Some(status) = status {
        query = query.filter(outbox_emails::status.eq(status.to_owned()));
    }
    query
        .order((outbox_emails::created_at, outbox_emails::id))
        .limit(limit)
        .offset(offset)
        .select(OutboxRow::as_select())
        .load(conn)
}

/// Puts a failed email back in the queue with a fresh attempt budget.
pub fn requeue_failed(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        outbox_emails::table
            .find(id)
            .filter(outbox_emails::status.eq(FAILED)),
    )
    .set((
        outbox_emails::status.eq(PENDING),
        outbox_emails::attempts.eq(0),
        outbox_emails::next_attempt_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OutboxRow>> {
    outbox_emails::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()
}

/// How many emails are in each status (the outbox depth is pending + sending).
pub fn count_by_status(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    outbox_emails::table
        .group_by(outbox_emails::status)
        .select((outbox_emails::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Removes a person from the outbox: emails not yet sent are deleted (none will go out;
/// one a worker is sending at this very moment may still arrive), and the sent ones
/// keep only their bookkeeping (kind, status, times), addressed to `erased_address`.
pub fn forget_registration(
    conn: &mut DbConnection,
    registration_id: &str,
    erased_address: &str,
) -> QueryResult<()> {
    let of_person = outbox_emails::registration_id.eq(registration_id);
    diesel::delete(
        outbox_emails::table
            .filter(of_person)
            .filter(outbox_emails::status.ne(SENT)),
    )
    .execute(conn)?;
    diesel::update(outbox_emails::table.filter(of_person))
        .set((
            outbox_emails::recipient.eq(erased_address),
            outbox_emails::payload.eq("{}"),
            outbox_emails::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}
