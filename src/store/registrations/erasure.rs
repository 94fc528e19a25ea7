//! Personal data going away: anonymising a registration, and finding what is to be
//! erased (by email, or not yet erased in events whose retention period is over).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::RegistrationRow;
use crate::db::schema::registrations;
use crate::db::DbConnection;

/// Replaces a registration's personal data with fixed anonymous values; country, status,
/// seat and ranking stay, so every count stays right. The manage link and the check-in
/// code stop working.
/// False when it was already erased (another instance's retention run got there first).
pub fn anonymise(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let email = erased_email(id);
    let changed = diesel::update(
        registrations::table
            .find(id)
            .filter(registrations::erased_at.is_null()),
    )
    .set((
        registrations::first_name.eq(ERASED),
        registrations::last_name.eq(ERASED),
        registrations::email.eq(&email),
        registrations::email_normalized.eq(&email),
        registrations::organisation.eq(""),
        registrations::search_text.eq(""),
        registrations::checkin_code_hash.eq(None::<String>),
        registrations::job_title.eq(None::<String>),
        registrations::dietary.eq(None::<String>),
        // Never the SHA-256 of any token, and unique like the column requires.
        registrations::manage_token_hash.eq(format!("{ERASED}-{id}")),
        registrations::erased_at.eq(Some(now)),
        registrations::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// What erased names become.
pub const ERASED: &str = "erased";

/// The address an erased registration keeps: unique, and undeliverable by definition
/// (`.invalid` is reserved, RFC 2606).
pub fn erased_email(id: &str) -> String {
    format!("{ERASED}-{id}@invalid")
}

/// Every registration, in any event, whose normalised email is one of these.
pub fn find_by_email(
    conn: &mut DbConnection,
    emails_normalized: &[String],
) -> QueryResult<Vec<RegistrationRow>> {
    registrations::table
        .filter(registrations::email_normalized.eq_any(emails_normalized))
        .order((registrations::created_at, registrations::id))
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// Up to `limit` registrations of these events not yet erased.
pub fn not_erased(
    conn: &mut DbConnection,
    event_ids: &[String],
    limit: i64,
) -> QueryResult<Vec<RegistrationRow>> {
    registrations::table
        .filter(registrations::event_id.eq_any(event_ids))
        .filter(registrations::erased_at.is_null())
        .order((registrations::created_at, registrations::id))
        .limit(limit)
        .select(RegistrationRow::as_select())
        .load(conn)
}
