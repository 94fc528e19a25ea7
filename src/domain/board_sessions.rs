//! The organiser board's sessions, kept on the server. Signing in with a live organiser
//! or admin token opens one: a row under the SHA-256 of a fresh 256-bit secret that only
//! the browser's cookie holds (the token's own secret never reaches the browser). A
//! board request counts only with a row that is unexpired and whose token is live, so a
//! session ends — in every browser holding a copy of its cookie — when it is signed out
//! (its row deleted), when its token is revoked (the token's rows deleted) or expires,
//! and after [`SESSION_HOURS`].

use chrono::{Duration, NaiveDateTime};

use super::access::{hash_secret, is_bare_secret, new_secret, Principal};
use super::error::DomainError;
use crate::db::DbConnection;
use crate::store::{board_sessions, tokens};

/// How long a session lasts at most; never past its token's expiry.
pub const SESSION_HOURS: i64 = 12;

/// A session just opened: its secret goes into the cookie and nowhere else.
pub struct OpenedSession {
    pub principal: Principal,
    pub secret: String,
    /// From opening to expiry: at most [`SESSION_HOURS`].
    pub lasts: Duration,
}

/// Opens a session for the token `token_id` (whose secret the caller has just checked),
/// if the token is still live at `now`. Expired sessions of every token are purged here,
/// so the table holds little more than the sessions in use.
pub fn open(
    conn: &mut DbConnection,
    token_id: &str,
    now: NaiveDateTime,
) -> Result<Option<OpenedSession>, DomainError> {
    board_sessions::delete_expired(conn, now)?;
    // Revoked or expired since its secret was checked: no session.
    let Some(row) = tokens::find_live(conn, token_id, now)? else {
        return Ok(None);
    };
    let token_expiry = row.expires_at;
    let Some(principal) = Principal::from_row(row) else {
        return Ok(None);
    };
    let longest = now + Duration::hours(SESSION_HOURS);
    let expires_at = token_expiry.map_or(longest, |end| end.min(longest));
    let secret = new_secret("");
    board_sessions::insert(conn, &hash_secret(&secret), &principal.token_id, now, expires_at)?;
    Ok(Some(OpenedSession {
        principal,
        secret,
        lasts: expires_at - now,
    }))
}

/// The principal of the session whose cookie holds `secret`, if the session is
/// unexpired at `now` and its token live. Anything but a secret's shape is not looked up.
pub fn principal(
    conn: &mut DbConnection,
    secret: &str,
    now: NaiveDateTime,
) -> Result<Option<Principal>, DomainError> {
    if !is_bare_secret(secret) {
        return Ok(None);
    }
    Ok(board_sessions::find_live_token(conn, &hash_secret(secret), now)?.and_then(Principal::from_row))
}

/// Ends the session whose cookie holds `secret` (signing out); whether there was one.
pub fn end(conn: &mut DbConnection, secret: &str) -> Result<bool, DomainError> {
    if !is_bare_secret(secret) {
        return Ok(false);
    }
    Ok(board_sessions::delete(conn, &hash_secret(secret))? == 1)
}
