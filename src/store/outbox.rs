//! Queries on `outbox_emails`: enqueue in the caller's transaction, claim with a lease
//! (so several workers in several processes never send one email twice), and settle
//! many claimed emails in one write.

use std::collections::HashSet;

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

/// Whether the registration has an email of `kind` queued at or after `since` (sent or
/// not): how often an email may go out is counted in the outbox itself.
pub fn queued_since(
    conn: &mut DbConnection,
    registration_id: &str,
    kind: &str,
    since: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        outbox_emails::table
            .filter(outbox_emails::registration_id.eq(registration_id))
            .filter(outbox_emails::kind.eq(kind))
            .filter(outbox_emails::created_at.ge(since)),
    ))
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

/// What became of an email a worker claimed, as [`settle_many`] records it.
#[derive(Clone, Debug, PartialEq)]
pub enum Settlement {
    /// The SMTP server accepted it (or its file was written).
    Sent,
    /// A temporary failure: due again at `at`.
    Retry { at: NaiveDateTime, error: String },
    /// Given up (a permanent failure, or attempts exhausted): listed as failed.
    Failed { error: String },
    /// Never tried (the worker is stopping, or the email waited too long for a sender):
    /// due at once, and the attempt its claim counted is given back.
    HandedBack,
}

/// Settles emails this worker holds, all in the caller's one transaction: each row
/// changes only while it is still `sending` under `worker`'s lease, as a claim left it.
/// Returns the ids whose lease was lost meanwhile (it ran out and another worker took
/// the email over); those rows are left to their new holder.
pub fn settle_many(
    conn: &mut DbConnection,
    worker: &str,
    settlements: &[(String, Settlement)],
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    let held = outbox_emails::status
        .eq(SENDING)
        .and(outbox_emails::locked_by.eq(worker));
    let released = (
        outbox_emails::locked_by.eq(None::<String>),
        outbox_emails::locked_until.eq(None::<NaiveDateTime>),
    );
    let mut lost = Vec::new();
    // The sent ones, the bulk of any batch, in one statement per slice of bind values.
    let sent: Vec<&str> = settlements
        .iter()
        .filter(|(_, settlement)| *settlement == Settlement::Sent)
        .map(|(id, _)| id.as_str())
        .collect();
    for slice in sent.chunks(SETTLE_SLICE) {
        let settled: HashSet<String> = diesel::update(
            outbox_emails::table
                .filter(outbox_emails::id.eq_any(slice))
                .filter(held),
        )
        .set((
            outbox_emails::status.eq(SENT),
            released.clone(),
            outbox_emails::last_error.eq(None::<String>),
            outbox_emails::sent_at.eq(Some(now)),
            outbox_emails::next_attempt_at.eq(now),
        ))
        .returning(outbox_emails::id)
        .get_results(conn)?
        .into_iter()
        .collect();
        lost.extend(
            slice
                .iter()
                .filter(|id| !settled.contains(**id))
                .map(|id| (*id).to_owned()),
        );
    }
    for (id, settlement) in settlements {
        let target = outbox_emails::table.find(id).filter(held);
        let changed = match settlement {
            Settlement::Sent => continue,
            Settlement::Retry { at, error } => diesel::update(target)
                .set((
                    outbox_emails::status.eq(PENDING),
                    released.clone(),
                    outbox_emails::last_error.eq(error),
                    outbox_emails::next_attempt_at.eq(at),
                ))
                .execute(conn)?,
            Settlement::Failed { error } => diesel::update(target)
                .set((
                    outbox_emails::status.eq(FAILED),
                    released.clone(),
                    outbox_emails::last_error.eq(error),
                    outbox_emails::next_attempt_at.eq(now),
                ))
                .execute(conn)?,
            Settlement::HandedBack => diesel::update(target)
                .set((
                    outbox_emails::status.eq(PENDING),
                    released.clone(),
                    outbox_emails::attempts.eq(outbox_emails::attempts - 1),
                    outbox_emails::next_attempt_at.eq(now),
                ))
                .execute(conn)?,
        };
        if changed != 1 {
            lost.push(id.clone());
        }
    }
    Ok(lost)
}

/// Ids bound in one settling statement: far below SQLite's limit of bind values.
const SETTLE_SLICE: usize = 500;

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
