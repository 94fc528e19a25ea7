//! Queries on registrations, their ranked preferences, their seats and the waitlists
//! derived from them. A waitlist is not stored: it is the `visit_waitlist` view (see the
//! waitlist migration and docs/decisions.md, "The waitlist").

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, exists, not};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, Nullable, Text, Timestamp};

use crate::db::schema::{registration_preferences, registrations, seat_assignments, visit_waitlist};
use crate::db::DbConnection;
use crate::store::site_visits as visits;

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
}

impl TryFrom<String> for RegistrationStatus {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("unknown registration status `{text}`"))
    }
}

diesel::alias!(registration_preferences as held: HeldPreference);

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
/// registration hot path. The seat is claimed as [`claim_seat`] claims it.
const INSERT_RANKED_PG: &str = concat!(
    "WITH registration AS (
    INSERT INTO registrations (id, event_id, first_name, last_name, email, email_normalized,
        organisation, country, job_title, dietary, status, manage_token_hash, consent_at,
        created_at, updated_at, language)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    RETURNING id
), ranking AS (
    INSERT INTO registration_preferences (registration_id, rank, site_visit_id)
    SELECT registration.id, CAST(p.rank AS INTEGER), p.visit
    FROM registration, unnest(CAST(? AS TEXT[])) WITH ORDINALITY AS p (visit, rank)
), ",
    seat_claim!(),
    "
INSERT INTO seat_assignments (registration_id, site_visit_id, assigned_at)
SELECT registration.id, seat.id, ? FROM registration, seat"
);

struct InsertRanked<'a> {
    row: &'a NewRegistrationRow<'a>,
    visit_ids: &'a [String],
    seat_in: Option<&'a str>,
}

prepared_statement!(InsertRanked);

impl QueryFragment<Pg> for InsertRanked<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let row = self.row;
        sql_with_binds!(out, INSERT_RANKED_PG;
            Text => &row.id, Text => &row.event_id, Text => &row.first_name,
            Text => &row.last_name, Text => &row.email, Text => &row.email_normalized,
            Text => &row.organisation, Text => &row.country, Nullable<Text> => &row.job_title,
            Nullable<Text> => &row.dietary, Text => &row.status, Text => &row.manage_token_hash,
            Timestamp => &row.consent_at, Timestamp => &row.created_at,
            Timestamp => &row.updated_at, Text => &row.language,
            Array<Text> => &self.visit_ids, Nullable<Text> => &self.seat_in,
            Timestamp => &row.created_at,
        );
        Ok(())
    }
}

/// Inserts a registration with its ranking (`visit_ids`, best first) and, when
/// `seat_in` is given, claims a seat there if it has room ([`claim_seat`]); true when
/// the seat was taken. A duplicate email fails the whole, as [`insert`] does.
pub fn insert_ranked(
    conn: &mut DbConnection,
    row: &NewRegistrationRow<'_>,
    visit_ids: &[String],
    seat_in: Option<&str>,
) -> QueryResult<bool> {
    if let DbConnection::Postgres(pg) = conn {
        let statement = InsertRanked {
            row,
            visit_ids,
            seat_in,
        };
        return Ok(statement.execute(pg)? == 1);
    }
    insert(conn, row)?;
    insert_preferences(conn, row.id, visit_ids)?;
    match seat_in {
        Some(visit_id) => claim_seat(conn, row.id, visit_id, row.created_at),
        None => Ok(false),
    }
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
/// true when it did. One statement on PostgreSQL, two on SQLite.
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
    insert_seat(conn, registration_id, visit_id, now)?;
    Ok(true)
}

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

/// Moves a registration from `from` to `to`; false when it was not in `from` (someone
/// else changed it first). On PostgreSQL the update also takes the row lock that every
/// seat change holds while it decides about this person.
pub fn change_status(
    conn: &mut DbConnection,
    id: &str,
    from: &[RegistrationStatus],
    to: RegistrationStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let from: Vec<&str> = from.iter().map(|status| status.as_str()).collect();
    let to = to.as_str();
    let target = registrations::table
        .find(id)
        .filter(registrations::status.eq_any(from));
    let changed = if to == CANCELLED {
        diesel::update(target)
            .set((
                registrations::status.eq(to),
                registrations::updated_at.eq(now),
                registrations::cancelled_at.eq(Some(now)),
            ))
            .execute(conn)?
    } else {
        diesel::update(target)
            .set((registrations::status.eq(to), registrations::updated_at.eq(now)))
            .execute(conn)?
    };
    Ok(changed == 1)
}

/// Locks an active confirmed registration before its seat is changed by someone else's
/// transaction (promotion); false when it is no longer active.
pub fn lock_confirmed(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    use RegistrationStatus::Confirmed;
    change_status(conn, id, &[Confirmed], Confirmed, now)
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
    insert_preferences(conn, registration_id, visit_ids)
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
    diesel::insert_into(seat_assignments::table)
        .values((
            seat_assignments::registration_id.eq(registration_id),
            seat_assignments::site_visit_id.eq(visit_id),
            seat_assignments::assigned_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn move_seat(
    conn: &mut DbConnection,
    registration_id: &str,
    visit_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(seat_assignments::table.find(registration_id))
        .set((
            seat_assignments::site_visit_id.eq(visit_id),
            seat_assignments::assigned_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete_seat(conn: &mut DbConnection, registration_id: &str) -> QueryResult<()> {
    diesel::delete(seat_assignments::table.find(registration_id)).execute(conn)?;
    Ok(())
}

/// The people waiting for `visit_id`, in the order a free seat goes to them (invariant
/// 4): those holding no seat by registration time, then those holding a seat they
/// ranked lower. Who waits is defined once, by the `visit_waitlist` view.
fn waitlist_of(visit_id: &str) -> visit_waitlist::BoxedQuery<'_, Backend> {
    visit_waitlist::table
        .filter(visit_waitlist::site_visit_id.eq(visit_id))
        .order((
            visit_waitlist::upgrading,
            visit_waitlist::created_at,
            visit_waitlist::registration_id,
        ))
        .into_boxed()
}

/// The first `limit` people waiting for `visit_id` who hold no seat, then (when
/// `upgrades`) those who would move up from a lower-ranked seat.
pub fn waiting_for(
    conn: &mut DbConnection,
    visit_id: &str,
    upgrades: bool,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let mut query = waitlist_of(visit_id);
    if !upgrades {
        query = query.filter(visit_waitlist::upgrading.eq(false));
    }
    query
        .select(visit_waitlist::registration_id)
        .limit(limit)
        .load(conn)
}

/// The next person a free seat of `visit_id` goes to.
pub fn next_waiting(conn: &mut DbConnection, visit_id: &str) -> QueryResult<Option<String>> {
    waitlist_of(visit_id)
        .select(visit_waitlist::registration_id)
        .first(conn)
        .optional()
}

/// Whether automatic seat changes apply to the registration (an organiser's placement
/// turns them off; the person's own new ranking turns them on again).
pub fn set_auto_seat(conn: &mut DbConnection, id: &str, auto_seat: bool) -> QueryResult<()> {
    diesel::update(registrations::table.find(id))
        .set(registrations::auto_seat.eq(auto_seat))
        .execute(conn)?;
    Ok(())
}

/// 1-based place of an unseated registration in the visit's waitlist (the people
/// holding a seat come after everyone who holds none, so only those count).
pub fn waitlist_position(
    conn: &mut DbConnection,
    visit_id: &str,
    registration: &RegistrationRow,
) -> QueryResult<i64> {
    let ahead: i64 = visit_waitlist::table
        .filter(visit_waitlist::site_visit_id.eq(visit_id))
        .filter(visit_waitlist::upgrading.eq(false))
        .filter(
            visit_waitlist::created_at
                .lt(registration.created_at)
                .or(visit_waitlist::created_at
                    .eq(registration.created_at)
                    .and(visit_waitlist::registration_id.lt(&registration.id))),
        )
        .select(count_star())
        .first(conn)?;
    Ok(ahead + 1)
}

/// How many wait for each visit of the event that anyone waits for.
pub fn waiting_counts(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<(String, i64)>> {
    visit_waitlist::table
        .filter(visit_waitlist::event_id.eq(event_id))
        .group_by(visit_waitlist::site_visit_id)
        .select((visit_waitlist::site_visit_id, count_star()))
        .load(conn)
}

/// The earliest registration on the event-wide waitlist.
pub fn first_event_waitlisted(conn: &mut DbConnection, event_id: &str) -> QueryResult<Option<String>> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(WAITLISTED))
        .order((registrations::created_at, registrations::id))
        .select(registrations::id)
        .first(conn)
        .optional()
}

/// 1-based place on the event-wide waitlist.
pub fn event_waitlist_position(conn: &mut DbConnection, registration: &RegistrationRow) -> QueryResult<i64> {
    let ahead: i64 = registrations::table
        .filter(registrations::event_id.eq(&registration.event_id))
        .filter(registrations::status.eq(WAITLISTED))
        .filter(
            registrations::created_at
                .lt(registration.created_at)
                .or(registrations::created_at
                    .eq(registration.created_at)
                    .and(registrations::id.lt(&registration.id))),
        )
        .select(count_star())
        .first(conn)?;
    Ok(ahead + 1)
}

/// Active registrations with status `confirmed` (to set up an event-wide capacity).
pub fn count_confirmed(conn: &mut DbConnection, event_id: &str) -> QueryResult<i64> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(CONFIRMED))
        .select(count_star())
        .first(conn)
}

diesel::define_sql_function! {
    /// SQL `lower()`, for case-insensitive search on both backends (ASCII on SQLite).
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

type Backend = <DbConnection as diesel::Connection>::Backend;

/// What an organiser's list can be narrowed to.
#[derive(Clone, Debug, Default)]
pub struct RegistrationFilter {
    pub status: Option<RegistrationStatus>,
    pub country: Option<String>,
    /// Registrations holding a seat in this visit.
    pub site_visit_id: Option<String>,
    /// Part of the name, email or organisation, any letter case.
    pub search: Option<String>,
}

fn filtered<'a>(event_id: &'a str, filter: &'a RegistrationFilter) -> registrations::BoxedQuery<'a, Backend> {
    let mut query = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(registrations::status.eq(status.as_str()));
    }
    if let Some(country) = &filter.country {
        query = query.filter(registrations::country.eq(country));
    }
    if let Some(visit) = &filter.site_visit_id {
        query = query.filter(exists(
            seat_assignments::table
                .filter(seat_assignments::registration_id.eq(registrations::id))
                .filter(seat_assignments::site_visit_id.eq(visit)),
        ));
    }
    if let Some(search) = &filter.search {
        let escaped = search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        query = query.filter(
            lower(registrations::first_name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(registrations::last_name).like(pattern.clone()).escape('\\'))
                .or(registrations::email_normalized.like(pattern.clone()).escape('\\'))
                .or(lower(registrations::organisation).like(pattern).escape('\\')),
        );
    }
    query
}

/// A page of the event's registrations in registration order, and how many match.
pub fn list_for_event(
    conn: &mut DbConnection,
    event_id: &str,
    filter: &RegistrationFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<RegistrationRow>, i64)> {
    let total = filtered(event_id, filter).count().get_result(conn)?;
    let page = filtered(event_id, filter)
        .order((registrations::created_at, registrations::id))
        .limit(limit)
        .offset(offset)
        .select(RegistrationRow::as_select())
        .load(conn)?;
    Ok((page, total))
}

/// Ids bound in one `IN (…)` list at most: SQLite refuses a statement with more than
/// 32,766 bound values, and an event can have more registrations than that.
const IDS_PER_STATEMENT: usize = 10_000;

/// `query` run for each slice of `ids` small enough to bind, the results in slice order.
fn in_slices<T>(
    conn: &mut DbConnection,
    ids: &[String],
    mut query: impl FnMut(&mut DbConnection, &[String]) -> QueryResult<Vec<T>>,
) -> QueryResult<Vec<T>> {
    let mut all = Vec::new();
    for slice in ids.chunks(IDS_PER_STATEMENT) {
        all.extend(query(conn, slice)?);
    }
    Ok(all)
}

pub fn find_many(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<RegistrationRow>> {
    in_slices(conn, ids, |conn, ids| {
        registrations::table
            .filter(registrations::id.eq_any(ids))
            .select(RegistrationRow::as_select())
            .load(conn)
    })
}

/// Seats of these registrations: (registration id, visit id).
pub fn seats_of(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    in_slices(conn, ids, |conn, ids| {
        seat_assignments::table
            .filter(seat_assignments::registration_id.eq_any(ids))
            .select((seat_assignments::registration_id, seat_assignments::site_visit_id))
            .load(conn)
    })
}

/// Rankings of these registrations: (registration id, rank, visit id), each person's
/// ranks in order.
pub fn preferences_of(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, i32, String)>> {
    in_slices(conn, ids, |conn, ids| {
        registration_preferences::table
            .filter(registration_preferences::registration_id.eq_any(ids))
            .order((
                registration_preferences::registration_id,
                registration_preferences::rank,
            ))
            .select((
                registration_preferences::registration_id,
                registration_preferences::rank,
                registration_preferences::site_visit_id,
            ))
            .load(conn)
    })
}

/// Everyone holding a seat in the visit, in registration order, with when they got it.
pub fn seated_in(
    conn: &mut DbConnection,
    visit_id: &str,
) -> QueryResult<Vec<(RegistrationRow, NaiveDateTime)>> {
    seat_assignments::table
        .inner_join(registrations::table)
        .filter(seat_assignments::site_visit_id.eq(visit_id))
        .order((registrations::created_at, registrations::id))
        .select((RegistrationRow::as_select(), seat_assignments::assigned_at))
        .load(conn)
}

/// Every active confirmed registration of the event, in registration order.
pub fn confirmed_in_order(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<RegistrationRow>> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(CONFIRMED))
        .order((registrations::created_at, registrations::id))
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// Active confirmed registrations of the event that hold no seat, in registration order.
pub fn confirmed_without_seat(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<RegistrationRow>> {
    registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(CONFIRMED))
        .filter(not(exists(
            seat_assignments::table.filter(seat_assignments::registration_id.eq(registrations::id)),
        )))
        .order((registrations::created_at, registrations::id))
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// Replaces a registration's personal data with fixed anonymous values; country, status,
/// seat and ranking stay, so every count stays right. The manage link stops working.
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

/// Every registration, in any event, with this lower-cased email.
pub fn find_by_email(conn: &mut DbConnection, email_normalized: &str) -> QueryResult<Vec<RegistrationRow>> {
    registrations::table
        .filter(registrations::email_normalized.eq(email_normalized))
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
