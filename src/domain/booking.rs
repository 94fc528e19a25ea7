//! What participants do: register, look at their registration, change their ranking,
//! cancel. Each function is one unit of work on one connection (one transaction).

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::access::{hash_secret, ManageKey};
use super::duplicates;
use super::error::DomainError;
use super::event_rules::{
    check_window, find_event_for_seat_changes, find_event_with_visits, lock_for_seat_changes, seats_at_once,
};
use super::notify::{self, Notice};
use super::offers;
use super::questions::{self, AnswersView, Person};
use super::registration::{NewRegistration, Preferences};
use super::search;
use super::seats::{self, SeatChange};
use super::view::{registration_view, view_of, Known, RegistrationView};
use crate::db::DbConnection;
use crate::mail::content::EmailKind;
use crate::store::registrations::RegistrationStatus::{Cancelled, Confirmed, Waitlisted};
use crate::store::registrations::{self, RegistrationRow, CONFIRMED};
use crate::store::site_visits::{self, SiteVisitRow};
use crate::store::{events, queues};

/// A new registration and the secret of its manage link (stored only hashed).
pub struct Registered {
    pub view: RegistrationView,
    pub manage_token: String,
    /// The answer to a duplicate (`domain::duplicates`): nothing was
    /// registered, the view is what a new registration would have been told and the
    /// token opens nothing.
    pub duplicate: bool,
}

/// Visit ids for ranked slugs; a slug the event does not have is a field error.
pub(super) fn visit_ids(
    visits: &[SiteVisitRow],
    preferences: &Preferences,
) -> Result<Vec<String>, DomainError> {
    preferences
        .slugs()
        .iter()
        .map(|slug| {
            visits
                .iter()
                .find(|v| &v.slug == slug)
                .map(|v| v.id.clone())
                .ok_or_else(|| {
                    DomainError::invalid(
                        "preferences",
                        format!("`{slug}` is not a site visit of this event"),
                    )
                })
        })
        .collect()
}

/// Registers a participant: the registration row, its ranking, an event place if the
/// event has a capacity, and a seat in the best-ranked visit with room (first-come
/// events) — or the waitlists.
pub fn register_participant(
    conn: &mut DbConnection,
    key: &ManageKey,
    event_slug: &str,
    input: &NewRegistration,
    now: NaiveDateTime,
) -> Result<Registered, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    check_window(&event, now)?;
    let ranked = visit_ids(&visits, &input.preferences)?;
    let email_normalized = input.email.normalized();
    // An address already registered is answered as a new registration would be
    // (invariant 13), in this unit of work: looked up first rather than met as the
    // insert's failure, which aborts a PostgreSQL transaction.
    if let Some(existing) = registrations::find_active_by_email(conn, &event.id, &email_normalized)? {
        return duplicates::answer(conn, key, &event, &visits, &existing, input, &ranked, now);
    }
    let id = uuid::Uuid::now_v7().to_string();
    let manage_token = key.token_for(&id);
    let token_hash = hash_secret(&manage_token);
    let checkin_code_hash = hash_secret(&key.checkin_code_for(&id));
    let search_text = search::search_text(
        &input.first_name,
        &input.last_name,
        &input.organisation,
        input.email.as_str(),
    );
    let row = registrations::NewRegistrationRow {
        id: &id,
        event_id: &event.id,
        first_name: &input.first_name,
        last_name: &input.last_name,
        email: input.email.as_str(),
        email_normalized: &email_normalized,
        organisation: &input.organisation,
        country: input.country.as_str(),
        job_title: input.job_title.as_deref(),
        dietary: input.dietary.as_deref(),
        status: CONFIRMED,
        manage_token_hash: &token_hash,
        consent_at: now,
        created_at: now,
        updated_at: now,
        language: input.language.code(),
        search_text: &search_text,
        checkin_code_hash: &checkin_code_hash,
    };
    // The hot rows (event counter, visit counters) are touched after the registration
    // rows, so that on PostgreSQL their locks are held for as short a time as possible.
    // Without an event-wide capacity the first choice's seat is claimed by the insert
    // itself (one statement on PostgreSQL); with one, the event place comes first.
    let seat_first = (event.capacity.is_none() && seats_at_once(&event))
        .then(|| ranked.first())
        .flatten();
    // What the person is told if that claim succeeds (the common case), written by the
    // same statement: one round trip less on PostgreSQL.
    let confirmed_row = RegistrationRow {
        status: Confirmed,
        ..row.to_owned_row()
    };
    let seated = match seat_first {
        Some(first) => {
            let view = view_of(
                conn,
                &event,
                &visits,
                &confirmed_row,
                &ranked,
                Some(first),
                Known::New { position: None },
            )?;
            let hooks = super::webhooks::may_have_subscribers(conn)?;
            // A new registration has answered no visit's question yet.
            let pending = input.visits_with_questions.contains(first);
            let email = notify::registered_email(&event, &visits, &view, hooks, pending, now);
            Some((view, email))
        }
        None => None,
    };
    let mail = seated.as_ref().map(|(_, email)| email.row());
    let hooks = seated.as_ref().map(|(_, email)| email.webhooks().batch());
    let seated_first = match registrations::insert_ranked(
        conn,
        &row,
        &ranked,
        seat_first.map(String::as_str),
        mail.as_ref(),
        hooks.as_ref(),
    ) {
        // Registered concurrently since the look-up above (PostgreSQL; SQLite's one
        // writer cannot interleave): the caller answers it in a unit of work of its own.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            return Err(DomainError::DuplicateRegistration)
        }
        other => other?,
    };
    super::questions::save(conn, &id, &event.id, &input.answers, now)?;
    let mut confirmed = true;
    let mut locked = false;
    if event.capacity.is_some() && !events::try_take_place(conn, &event.id)? {
        // Joining the event's waitlist is a seat change: under its lock, where a place
        // freed meanwhile is seen (and taken) too.
        lock_for_seat_changes(conn, &event)?;
        locked = true;
        if !events::try_take_place(conn, &event.id)? {
            registrations::change_status(conn, &id, Confirmed, Waitlisted, now)?;
            confirmed = false;
        }
    }
    let mut seat = match seat_first {
        Some(first) if seated_first => Some(first.clone()),
        Some(_) => seats::claim_best_seat(conn, &id, &ranked[1..], now)?,
        None if confirmed && seats_at_once(&event) => seats::claim_best_seat(conn, &id, &ranked, now)?,
        None => None,
    };
    let mut position = None;
    if confirmed && seat.is_none() && !ranked.is_empty() {
        // Joining the visits' queues is a seat change too. Under the lock, a seat freed
        // since the claims above is seen: it is this person's if nobody waits for it.
        if !locked {
            lock_for_seat_changes(conn, &event)?;
        }
        if seats_at_once(&event) {
            seat = seats::claim_best_seat(conn, &id, &ranked, now)?;
        }
        if seat.is_none() {
            // A new registration is in no queue: it joins at the end of each.
            position = queues::join(conn, &ranked, &id)?.first().copied();
        }
    }
    // Its rows are written: the counters take the new person in once.
    registrations::settle_counts(conn, &id)?;
    if let (true, Some((view, _))) = (seated_first, seated) {
        return Ok(Registered {
            view,
            manage_token,
            duplicate: false,
        });
    }
    let registration = RegistrationRow {
        status: if confirmed { Confirmed } else { Waitlisted },
        ..row.to_owned_row()
    };
    let view = view_of(
        conn,
        &event,
        &visits,
        &registration,
        &ranked,
        seat.as_deref(),
        Known::New { position },
    )?;
    notify::queue_email(
        conn,
        &event,
        &visits,
        &view,
        Notice::of(EmailKind::Registered),
        now,
    )?;
    Ok(Registered {
        view,
        manage_token,
        duplicate: false,
    })
}

/// The registration behind a manage token; unknown tokens are simply not found.
pub fn find_by_manage_token(conn: &mut DbConnection, token: &str) -> Result<RegistrationRow, DomainError> {
    if !super::access::is_well_formed_manage_token(token) {
        return Err(DomainError::NotFound("registration"));
    }
    registrations::find_by_token_hash(conn, &hash_secret(token))?.ok_or(DomainError::NotFound("registration"))
}

/// The slug of the event a manage token's registration belongs to.
pub fn event_slug_of_manage_token(conn: &mut DbConnection, token: &str) -> Result<String, DomainError> {
    let registration = find_by_manage_token(conn, token)?;
    Ok(events::find(conn, &registration.event_id)?.slug)
}

/// The registration behind a manage token with the questions that apply to its holder
/// and their answers (docs/questions.md).
pub fn manage_view(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> Result<(RegistrationView, AnswersView), DomainError> {
    let registration = find_by_manage_token(conn, token)?;
    let event = events::find(conn, &registration.event_id)?;
    let visits = site_visits::list(conn, &event.id)?;
    let view = registration_view(conn, &event, &visits, &registration)?;
    let seat = registrations::seat(conn, &registration.id)?;
    let person = Person {
        registration_id: &registration.id,
        seat: seat.as_deref(),
        active: registration.status != Cancelled,
    };
    let answers = questions::answers_view(conn, &event, &visits, &person, now)?;
    Ok((view, answers))
}

/// Changes some answers through the manage link (the questions sent only), for the
/// questions that apply to the person now, until the event's deadline.
pub fn change_answers(
    conn: &mut DbConnection,
    registration: &RegistrationRow,
    answers: serde_json::Map<String, serde_json::Value>,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let event = events::find(conn, &registration.event_id)?;
    // Read again under the transaction: the status may have changed meanwhile.
    let current =
        registrations::find(conn, &registration.id)?.ok_or(DomainError::NotFound("registration"))?;
    if current.status == Cancelled {
        return Err(DomainError::RegistrationClosed(
            "this registration was cancelled".into(),
        ));
    }
    let visits = site_visits::list(conn, &event.id)?;
    let seat = registrations::seat(conn, &registration.id)?;
    questions::change_answers(
        conn,
        &event,
        &visits,
        &registration.id,
        seat.as_deref(),
        answers,
        now,
    )
}

pub fn view_by_manage_token(conn: &mut DbConnection, token: &str) -> Result<RegistrationView, DomainError> {
    let registration = find_by_manage_token(conn, token)?;
    let event = events::find(conn, &registration.event_id)?;
    let visits = site_visits::list(conn, &event.id)?;
    registration_view(conn, &event, &visits, &registration)
}

/// Cancels: frees the event place and the seat, and refills both from the waitlists.
/// Cancelling twice is harmless: the second time changes nothing.
pub fn cancel_registration(
    conn: &mut DbConnection,
    registration: &RegistrationRow,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let event = find_event_for_seat_changes(conn, &registration.event_id)?;
    let mut changes = Vec::new();
    let mut confirmed = Vec::new();
    let mut released = None;
    // Two conditional updates tell reliably what the status was, under the row lock.
    if registrations::change_status(conn, &registration.id, Confirmed, Cancelled, now)? {
        released = seats::release_seat(conn, &registration.id, now, &mut changes)?;
        offers::withdraw_unwanted(conn, &registration.id, now, &mut changes)?;
        if event.capacity.is_some() {
            events::give_back_place(conn, &event.id)?;
            confirmed =
                seats::promote_event_waitlist(conn, &event, seats_at_once(&event), now, &mut changes)?;
        }
    } else if !registrations::change_status(conn, &registration.id, Waitlisted, Cancelled, now)? {
        return Ok(()); // already cancelled: nothing changes, nobody is emailed again
    }
    let visits = site_visits::list(conn, &event.id)?;
    let notice = Notice {
        previous_visit: released.as_deref(),
        seat_changed: released.is_some(),
        ..Notice::of(EmailKind::Cancelled)
    };
    notify::queue_for(conn, &event, &visits, &registration.id, notice, now)?;
    notify::side_effects(
        conn,
        &event,
        &visits,
        &changes,
        &confirmed,
        Some(&registration.id),
        now,
    )
}

/// Replaces the ranking and re-evaluates the seat: a better-ranked visit with room is
/// taken (the old seat refilled); a seat still ranked is kept; a seat no longer ranked
/// is given up (the person asked for that) and they wait for what they ranked.
pub fn change_preferences(
    conn: &mut DbConnection,
    registration: &RegistrationRow,
    preferences: &Preferences,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let event = find_event_for_seat_changes(conn, &registration.event_id)?;
    check_window(&event, now)?;
    let visits = site_visits::list(conn, &event.id)?;
    let ranked = visit_ids(&visits, preferences)?;
    let id = &registration.id;
    // Lock the row and learn the current status under the lock.
    let status = if registrations::change_status(conn, id, Confirmed, Confirmed, now)? {
        Confirmed
    } else if registrations::change_status(conn, id, Waitlisted, Waitlisted, now)? {
        Waitlisted
    } else {
        return Err(DomainError::RegistrationClosed(
            "this registration was cancelled".into(),
        ));
    };
    registrations::replace_preferences(conn, id, &ranked)?;
    // A new ranking is the person's own wish: automatic seat changes apply again, even
    // if an organiser had placed them.
    registrations::set_auto_seat(conn, id, true)?;
    let mut changes = Vec::new();
    let held = registrations::seat(conn, id)?;
    let seat_now = if status == Confirmed && seats_at_once(&event) {
        reevaluate_seat(conn, id, &ranked, held.clone(), now, &mut changes)?
    } else {
        held.clone()
    };
    // An offer for a visit no longer ranked above the seat goes to the next person.
    offers::withdraw_unwanted(conn, id, now, &mut changes)?;
    let notice = Notice {
        previous_visit: held.as_deref().filter(|_| seat_now != held),
        seat_changed: seat_now != held,
        ..Notice::of(EmailKind::PreferencesChanged)
    };
    notify::queue_for(conn, &event, &visits, id, notice, now)?;
    notify::side_effects(conn, &event, &visits, &changes, &[], Some(id), now)
}

/// Gives the seat a new ranking calls for — a better-ranked visit with room, the seat
/// held if it is still ranked, or none — and returns it.
fn reevaluate_seat(
    conn: &mut DbConnection,
    id: &str,
    ranked: &[String],
    held: Option<String>,
    now: NaiveDateTime,
    changes: &mut Vec<SeatChange>,
) -> Result<Option<String>, DomainError> {
    let held_rank = held.as_ref().and_then(|h| ranked.iter().position(|v| v == h));
    let better = &ranked[..held_rank.unwrap_or(ranked.len())];
    let mut claimed = None;
    for visit in better {
        if site_visits::try_take_seat(conn, visit, true)? {
            claimed = Some(visit.clone());
            break;
        }
    }
    match (claimed, held) {
        (Some(to), Some(from)) => {
            seats::move_to_taken_seat(conn, id, &from, &to, now, changes)?;
            Ok(Some(to))
        }
        (Some(to), None) => {
            registrations::insert_seat(conn, id, &to, now)?;
            Ok(Some(to))
        }
        (None, Some(_)) if held_rank.is_none() => {
            seats::release_seat(conn, id, now, changes)?;
            Ok(None)
        }
        (None, held) => Ok(held),
    }
}
