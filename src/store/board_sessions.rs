//! Queries on `board_sessions`: the organiser board's sign-in sessions, each kept under
//! the SHA-256 of the secret its cookie carries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::tokens::{self, TokenRow};
use crate::db::schema::{api_tokens, board_sessions};
use crate::db::DbConnection;

pub fn insert(
    conn: &mut DbConnection,
    secret_hash: &str,
    token_id: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(board_sessions::table)
        .values((
            board_sessions::secret_hash.eq(secret_hash),
            board_sessions::token_id.eq(token_id),
            board_sessions::created_at.eq(now),
            board_sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The token of the session with this hash, if the session is unexpired at `now` and
/// its token live.
pub fn find_live_token(
    conn: &mut DbConnection,
    secret_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<TokenRow>> {
    board_sessions::table
        .inner_join(api_tokens::table)
        .filter(board_sessions::secret_hash.eq(secret_hash))
        .filter(board_sessions::expires_at.gt(now))
        .filter(tokens::live_at(now))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
}

/// Deletes one session; how many rows went (0 or 1).
pub fn delete(conn: &mut DbConnection, secret_hash: &str) -> QueryResult<usize> {
    diesel::delete(board_sessions::table.find(secret_hash)).execute(conn)
}

/// Deletes every session of a token; how many went.
pub fn delete_for_token(conn: &mut DbConnection, token_id: &str) -> QueryResult<usize> {
    diesel::delete(board_sessions::table.filter(board_sessions::token_id.eq(token_id))).execute(conn)
}

/// Deletes the sessions expired at `now`; how many went.
pub fn delete_expired(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(board_sessions::table.filter(board_sessions::expires_at.le(now))).execute(conn)
}
