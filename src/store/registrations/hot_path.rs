//! The registration hot path: the row, its ranking and, when the event gives seats at
//! once, the first-choice seat. On PostgreSQL all of it is one statement (every
//! statement there is a round trip); on SQLite, prepared single-row statements.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamp};

use super::{insert_seat_row, NewRegistrationRow};
use crate::db::schema::{registration_counts_pending, registration_preferences, registrations};
use crate::db::DbConnection;
use crate::store::outbox::{self, NewOutboxRow};
use crate::store::site_visits as visits;
use crate::store::webhooks::{self, record_messages_pg, BatchBinds, MessageBatch};

pub fn insert(conn: &mut DbConnection, row: &NewRegistrationRow<'_>) -> QueryResult<()> {
    diesel::insert_into(registrations::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The automatic seat claim of [`claim_seat`] as a `WITH` item named `seat` (the visit
/// id is its one parameter): the conditional update of invariant 1, as in
/// [`visits::try_take_seat`].
macro_rules! seat_claim {
    () => {
        "seat AS (
    UPDATE site_visits SET assigned = assigned + 1
    WHERE id = ? AND assigned < capacity AND NOT frozen
    RETURNING id
)"
    };
}

/// The registration, its ranking and a seat in `seat_in` if it has room, in one
/// statement: on PostgreSQL every statement is a round trip, and this is the
/// registration hot path. The seat is claimed as [`claim_seat`] claims it. When it is,
/// the email and the webhook deliveries that say so are written too (the deliveries for
/// the endpoints that subscribe, if any: [`webhooks::record`]'s statement).
const INSERT_RANKED_PG: &str = concat!(
    "WITH registration AS (
    INSERT INTO registrations (id, event_id, first_name, last_name, email, email_normalized,
        organisation, country, job_title, dietary, status, manage_token_hash, consent_at,
        created_at, updated_at, language, search_text, checkin_code_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    RETURNING id
), ranking AS (
    INSERT INTO registration_preferences (registration_id, rank, site_visit_id)
    SELECT registration.id, CAST(p.rank AS INTEGER), p.visit
    FROM registration, unnest(CAST(? AS TEXT[])) WITH ORDINALITY AS p (visit, rank)
), ",
    seat_claim!(),
    ", mail AS (
    INSERT INTO outbox_emails (id, event_id, registration_id, kind, recipient, payload, status,
        attempts, next_attempt_at, created_at)
    SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM seat WHERE CAST(? AS TEXT) IS NOT NULL
), hooks AS (
    ",
    record_messages_pg!("seat, "),
    "
)
INSERT INTO seat_assignments (registration_id, site_visit_id, assigned_at)
SELECT registration.id, seat.id, ? FROM registration, seat"
);

struct InsertRanked<'a> {
    row: &'a NewRegistrationRow<'a>,
    visit_ids: &'a [String],
    seat_in: Option<&'a str>,
    mail: Mail<'a>,
    hooks: BatchBinds<'a>,
}

/// The outbox row written when the seat is claimed, as binds (all NULL without one).
#[derive(Default)]
struct Mail<'a> {
    id: Option<&'a str>,
    event_id: Option<&'a str>,
    registration_id: Option<&'a str>,
    kind: Option<&'a str>,
    recipient: Option<&'a str>,
    payload: Option<&'a str>,
    status: Option<&'a str>,
    attempts: Option<i32>,
    next_attempt_at: Option<NaiveDateTime>,
    created_at: Option<NaiveDateTime>,
}

impl<'a> Mail<'a> {
    fn of(row: Option<&'a NewOutboxRow<'a>>) -> Self {
        let Some(row) = row else {
            return Self::default();
        };
        Self {
            id: Some(row.id),
            event_id: Some(row.event_id),
            registration_id: row.registration_id,
            kind: Some(row.kind),
            recipient: Some(row.recipient),
            payload: Some(row.payload),
            status: Some(row.status),
            attempts: Some(row.attempts),
            next_attempt_at: Some(row.next_attempt_at),
            created_at: Some(row.created_at),
        }
    }
}

prepared_statement!(InsertRanked);

impl QueryFragment<Pg> for InsertRanked<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let row = self.row;
        // The statement up to the webhook deliveries' binds, then theirs, then the rest.
        let hooks_at = INSERT_RANKED_PG
            .find(record_messages_pg!("seat, "))
            .expect("the statement holds the webhook insert");
        let (head, tail) = INSERT_RANKED_PG.split_at(hooks_at);
        let mut tail = tail.split('?');
        sql_with_binds!(out, head;
            Text => &row.id, Text => &row.event_id, Text => &row.first_name,
            Text => &row.last_name, Text => &row.email, Text => &row.email_normalized,
            Text => &row.organisation, Text => &row.country, Nullable<Text> => &row.job_title,
            Nullable<Text> => &row.dietary, Text => &row.status, Text => &row.manage_token_hash,
            Timestamp => &row.consent_at, Timestamp => &row.created_at,
            Timestamp => &row.updated_at, Text => &row.language, Text => &row.search_text,
            Text => &row.checkin_code_hash,
            Array<Text> => &self.visit_ids, Nullable<Text> => &self.seat_in,
            Nullable<Text> => &self.mail.id, Nullable<Text> => &self.mail.event_id,
            Nullable<Text> => &self.mail.registration_id, Nullable<Text> => &self.mail.kind,
            Nullable<Text> => &self.mail.recipient, Nullable<Text> => &self.mail.payload,
            Nullable<Text> => &self.mail.status, Nullable<Integer> => &self.mail.attempts,
            Nullable<Timestamp> => &self.mail.next_attempt_at,
            Nullable<Timestamp> => &self.mail.created_at, Nullable<Text> => &self.mail.id,
        );
        out.push_sql(tail.next().unwrap_or_default());
        self.hooks.push(&mut out, &mut tail)?;
        out.push_bind_param::<Timestamp, _>(&row.created_at)?;
        out.push_sql(tail.next().unwrap_or_default());
        debug_assert!(tail.next().is_none(), "one bind per placeholder");
        Ok(())
    }
}

/// Inserts a registration with its ranking (`visit_ids`, best first) and, when
/// `seat_in` is given, claims a seat there if it has room ([`claim_seat`]) and then
/// writes `mail_if_seated` (the email that says so) and `hooks_if_seated` (its webhook
/// messages); true when the seat was taken. A duplicate email fails the whole, as
/// [`insert`] does.
pub fn insert_ranked(
    conn: &mut DbConnection,
    row: &NewRegistrationRow<'_>,
    visit_ids: &[String],
    seat_in: Option<&str>,
    mail_if_seated: Option<&NewOutboxRow<'_>>,
    hooks_if_seated: Option<&MessageBatch<'_>>,
) -> QueryResult<bool> {
    if let DbConnection::Postgres(pg) = conn {
        let no_hooks = MessageBatch {
            event_id: None,
            registration_id: None,
            created_at: row.created_at,
            messages: Vec::new(),
        };
        let statement = InsertRanked {
            row,
            visit_ids,
            seat_in,
            mail: Mail::of(mail_if_seated),
            hooks: BatchBinds::of(hooks_if_seated.unwrap_or(&no_hooks)),
        };
        return Ok(statement.execute(pg)? == 1);
    }
    insert(conn, row)?;
    insert_preferences(conn, row.id, visit_ids)?;
    let Some(visit_id) = seat_in else {
        return Ok(false);
    };
    let seated = claim_seat(conn, row.id, visit_id, row.created_at)?;
    if let (true, Some(mail)) = (seated, mail_if_seated) {
        outbox::insert(conn, mail)?;
    }
    if let (true, Some(hooks)) = (seated, hooks_if_seated) {
        webhooks::record(conn, hooks)?;
    }
    Ok(seated)
}

const CLAIM_SEAT_PG: &str = concat!(
    "WITH ",
    seat_claim!(),
    "
INSERT INTO seat_assignments (registration_id, site_visit_id, assigned_at)
SELECT ?, seat.id, ? FROM seat"
);

struct ClaimSeat<'a> {
    registration_id: &'a str,
    visit_id: &'a str,
    now: NaiveDateTime,
}
prepared_statement!(ClaimSeat);

impl QueryFragment<Pg> for ClaimSeat<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        sql_with_binds!(out, CLAIM_SEAT_PG;
            Text => &self.visit_id, Text => &self.registration_id, Timestamp => &self.now);
        Ok(())
    }
}

/// Gives the registration a seat in `visit_id` if the visit has room and is not frozen
/// (the conditional update of [`visits::try_take_seat`] for automatic claims);
/// true when it did. One statement on PostgreSQL, two on SQLite. It leaves the stored
/// queues alone (a new registration is in none): a caller seating someone who waits
/// calls `sync_queues` after it.
pub fn claim_seat(
    conn: &mut DbConnection,
    registration_id: &str,
    visit_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    if let DbConnection::Postgres(pg) = conn {
        let statement = ClaimSeat {
            registration_id,
            visit_id,
            now,
        };
        return Ok(statement.execute(pg)? == 1);
    }
    if !visits::try_take_seat(conn, visit_id, true)? {
        return Ok(false);
    }
    insert_seat_row(conn, registration_id, visit_id, now)?;
    Ok(true)
}

/// Counts a new registration in the maintained counters once its unit of work has
/// written its rows. On SQLite its insert is noted and the counters' triggers skip its
/// ranking and seat rows until this deletes the note (migration
/// `2024-11-11-000000_counts_pending`), so it is counted once instead of once per row;
/// PostgreSQL applies its own notes at commit.
pub fn settle_counts(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    if let DbConnection::Sqlite(lite) = conn {
        diesel::delete(registration_counts_pending::table.find(id)).execute(lite)?;
    }
    Ok(())
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
    match conn {
        // One round trip for all; multi-row inserts are backend-specific SQL in diesel,
        // run on the inner connection.
        DbConnection::Postgres(conn) => {
            diesel::insert_into(registration_preferences::table)
                .values(rows)
                .execute(conn)?;
        }
        // No round trips to save: one prepared single-row insert per rank (a multi-row
        // insert would be prepared again, with its triggers, every time).
        DbConnection::Sqlite(conn) => {
            for row in rows {
                diesel::insert_into(registration_preferences::table)
                    .values(row)
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}
