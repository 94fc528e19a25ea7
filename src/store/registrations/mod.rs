//! Queries on registrations, their ranked preferences, their seats and the waitlists
//! derived from them. Who waits is the `visit_waitlist` view (see the waitlist migration
//! and docs/decisions.md, "The waitlist"); in what order is the stored queue
//! (`store::queues`), which every write here that can change what someone waits for
//! keeps in step (`sync_queues`).
//!
//! One file per job: `hot_path` (the registration insert, its ranking and first seat),
//! `waitlists` (who waits for a visit or for the event), `listing` (organisers' lists and
//! reads of many registrations), `erasure` (anonymising and finding what to erase). This
//! file holds the row types, the status, and the reads and writes of one registration;
//! everything is re-exported here, so callers name `store::registrations::…` only.

mod erasure;
mod hot_path;
mod listing;
mod updates;
mod waitlists;

pub use erasure::{anonymise, erased_email, find_by_email, not_erased, ERASED};
pub use hot_path::{claim_seat, insert, insert_preferences, insert_ranked, settle_counts};
pub use listing::{
    active_in_order, confirmed_in_order, count, find_many, keys, keys_among, list_for_event, preferences_of,
    seated_in, seated_keys, seats_of, RegistrationFilter, RosterKey,
};
#[cfg(feature = "reference")]
pub use waitlists::waiting_counts;
pub use waitlists::{
    event_waitlist_position, first_event_waitlisted, next_waiting, set_auto_seat, sync_queues,
    upgrades_among, upgrades_page, waiting_for, waitlist_position,
};

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::schema::{registration_preferences, registrations, seat_assignments};
use crate::db::DbConnection;

pub const CONFIRMED: &str = "confirmed";
pub const WAITLISTED: &str = "waitlisted";
pub const CANCELLED: &str = "cancelled";

/// Where a registration stands (stored as text: `confirmed`, `waitlisted`, `cancelled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// Holds a place of the event (and a seat or a place in a visit's waitlist).
    Confirmed,
    /// On the event-wide waitlist: the event's own capacity is reached.
    Waitlisted,
    Cancelled,
}

impl RegistrationStatus {
    pub const ALL: [Self; 3] = [Self::Confirmed, Self::Waitlisted, Self::Cancelled];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => CONFIRMED,
            Self::Waitlisted => WAITLISTED,
            Self::Cancelled => CANCELLED,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether a registration in this status is shown its check-in code: only a confirmed
    /// one holds a place at the event. The code of a cancelled (or erased) registration,
    /// or of one on the event's waiting list, does not check in, so the manage view, its
    /// page and the emails show none rather than one that fails at the gate. The one rule
    /// for the API, the page and the mail renderer alike.
    pub const fn shows_checkin_code(self) -> bool {
        matches!(self, Self::Confirmed)
    }
}

impl TryFrom<String> for RegistrationStatus {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("unknown registration status `{text}`"))
    }
}

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
    #[diesel(deserialize_as = String)]
    pub status: RegistrationStatus,
    pub manage_token_hash: String,
    pub consent_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub cancelled_at: Option<NaiveDateTime>,
    pub auto_seat: bool,
    /// `en` or `fr`: the language of the person's emails.
    pub language: String,
    /// Set when the person's data was erased or anonymised; the row keeps counting.
    pub erased_at: Option<NaiveDateTime>,
}

/// `None` is bound as NULL rather than left out of the statement, so that every insert
/// is the same statement and diesel keeps it prepared.
#[derive(Insertable)]
#[diesel(table_name = registrations, treat_none_as_default_value = false)]
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
    pub language: &'a str,
    /// `domain::search::search_text` of the names, organisation and email.
    pub search_text: &'a str,
    /// SHA-256 of the registration's check-in code.
    pub checkin_code_hash: &'a str,
}

impl NewRegistrationRow<'_> {
    /// The row as it reads back right after the insert.
    pub fn to_owned_row(&self) -> RegistrationRow {
        RegistrationRow {
            id: self.id.to_owned(),
            event_id: self.event_id.to_owned(),
            first_name: self.first_name.to_owned(),
            last_name: self.last_name.to_owned(),
            email: self.email.to_owned(),
            email_normalized: self.email_normalized.to_owned(),
            organisation: self.organisation.to_owned(),
            country: self.country.to_owned(),
            job_title: self.job_title.map(str::to_owned),
            dietary: self.dietary.map(str::to_owned),
            status: RegistrationStatus::parse(self.status).unwrap_or(RegistrationStatus::Confirmed),
            manage_token_hash: self.manage_token_hash.to_owned(),
            consent_at: self.consent_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            cancelled_at: None,
            auto_seat: true,
            language: self.language.to_owned(),
            erased_at: None,
        }
    }
}

/// The backend of boxed queries, which must name one (`DbConnection` is either).
type Backend = <DbConnection as diesel::Connection>::Backend;

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

/// The event's active (not cancelled) registration with this normalised address: the one
/// the unique index `registrations_active_email` lets exist.
pub fn find_active_by_email(
    conn: &mut DbConnection,
    event_id: &str,
    email_normalized: &str,
) -> QueryResult<Option<RegistrationRow>> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::email_normalized.eq(email_normalized))
        .filter(registrations::status.ne(CANCELLED))
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()
}

/// Registrations whose address has a character outside ASCII: stored as typed before
/// addresses were normalised (now the local part is ASCII and the domain Punycode).
/// `octet_length` and `length` (in characters) are the same functions on both backends.
pub fn with_non_ascii_email(conn: &mut DbConnection) -> QueryResult<Vec<RegistrationRow>> {
    registrations::table
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "octet_length(registrations.email) <> length(registrations.email)",
        ))
        .order((registrations::created_at, registrations::id))
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// Sets the address to send to, the form its uniqueness is checked on, and the search
/// text that includes it.
pub fn set_email(
    conn: &mut DbConnection,
    id: &str,
    email: &str,
    email_normalized: &str,
    search_text: &str,
) -> QueryResult<()> {
    diesel::update(registrations::table.find(id))
        .set((
            registrations::email.eq(email),
            registrations::email_normalized.eq(email_normalized),
            registrations::search_text.eq(search_text),
        ))
        .execute(conn)?;
    Ok(())
}

/// Registrations not erased whose search text holds a character outside ASCII: only
/// lower-cased by the migration that added the column, not yet folded.
pub fn with_unfolded_search_text(conn: &mut DbConnection) -> QueryResult<Vec<RegistrationRow>> {
    registrations::table
        .filter(registrations::erased_at.is_null())
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "octet_length(registrations.search_text) <> length(registrations.search_text)",
        ))
        .order((registrations::created_at, registrations::id))
        .select(RegistrationRow::as_select())
        .load(conn)
}

pub fn set_search_text(conn: &mut DbConnection, id: &str, search_text: &str) -> QueryResult<()> {
    diesel::update(registrations::table.find(id))
        .set(registrations::search_text.eq(search_text))
        .execute(conn)?;
    Ok(())
}

/// Moves a registration from `from` to `to`; false when it was not in `from` (someone
/// else changed it first). On PostgreSQL the update also takes the row lock that every
/// seat change holds while it decides about this person. One prepared statement
/// ([`updates`]).
pub fn change_status(
    conn: &mut DbConnection,
    id: &str,
    from: RegistrationStatus,
    to: RegistrationStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = updates::ChangeStatus {
        id,
        from: from.as_str(),
        to: to.as_str(),
        cancels: to == RegistrationStatus::Cancelled,
        now,
    }
    .execute(conn)?;
    // Locking (`from` is `to`) changes nothing anyone waits for.
    if changed == 1 && from != to {
        sync_queues(conn, id)?;
    }
    Ok(changed == 1)
}

/// Locks an active confirmed registration before its seat is changed by someone else's
/// transaction (promotion); false when it is no longer active.
pub fn lock_confirmed(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    use RegistrationStatus::Confirmed;
    change_status(conn, id, Confirmed, Confirmed, now)
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
    insert_preferences(conn, registration_id, visit_ids)?;
    sync_queues(conn, registration_id)
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
    insert_seat_row(conn, registration_id, visit_id, now)?;
    sync_queues(conn, registration_id)
}

/// The seat row alone: the stored queues are the caller's to sync.
fn insert_seat_row(
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

/// Moves a seat to another visit (a seated person waits for no queue: nothing to sync).
pub fn move_seat(
    conn: &mut DbConnection,
    registration_id: &str,
    visit_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    updates::MoveSeat {
        id: registration_id,
        visit_id,
        now,
    }
    .execute(conn)?;
    Ok(())
}

pub fn delete_seat(conn: &mut DbConnection, registration_id: &str) -> QueryResult<()> {
    diesel::delete(seat_assignments::table.find(registration_id)).execute(conn)?;
    sync_queues(conn, registration_id)
}

/// Active registrations with status `confirmed` (to set up an event-wide capacity).
pub fn count_confirmed(conn: &mut DbConnection, event_id: &str) -> QueryResult<i64> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(CONFIRMED))
        .select(count_star())
        .first(conn)
}
