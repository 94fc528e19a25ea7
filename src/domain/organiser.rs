//! What organisers do: look at rosters and lists, move people, change capacities,
//! freeze rosters. Every change is audited and emailed in its own transaction, and goes
//! through the same seat rules (`seats`) as participants' own changes.

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Serialize;
use serde_json::json;

use super::audit::{self, AuditEntry};
use super::booking::{self, event_timezone, find_event, local_time, seats_at_once, RegistrationView};
use super::catalog::{self, SiteVisitView};
use super::country::country_name;
use super::error::DomainError;
use super::notify::{self, Notice};
use super::seats;
use crate::db::DbConnection;
use crate::mail::content::{EmailKind, SeatReason};
use crate::store::events::EventRow;
use crate::store::registrations::{self, RegistrationFilter, RegistrationRow, CANCELLED, CONFIRMED};
use crate::store::site_visits::{self, SiteVisitRow};

fn find_visit(visits: &[SiteVisitRow], slug: &str) -> Result<SiteVisitRow, DomainError> {
    visits
        .iter()
        .find(|v| v.slug == slug)
        .cloned()
        .ok_or(DomainError::NotFound("site visit"))
}

fn slug_of(visits: &[SiteVisitRow], id: Option<&str>) -> Option<String> {
    id.and_then(|id| visits.iter().find(|v| v.id == id))
        .map(|v| v.slug.clone())
}

/// The registration of this event with this id.
fn find_registration(
    conn: &mut DbConnection,
    event: &EventRow,
    id: &str,
) -> Result<RegistrationRow, DomainError> {
    registrations::find(conn, id)?
        .filter(|r| r.event_id == event.id)
        .ok_or(DomainError::NotFound("registration"))
}

/// Moves a registration into `target` (a visit slug) or out of every visit (`None`).
/// Capacity is absolute: a full visit is 409, frozen or not. The seat left behind is
/// refilled at once; the person is no longer moved automatically (an organiser decided).
pub fn move_participant(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    registration_id: &str,
    target: Option<&str>,
    now: NaiveDateTime,
) -> Result<RegistrationView, DomainError> {
    let event = find_event(conn, event_slug)?;
    let visits = site_visits::list(conn, &event.id)?;
    let registration = find_registration(conn, &event, registration_id)?;
    let target = match target {
        Some(slug) => Some(find_visit(&visits, slug).map_err(|_| {
            DomainError::invalid(
                "site_visit",
                format!("`{slug}` is not a site visit of this event"),
            )
        })?),
        None => None,
    };
    let id = registration.id.as_str();
    if !registrations::change_status(conn, id, &[CONFIRMED], CONFIRMED, now)? {
        let current = registrations::find(conn, id)?.map(|r| r.status);
        return Err(if current.as_deref() == Some(CANCELLED) {
            DomainError::RegistrationClosed("this registration is cancelled".into())
        } else {
            DomainError::CapacityExceeded("the person is on the event's waitlist: the event is full".into())
        });
    }
    // Before any refill, so that the seat this person leaves does not come straight back.
    registrations::set_on_waitlist(conn, id, false)?;
    let held = registrations::seat(conn, id)?;
    let mut changes = Vec::new();
    if held.as_deref() != target.as_ref().map(|v| v.id.as_str()) {
        match (&target, &held) {
            (Some(visit), _) if !site_visits::try_take_seat(conn, &visit.id, false)? => {
                return Err(DomainError::CapacityExceeded(format!(
                    "{} is full ({} of {} seats taken)",
                    visit.name, visit.assigned, visit.capacity
                )));
            }
            (Some(visit), Some(from)) => {
                seats::move_to_taken_seat(conn, id, from, &visit.id, now, &mut changes)?
            }
            (Some(visit), None) => registrations::insert_seat(conn, id, &visit.id, now)?,
            (None, Some(_)) => {
                seats::release_seat(conn, id, now, &mut changes)?;
            }
            (None, None) => {}
        }
        let notice = Notice {
            kind: EmailKind::SeatChanged,
            reason: Some(if target.is_some() {
                SeatReason::Moved
            } else {
                SeatReason::Released
            }),
            previous_visit: held.as_deref(),
        };
        notify::queue_for(conn, &event, &visits, id, notice, now)?;
        notify::side_effects(conn, &event, &visits, &changes, &[], Some(id), now)?;
    }
    let entry = AuditEntry {
        event_id: Some(&event.id),
        actor,
        action: "move",
        subject: Some(id),
        before: Some(json!({ "site_visit": slug_of(&visits, held.as_deref()) })),
        after: Some(json!({ "site_visit": target.as_ref().map(|v| v.slug.clone()) })),
    };
    audit::record(conn, entry, now)?;
    let registration = find_registration(conn, &event, id)?;
    booking::registration_view(conn, &event, &visits, &registration)
}

/// What an organiser may change on a visit.
#[derive(Clone, Debug, Default)]
pub struct VisitUpdate {
    pub capacity: Option<i32>,
    pub frozen: Option<bool>,
}

/// Changes a visit's capacity (never below the seats taken; a raise refills at once)
/// and freezes or unfreezes its roster (a frozen roster changes only by hand).
pub fn update_site_visit(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    visit_slug: &str,
    update: &VisitUpdate,
    now: NaiveDateTime,
) -> Result<SiteVisitView, DomainError> {
    let event = find_event(conn, event_slug)?;
    let visits = site_visits::list(conn, &event.id)?;
    let visit = find_visit(&visits, visit_slug)?;
    let automatic = seats_at_once(&event);
    let mut changes = Vec::new();
    if let Some(frozen) = update.frozen.filter(|f| *f != visit.frozen) {
        site_visits::set_frozen(conn, &visit.id, frozen, now)?;
        let entry = AuditEntry {
            event_id: Some(&event.id),
            actor,
            action: if frozen { "freeze" } else { "unfreeze" },
            subject: Some(&visit.slug),
            before: Some(json!({ "frozen": visit.frozen })),
            after: Some(json!({ "frozen": frozen })),
        };
        audit::record(conn, entry, now)?;
    }
    if let Some(capacity) = update.capacity.filter(|c| *c != visit.capacity) {
        if !seats::change_capacity(conn, &visit, capacity, false, now, &mut changes)? {
            return Err(DomainError::CapacityExceeded(format!(
                "{} seats of {} are taken: the capacity cannot go below that",
                visit.assigned, visit.name
            )));
        }
        let entry = AuditEntry {
            event_id: Some(&event.id),
            actor,
            action: "capacity",
            subject: Some(&visit.slug),
            before: Some(json!({ "capacity": visit.capacity })),
            after: Some(json!({ "capacity": capacity })),
        };
        audit::record(conn, entry, now)?;
    }
    if automatic {
        // A raise or an unfreeze can free seats (here, or for people whose upgrade the
        // freeze held back): every visit of the event is refilled.
        seats::refill(
            conn,
            visits.iter().map(|v| v.id.clone()).collect(),
            now,
            &mut changes,
        )?;
    }
    notify::side_effects(conn, &event, &visits, &changes, &[], None, now)?;
    catalog::event_view(conn, event_slug, now)?
        .site_visits
        .into_iter()
        .find(|v| v.slug == visit_slug)
        .ok_or(DomainError::NotFound("site visit"))
}

/// A person in a roster or list, as organisers see them.
#[derive(Clone, Debug, Serialize)]
pub struct PersonEntry {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub organisation: String,
    pub country: String,
    pub country_name: String,
    pub status: String,
    /// Which choice this visit was for them (1 = first), if they ranked it.
    pub rank: Option<usize>,
    /// The visit whose seat they hold, if any.
    pub site_visit: Option<String>,
    /// False when an organiser placed them: no automatic changes apply.
    pub on_waitlist: bool,
    pub preferences: Vec<String>,
    pub registered_at: DateTime<FixedOffset>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WaitlistEntry {
    pub position: usize,
    #[serde(flatten)]
    pub person: PersonEntry,
}

#[derive(Clone, Debug, Serialize)]
pub struct Roster {
    pub site_visit: SiteVisitView,
    pub assigned: Vec<PersonEntry>,
    /// In the order seats will be given: people without a seat first, then people
    /// holding a seat they ranked lower, each by registration time.
    pub waitlist: Vec<WaitlistEntry>,
}

/// Builds entries for `rows`, loading their rankings and seats in two queries.
fn entries(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    rows: Vec<RegistrationRow>,
    rank_of: Option<&str>,
) -> Result<Vec<PersonEntry>, DomainError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let preferences = registrations::preferences_of(conn, &ids)?;
    let seats = registrations::seats_of(conn, &ids)?;
    let tz = event_timezone(event);
    Ok(rows
        .into_iter()
        .map(|row| {
            let ranked: Vec<&String> = preferences
                .iter()
                .filter(|(id, _, _)| *id == row.id)
                .map(|(_, _, visit)| visit)
                .collect();
            let seat = seats
                .iter()
                .find(|(id, _)| *id == row.id)
                .map(|(_, v)| v.as_str());
            PersonEntry {
                rank: rank_of.and_then(|visit| ranked.iter().position(|v| *v == visit).map(|p| p + 1)),
                site_visit: slug_of(visits, seat),
                preferences: ranked.iter().filter_map(|v| slug_of(visits, Some(v))).collect(),
                country_name: country_name(&row.country).to_owned(),
                registered_at: local_time(tz, row.created_at),
                id: row.id,
                first_name: row.first_name,
                last_name: row.last_name,
                email: row.email,
                organisation: row.organisation,
                country: row.country,
                status: row.status,
                on_waitlist: row.on_waitlist,
            }
        })
        .collect())
}

/// Longest waitlist a roster shows.
const ROSTER_WAITLIST_LIMIT: i64 = 10_000;

pub fn roster(
    conn: &mut DbConnection,
    event_slug: &str,
    visit_slug: &str,
    now: NaiveDateTime,
) -> Result<Roster, DomainError> {
    let event = find_event(conn, event_slug)?;
    let visits = site_visits::list(conn, &event.id)?;
    let visit = find_visit(&visits, visit_slug)?;
    let seated: Vec<RegistrationRow> = registrations::seated_in(conn, &visit.id)?
        .into_iter()
        .map(|(row, _)| row)
        .collect();
    let assigned = entries(conn, &event, &visits, seated, Some(&visit.id))?;
    let mut waiting = registrations::unseated_waiting(conn, &visit.id, ROSTER_WAITLIST_LIMIT)?;
    waiting.extend(registrations::upgrade_waiting(
        conn,
        &visit.id,
        ROSTER_WAITLIST_LIMIT,
    )?);
    let mut rows = registrations::find_many(conn, &waiting)?;
    rows.sort_by_key(|row| waiting.iter().position(|id| *id == row.id));
    let waitlist = entries(conn, &event, &visits, rows, Some(&visit.id))?
        .into_iter()
        .enumerate()
        .map(|(index, person)| WaitlistEntry {
            position: index + 1,
            person,
        })
        .collect();
    let site_visit = catalog::event_view(conn, event_slug, now)?
        .site_visits
        .into_iter()
        .find(|v| v.slug == visit_slug)
        .ok_or(DomainError::NotFound("site visit"))?;
    Ok(Roster {
        site_visit,
        assigned,
        waitlist,
    })
}

/// The list filters as given (slugs, codes), resolved against the event.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub status: Option<String>,
    pub country: Option<String>,
    pub site_visit: Option<String>,
    pub search: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RegistrationPage {
    pub registrations: Vec<PersonEntry>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub fn list_registrations(
    conn: &mut DbConnection,
    event_slug: &str,
    query: &ListQuery,
) -> Result<RegistrationPage, DomainError> {
    let event = find_event(conn, event_slug)?;
    let visits = site_visits::list(conn, &event.id)?;
    let site_visit_id = match &query.site_visit {
        Some(slug) => Some(
            find_visit(&visits, slug)
                .map_err(|_| {
                    DomainError::invalid(
                        "site_visit",
                        format!("`{slug}` is not a site visit of this event"),
                    )
                })?
                .id,
        ),
        None => None,
    };
    let filter = RegistrationFilter {
        status: query.status.clone(),
        country: query.country.clone(),
        site_visit_id,
        search: query.search.clone(),
    };
    let (rows, total) = registrations::list_for_event(conn, &event.id, &filter, query.limit, query.offset)?;
    Ok(RegistrationPage {
        registrations: entries(conn, &event, &visits, rows, None)?,
        total,
        limit: query.limit,
        offset: query.offset,
    })
}

/// The event's audit trail (admins).
pub fn audit_trail(
    conn: &mut DbConnection,
    event_slug: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<audit::AuditView>, DomainError> {
    let event = find_event(conn, event_slug)?;
    audit::list(conn, &event.id, limit, offset)
}
