//! Queries on `idempotency_keys`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::idempotency_keys;
use crate::db::DbConnection;

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct StoredAnswer {
    pub idempotency_key: String,
    pub scope: String,
    pub request_hash: String,
    pub status: i32,
    pub response: String,
    pub created_at: NaiveDateTime,
}

/// The answer kept for this key and scope, if it is newer than `since`.
pub fn find(
    conn: &mut DbConnection,
    key: &str,
    scope: &str,
    since: NaiveDateTime,
) -> QueryResult<Option<StoredAnswer>> {
    idempotency_keys::table
        .find((key, scope))
        .filter(idempotency_keys::created_at.gt(since))
        .select(StoredAnswer::as_select())
        .first(conn)
        .optional()
}

/// Keeps an answer, replacing an expired one under the same key.
pub fn insert(
    conn: &mut DbConnection,
    answer: &StoredAnswer,
    expired_before: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(
        idempotency_keys::table
            .find((&answer.idempotency_key, &answer.scope))
            .filter(idempotency_keys::created_at.le(expired_before)),
    )
    .execute(conn)?;
    diesel::insert_into(idempotency_keys::table)
        .values(answer)
        .execute(conn)?;
    Ok(())
}

pub fn set_response(conn: &mut DbConnection, answer: &StoredAnswer) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((&answer.idempotency_key, &answer.scope)))
        .set(idempotency_keys::response.eq(&answer.response))
        .execute(conn)?;
    Ok(())
}

/// Forgets every stored answer that names this registration (its id is in every answer
/// about it, and ids are UUIDs, so nothing else matches). A scan, but of at most a day
/// of answers, and only when a person is erased.
pub fn forget_registration(conn: &mut DbConnection, registration_id: &str) -> QueryResult<usize> {
    diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::response.like(format!("%{registration_id}%"))),
    )
    .execute(conn)
}

diesel::define_sql_function! {
    /// SQL `lower()` (ASCII on SQLite: addresses are stored with an ASCII local part and a
    /// Punycode domain).
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Deletes every kept answer that holds this address, in any letter case: the answer to
/// an attempt to register an address already registered (invariant 13) names no
/// registration of the person, only their address.
pub fn forget_address(conn: &mut DbConnection, email_normalized: &str) -> QueryResult<usize> {
    let escaped = email_normalized
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    diesel::delete(
        idempotency_keys::table.filter(
            lower(idempotency_keys::response)
                .like(format!("%{escaped}%"))
                .escape('\\'),
        ),
    )
    .execute(conn)
}

/// Whether any answer is older than `before`.
pub fn any_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        idempotency_keys::table.filter(idempotency_keys::created_at.le(before)),
    ))
    .get_result(conn)
}

/// Forgets answers older than `before`.
pub fn purge(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.le(before))).execute(conn)
}
