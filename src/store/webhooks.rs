//! Queries on the webhook tables: endpoints with their subscriptions, and deliveries —
//! recorded in the caller's transaction for every endpoint that subscribes (one
//! statement per message on SQLite, one per change on PostgreSQL; nothing is written
//! when no endpoint subscribes), claimed with a lease in commit order per registration,
//! settled, listed, requeued and forgotten.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{Array, BigInt, HasSqlType, Nullable, Text, Timestamp};

use crate::db::schema::{webhook_deliveries, webhook_endpoints, webhook_subscriptions};
use crate::db::DbConnection;

pub const ACTIVE: &str = "active";
pub const DISABLED: &str = "disabled";

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// The subscription to every event type, those added later included.
pub const EVERY_TYPE: &str = "*";

/// What an erased person's delivered payloads become.
pub const ERASED_PAYLOAD: &str = "{}";

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub event_id: Option<String>,
    pub personal_data: bool,
    pub secret_salt: String,
    pub previous_secret_salt: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = webhook_endpoints, treat_none_as_default_value = false)]
pub struct NewEndpointRow<'a> {
    pub id: &'a str,
    pub url: &'a str,
    pub event_id: Option<&'a str>,
    pub personal_data: bool,
    pub secret_salt: &'a str,
    pub status: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Stores an endpoint and the event types it subscribes to.
pub fn insert_endpoint(
    conn: &mut DbConnection,
    row: &NewEndpointRow<'_>,
    event_types: &[&str],
) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(conn)?;
    for event_type in event_types {
        diesel::insert_into(webhook_subscriptions::table)
            .values((
                webhook_subscriptions::endpoint_id.eq(row.id),
                webhook_subscriptions::event_type.eq(*event_type),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn find_endpoint(conn: &mut DbConnection, id: &str) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()
}

/// Every endpoint, oldest first.
pub fn list_endpoints(conn: &mut DbConnection) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table
        .order((webhook_endpoints::created_at, webhook_endpoints::id))
        .select(EndpointRow::as_select())
        .load(conn)
}

/// `(endpoint id, event type)` of the given endpoints, in type order.
pub fn subscriptions(conn: &mut DbConnection, endpoint_ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    webhook_subscriptions::table
        .filter(webhook_subscriptions::endpoint_id.eq_any(endpoint_ids))
        .order((
            webhook_subscriptions::endpoint_id,
            webhook_subscriptions::event_type,
        ))
        .load(conn)
}

/// Deletes an endpoint with its subscriptions and its delivery log; false when unknown.
pub fn delete_endpoint(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id))).execute(conn)?;
    diesel::delete(webhook_subscriptions::table.filter(webhook_subscriptions::endpoint_id.eq(id)))
        .execute(conn)?;
    Ok(diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? == 1)
}

/// A new signing secret: the current salt becomes the previous one, valid until
/// `previous_until`; false when the endpoint is unknown.
pub fn rotate_secret(
    conn: &mut DbConnection,
    id: &str,
    new_salt: &str,
    previous_until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::previous_secret_salt.eq(webhook_endpoints::secret_salt.nullable()),
            webhook_endpoints::previous_secret_until.eq(previous_until),
            webhook_endpoints::secret_salt.eq(new_salt),
            webhook_endpoints::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Deletes up to `limit` settled deliveries (delivered or failed) made before `before`,
/// oldest first; how many.
pub fn purge_settled(conn: &mut DbConnection, before: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let oldest: Vec<i64> = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq_any([DELIVERED, FAILED]))
        .filter(webhook_deliveries::created_at.lt(before))
        .order(webhook_deliveries::seq)
        .select(webhook_deliveries::seq)
        .limit(limit)
        .load(conn)?;
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::seq.eq_any(oldest))).execute(conn)
}

/// Makes a disabled endpoint active again (it is sent what is recorded from now on;
/// its failed deliveries can be redelivered); false when it was not disabled.
pub fn enable_endpoint(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::status.eq(DISABLED)),
    )
    .set((
        webhook_endpoints::status.eq(ACTIVE),
        webhook_endpoints::disabled_reason.eq(None::<String>),
        webhook_endpoints::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Disables an active endpoint and fails its pending deliveries with `reason` (they stay
/// in its log and can be redelivered once it is active again); false when it was not
/// active.
pub fn disable_endpoint(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::status.eq(ACTIVE)),
    )
    .set((
        webhook_endpoints::status.eq(DISABLED),
        webhook_endpoints::disabled_reason.eq(reason),
        webhook_endpoints::updated_at.eq(now),
    ))
    .execute(conn)?;
    if changed == 1 {
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(id))
                .filter(webhook_deliveries::status.eq(PENDING)),
        )
        .set((
            webhook_deliveries::status.eq(FAILED),
            webhook_deliveries::last_error.eq(format!("not sent: {reason}")),
        ))
        .execute(conn)?;
    }
    Ok(changed == 1)
}

/// Whether a change's messages may have a subscriber, so are worth making. On SQLite,
/// whether any endpoint is active: a statement there is no round trip, and the messages'
/// JSON would otherwise be made on the single writer thread for nobody (measured: +17%
/// writer time per registration). On PostgreSQL true without asking: asking is a round
/// trip, and the insert finds the subscribers itself.
pub fn may_have_subscribers(conn: &mut DbConnection) -> QueryResult<bool> {
    match conn {
        DbConnection::Postgres(_) => Ok(true),
        DbConnection::Sqlite(_) => diesel::select(diesel::dsl::exists(
            webhook_endpoints::table.filter(webhook_endpoints::status.eq(ACTIVE)),
        ))
        .get_result(conn),
    }
}

/// Messages about one change: each goes to every active endpoint that subscribes to its
/// type (and to its event, or to every event).
pub struct MessageBatch<'a> {
    pub event_id: Option<&'a str>,
    pub registration_id: Option<&'a str>,
    pub created_at: NaiveDateTime,
    /// In the order they are to be delivered.
    pub messages: Vec<NewMessage<'a>>,
}

pub struct NewMessage<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    /// The body for endpoints without `personal_data`.
    pub payload: &'a str,
    /// The body for endpoints with `personal_data`.
    pub personal_payload: &'a str,
}

/// The insert of a change's messages for their subscribers on PostgreSQL, as SQL text;
/// `$gate` is prefixed to its `FROM` list (the registration hot path gates it on its
/// seat claim with `"seat, "`). Binds, in order: event id, registration id, next attempt
/// and creation time, then the messages' ids, types, payloads and personal payloads as
/// arrays, then the event id again.
macro_rules! record_messages_pg {
    ($gate:literal) => {
        concat!(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_type, event_id, registration_id,
        payload, status, attempts, next_attempt_at, created_at)
    SELECT m.id, e.id, m.event_type, ?, ?,
        CASE WHEN e.personal_data THEN m.personal ELSE m.payload END, 'pending', 0, ?, ?
    FROM ",
            $gate,
            "unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]))
            WITH ORDINALITY AS m (id, event_type, payload, personal, n),
        webhook_endpoints e
    WHERE e.status = 'active' AND (e.event_id IS NULL OR e.event_id = ?)
        AND EXISTS (SELECT 1 FROM webhook_subscriptions s
            WHERE s.endpoint_id = e.id AND s.event_type IN (m.event_type, '*'))
    ORDER BY m.n, e.id"
        )
    };
}
pub(crate) use record_messages_pg;

/// A [`MessageBatch`] as the binds of [`record_messages_pg!`].
pub struct BatchBinds<'a> {
    pub event_id: Option<&'a str>,
    pub registration_id: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub ids: Vec<&'a str>,
    pub types: Vec<&'a str>,
    pub payloads: Vec<&'a str>,
    pub personal: Vec<&'a str>,
}

impl<'a> BatchBinds<'a> {
    pub fn of(batch: &MessageBatch<'a>) -> Self {
        let column = |pick: fn(&NewMessage<'a>) -> &'a str| batch.messages.iter().map(pick).collect();
        Self {
            event_id: batch.event_id,
            registration_id: batch.registration_id,
            created_at: batch.created_at,
            ids: column(|m| m.id),
            types: column(|m| m.event_type),
            payloads: column(|m| m.payload),
            personal: column(|m| m.personal_payload),
        }
    }

    /// Pushes the binds of [`record_messages_pg!`] after the SQL before them.
    pub fn push<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, Pg>,
        parts: &mut std::str::Split<'_, char>,
    ) -> QueryResult<()> {
        macro_rules! bind {
            ($ty:ty => $value:expr) => {
                out.push_bind_param::<$ty, _>($value)?;
                out.push_sql(parts.next().unwrap_or_default());
            };
        }
        bind!(Nullable<Text> => &self.event_id);
        bind!(Nullable<Text> => &self.registration_id);
        bind!(Timestamp => &self.created_at);
        bind!(Timestamp => &self.created_at);
        bind!(Array<Text> => &self.ids);
        bind!(Array<Text> => &self.types);
        bind!(Array<Text> => &self.payloads);
        bind!(Array<Text> => &self.personal);
        bind!(Nullable<Text> => &self.event_id);
        Ok(())
    }
}

struct RecordBatchPg<'a>(BatchBinds<'a>);
prepared_statement!(RecordBatchPg);

impl QueryFragment<Pg> for RecordBatchPg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut parts = record_messages_pg!("").split('?');
        out.push_sql(parts.next().unwrap_or_default());
        self.0.push(&mut out, &mut parts)
    }
}

/// One message for its subscribers (SQLite, where a statement is no round trip).
struct RecordMessage<'a> {
    batch: &'a MessageBatch<'a>,
    message: &'a NewMessage<'a>,
}
prepared_statement!(RecordMessage);

impl<DB> QueryFragment<DB> for RecordMessage<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    str: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let (batch, message) = (self.batch, self.message);
        sql_with_binds!(out, "INSERT INTO webhook_deliveries (id, endpoint_id, event_type, event_id,
                registration_id, payload, status, attempts, next_attempt_at, created_at)
            SELECT ?, e.id, ?, ?, ?, CASE WHEN e.personal_data THEN ? ELSE ? END, 'pending', 0, ?, ?
            FROM webhook_endpoints e
            WHERE e.status = 'active' AND (e.event_id IS NULL OR e.event_id = ?)
                AND EXISTS (SELECT 1 FROM webhook_subscriptions s
                    WHERE s.endpoint_id = e.id AND s.event_type IN (?, '*'))";
            Text => message.id, Text => message.event_type, Nullable<Text> => &batch.event_id,
            Nullable<Text> => &batch.registration_id, Text => message.personal_payload,
            Text => message.payload, Timestamp => &batch.created_at, Timestamp => &batch.created_at,
            Nullable<Text> => &batch.event_id, Text => message.event_type);
        Ok(())
    }
}

/// Writes `batch` for its subscribers, in the caller's transaction: one statement on
/// PostgreSQL, one per message on SQLite. With no subscriber it writes nothing.
pub fn record(conn: &mut DbConnection, batch: &MessageBatch<'_>) -> QueryResult<()> {
    if batch.messages.is_empty() {
        return Ok(());
    }
    match conn {
        DbConnection::Postgres(pg) => {
            RecordBatchPg(BatchBinds::of(batch)).execute(pg)?;
        }
        DbConnection::Sqlite(_) => {
            for message in &batch.messages {
                RecordMessage { batch, message }.execute(conn)?;
            }
        }
    }
    Ok(())
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub seq: i64,
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    pub registration_id: Option<String>,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub response_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

/// A claimed delivery with what sending it needs.
#[derive(Clone, Debug, Queryable)]
pub struct DueDelivery {
    pub seq: i64,
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    /// Counting this one.
    pub attempts: i32,
    pub url: String,
    pub secret_salt: String,
    pub previous_secret_salt: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
}

/// The deliveries due at `now` that may go: pending ones whose time has come and sending
/// ones whose lease ran out (a worker died), of active endpoints, each the earliest of
/// its endpoint and registration still pending or being sent (a later one waits for it).
/// `?` binds: now, now.
const DUE: &str = "((d.status = 'pending' AND d.next_attempt_at <= ?)
        OR (d.status = 'sending' AND d.locked_until < ?))
    AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.status = 'active')
    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
        WHERE p.endpoint_id = d.endpoint_id AND p.registration_id = d.registration_id
            AND p.seq < d.seq AND p.status IN ('pending', 'sending'))";

#[derive(QueryableByName)]
struct Seq {
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// `?` placeholders as PostgreSQL's `$1, $2…`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    for (n, part) in sql.split('?').enumerate() {
        if n > 0 {
            out.push_str(&format!("${n}"));
        }
        out.push_str(part);
    }
    out
}

/// Whether anything is due (a read, so that an idle worker takes no write lock).
pub fn has_due(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
    let sql = format!("SELECT d.seq FROM webhook_deliveries d WHERE {DUE} LIMIT 1");
    let found: Vec<Seq> = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(numbered(&sql))
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .load(lite)?,
    };
    Ok(!found.is_empty())
}

/// Claims up to `limit` due deliveries for `worker` until `lease_until`, in commit order.
/// On PostgreSQL the candidates are locked with `FOR UPDATE SKIP LOCKED`, so concurrent
/// workers take disjoint sets without waiting; on SQLite the single writer serialises
/// claims. The conditional update is what makes a claim exclusive in both cases. No two
/// deliveries of one endpoint and registration are ever claimed together.
pub fn claim_due(
    conn: &mut DbConnection,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<DueDelivery>> {
    let sql = format!("SELECT d.seq FROM webhook_deliveries d WHERE {DUE} ORDER BY d.seq LIMIT ?");
    let candidates: Vec<Seq> = match conn {
        DbConnection::Postgres(pg) => {
            diesel::sql_query(numbered(&format!("{sql} FOR UPDATE OF d SKIP LOCKED")))
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(pg)?
        }
        DbConnection::Sqlite(lite) => diesel::sql_query(sql)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(lite)?,
    };
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let seqs: Vec<i64> = candidates.into_iter().map(|c| c.seq).collect();
    let still_due = webhook_deliveries::status
        .eq(PENDING)
        .and(webhook_deliveries::next_attempt_at.le(now))
        .or(webhook_deliveries::status
            .eq(SENDING)
            .and(webhook_deliveries::locked_until.lt(now)));
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::seq.eq_any(&seqs))
            .filter(still_due),
    )
    .set((
        webhook_deliveries::status.eq(SENDING),
        webhook_deliveries::locked_by.eq(worker),
        webhook_deliveries::locked_until.eq(lease_until),
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
    ))
    .execute(conn)?;
    webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::seq.eq_any(&seqs))
        .filter(webhook_deliveries::status.eq(SENDING))
        .filter(webhook_deliveries::locked_by.eq(worker))
        .order(webhook_deliveries::seq)
        .select((
            webhook_deliveries::seq,
            webhook_deliveries::id,
            webhook_deliveries::endpoint_id,
            webhook_deliveries::event_type,
            webhook_deliveries::payload,
            webhook_deliveries::attempts,
            webhook_endpoints::url,
            webhook_endpoints::secret_salt,
            webhook_endpoints::previous_secret_salt,
            webhook_endpoints::previous_secret_until,
        ))
        .load(conn)
}

/// How an attempt ended, as stored.
pub struct Settlement<'a> {
    pub status: &'a str,
    /// When to try again (pending only).
    pub next_attempt_at: Option<NaiveDateTime>,
    pub response_status: Option<i32>,
    pub error: Option<&'a str>,
}

/// Settles a delivery this worker holds; false when the lease was lost meanwhile.
pub fn settle(
    conn: &mut DbConnection,
    seq: i64,
    worker: &str,
    settlement: &Settlement<'_>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let target = webhook_deliveries::table
        .find(seq)
        .filter(webhook_deliveries::status.eq(SENDING))
        .filter(webhook_deliveries::locked_by.eq(worker));
    let changed = diesel::update(target)
        .set((
            webhook_deliveries::status.eq(settlement.status),
            webhook_deliveries::locked_by.eq(None::<String>),
            webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
            webhook_deliveries::response_status.eq(settlement.response_status),
            webhook_deliveries::last_error.eq(settlement.error),
            webhook_deliveries::delivered_at.eq((settlement.status == DELIVERED).then_some(now)),
            webhook_deliveries::next_attempt_at.eq(settlement.next_attempt_at.unwrap_or(now)),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// A page of an endpoint's deliveries, newest first, optionally of one status.
pub fn list_deliveries(
    conn: &mut DbConnection,
    endpoint_id: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id.to_owned()))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(webhook_deliveries::status.eq(status.to_owned()));
    }
    query
        .order(webhook_deliveries::seq.desc())
        .limit(limit)
        .offset(offset)
        .select(DeliveryRow::as_select())
        .load(conn)
}

pub fn find_delivery(
    conn: &mut DbConnection,
    endpoint_id: &str,
    id: &str,
) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::id.eq(id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// Puts a delivered or failed delivery back in the queue with a fresh attempt budget;
/// false when it is pending or being sent.
pub fn requeue(conn: &mut DbConnection, seq: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        webhook_deliveries::table
            .find(seq)
            .filter(webhook_deliveries::status.eq_any([DELIVERED, FAILED])),
    )
    .set((
        webhook_deliveries::status.eq(PENDING),
        webhook_deliveries::attempts.eq(0),
        webhook_deliveries::next_attempt_at.eq(now),
        webhook_deliveries::last_error.eq(None::<String>),
        webhook_deliveries::response_status.eq(None::<i32>),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// How many deliveries are in each status.
pub fn count_by_status(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    webhook_deliveries::table
        .group_by(webhook_deliveries::status)
        .select((webhook_deliveries::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Removes a person from the webhook outbox: deliveries not delivered are deleted (none
/// will go out; one a worker is sending at this very moment may still arrive), and the
/// delivered ones keep only their bookkeeping (type, status, times) with an empty
/// payload.
pub fn forget_registration(conn: &mut DbConnection, registration_id: &str) -> QueryResult<()> {
    let of_person = webhook_deliveries::registration_id.eq(registration_id);
    diesel::delete(
        webhook_deliveries::table
            .filter(of_person)
            .filter(webhook_deliveries::status.ne(DELIVERED)),
    )
    .execute(conn)?;
    diesel::update(webhook_deliveries::table.filter(of_person))
        .set((
            webhook_deliveries::payload.eq(ERASED_PAYLOAD),
            webhook_deliveries::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}
