//! Queries on `api_tokens`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::api_tokens;
use crate::db::DbConnection;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
}

/// A token row to write.
pub struct NewTokenRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub token_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, row: &NewTokenRow<'_>) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(row.id),
            api_tokens::name.eq(row.name),
            api_tokens::role.eq(row.role),
            api_tokens::token_hash.eq(row.token_hash),
            api_tokens::created_at.eq(row.created_at),
            api_tokens::expires_at.eq(row.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A token is live at `now` when it is neither revoked nor expired: the one condition
/// every reader of a token (bearer secrets, board sessions) applies.
#[diesel::dsl::auto_type]
pub fn live_at(now: NaiveDateTime) -> _ {
    api_tokens::revoked_at.is_null().and(
        api_tokens::expires_at
            .is_null()
            .or(api_tokens::expires_at.gt(now)),
    )
}

/// The live token with this hash (a lookup by hash: the secret itself is never compared).
pub fn find_live_by_hash(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<TokenRow>> {
    api_tokens::table
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(live_at(now))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
}

/// The live token with this id.
pub fn find_live(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<Option<TokenRow>> {
    api_tokens::table
        .find(id)
        .filter(live_at(now))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
}

/// The token with this id, whatever its state.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<TokenRow>> {
    api_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
}

/// Every token, oldest first.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<TokenRow>> {
    api_tokens::table
        .order((api_tokens::created_at.asc(), api_tokens::id.asc()))
        .select(TokenRow::as_select())
        .load(conn)
}

/// Marks the token revoked at `now` unless it already is; whether this call revoked it.
pub fn revoke(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        api_tokens::table
            .find(id)
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(changed == 1)
}
