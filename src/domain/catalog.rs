//! Events and site visits: creating them (admin API), loading event files, and the
//! public event view with live seat counts.
//!
//! `event_view_from_rows`, the view with its waiting numbers aggregated from the rows, is
//! a reference implementation behind the `reference` feature: the tests check the
//! counters against it; the product does not carry it.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

use super::error::DomainError;
use super::event::{EventFile, NewEvent, NewSiteVisit};
use super::event_rules::{
    check_window, event_timezone, find_event, local_time, lock_for_seat_changes, seats_at_once,
};
use super::notify;
use super::seats::{self, SeatChange};
use crate::db::DbConnection;
use crate::store::events::{self, EventRow};
use crate::store::{counts, offers, registrations, site_visits};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SiteVisitView {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub location: String,
    pub meeting_point: String,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    pub capacity: i32,
    /// Seats given (people seated).
    pub assigned: i32,
    /// Seats held for someone as an open offer (they count against capacity too).
    pub offered: i32,
    pub seats_left: i32,
    pub waitlisted: i64,
    pub frozen: bool,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub venue: String,
    pub contact_email: String,
    pub timezone: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub assignment_mode: String,
    pub registration_opens_at: Option<DateTime<FixedOffset>>,
    pub registration_closes_at: Option<DateTime<FixedOffset>>,
    pub registration_open: bool,
    pub max_preferences: i32,
    pub capacity: Option<i32>,
    /// Places left under the event-wide capacity, when there is one; at 0 newcomers
    /// join the event's waiting list.
    pub places_left: Option<i32>,
    /// Hours a freed seat is held for the next person in line (`null`: given at once).
    pub offer_window_hours: Option<i32>,
    /// No offer runs past this many hours before its visit starts.
    pub offer_cutoff_hours: i32,
    /// Minutes after a visit's start after which its seated people who have not checked
    /// in are no-shows.
    pub no_show_after_minutes: i32,
    pub site_visits: Vec<SiteVisitView>,
}

/// An event in a list (the organisers' start page).
#[derive(Clone, Debug, Serialize)]
pub struct EventSummary {
    pub slug: String,
    pub name: String,
    pub venue: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

/// Events on one page of the organisers' start page.
pub const EVENTS_PER_PAGE: i64 = 25;

/// One page of the events, the latest start first, and how many match.
#[derive(Clone, Debug, Serialize)]
pub struct EventListPage {
    pub events: Vec<EventSummary>,
    /// Events matching the search, over every page.
    pub total: i64,
    /// 1-based, within `1..=pages`.
    pub page: i64,
    /// At least 1, even with no event.
    pub pages: i64,
}

/// The events whose name or slug contains `search` (any letter case; blank: every
/// event), the latest start first, `page` (1-based; past the end: the last page) of
/// [`EVENTS_PER_PAGE`].
pub fn list_events(
    conn: &mut DbConnection,
    search: Option<&str>,
    page: i64,
) -> Result<EventListPage, DomainError> {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let total = events::page(conn, search, 0, 0)?.1;
    let pages = ((total + EVENTS_PER_PAGE - 1) / EVENTS_PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let (rows, total) = events::page(conn, search, EVENTS_PER_PAGE, (page - 1) * EVENTS_PER_PAGE)?;
    Ok(EventListPage {
        events: rows
            .into_iter()
            .map(|event| EventSummary {
                slug: event.slug,
                name: event.name,
                venue: event.venue,
                starts_on: event.starts_on,
                ends_on: event.ends_on,
            })
            .collect(),
        total,
        page,
        pages,
    })
}

/// The event with its visits and their counts, read in one transaction so the numbers
/// agree with each other. The waiting numbers come from the maintained counters.
pub fn event_view(conn: &mut DbConnection, slug: &str, now: NaiveDateTime) -> Result<EventView, DomainError> {
    let event = find_event(conn, slug)?;
    let waiting = counts::waiting_by_visit(conn, &event.id)?;
    view_with_waiting(conn, event, &waiting, now)
}

/// [`event_view`] with the waiting numbers aggregated from the registrations' rows, as
/// before the counters existed: the oracle the counters are tested against.
#[cfg(feature = "reference")]
pub fn event_view_from_rows(
    conn: &mut DbConnection,
    slug: &str,
    now: NaiveDateTime,
) -> Result<EventView, DomainError> {
    let event = find_event(conn, slug)?;
    let waiting = registrations::waiting_counts(conn, &event.id)?;
    view_with_waiting(conn, event, &waiting, now)
}

/// The view, given the people waiting per visit id.
fn view_with_waiting(
    conn: &mut DbConnection,
    event: EventRow,
    waiting: &[(String, i64)],
    now: NaiveDateTime,
) -> Result<EventView, DomainError> {
    let tz = event_timezone(&event);
    let visits = site_visits::list(conn, &event.id)?;
    let held = offers::count_by_visit(conn, &event.id)?;
    let site_visits = visits
        .into_iter()
        .map(|visit| {
            let waitlisted = waiting
                .iter()
                .find(|(id, _)| *id == visit.id)
                .map_or(0, |(_, n)| *n);
            // `site_visits.assigned` counts every taken seat, held ones included.
            let offered = held
                .iter()
                .find(|(id, _)| *id == visit.id)
                .map_or(0, |(_, n)| *n as i32);
            SiteVisitView {
                offered,
                seats_left: (visit.capacity - visit.assigned).max(0),
                waitlisted,
                starts_at: local_time(tz, visit.starts_at),
                ends_at: local_time(tz, visit.ends_at),
                slug: visit.slug,
                name: visit.name,
                description: visit.description,
                location: visit.location,
                meeting_point: visit.meeting_point,
                capacity: visit.capacity,
                assigned: visit.assigned - offered,
                frozen: visit.frozen,
            }
        })
        .collect();
    Ok(EventView {
        registration_open: check_window(&event, now).is_ok(),
        registration_opens_at: event.registration_opens_at.map(|t| local_time(tz, t)),
        registration_closes_at: event.registration_closes_at.map(|t| local_time(tz, t)),
        slug: event.slug,
        name: event.name,
        description: event.description,
        venue: event.venue,
        contact_email: event.contact_email,
        timezone: event.timezone,
        starts_on: event.starts_on,
        ends_on: event.ends_on,
        assignment_mode: event.assignment_mode,
        max_preferences: event.max_preferences,
        places_left: event.capacity.map(|capacity| (capacity - event.confirmed).max(0)),
        capacity: event.capacity,
        offer_window_hours: event.offer_window_hours,
        offer_cutoff_hours: event.offer_cutoff_hours,
        no_show_after_minutes: event.no_show_after_minutes,
        site_visits,
    })
}

fn slug_taken(field: &str) -> DomainError {
    DomainError::invalid(field, "is already taken")
}

pub fn create_event(
    conn: &mut DbConnection,
    event: &NewEvent,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    if events::find_by_slug(conn, &event.slug)?.is_some() {
        return Err(slug_taken("slug"));
    }
    let id = uuid::Uuid::now_v7().to_string();
    match events::insert(conn, &id, &event.slug, &event.changes(now)) {
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Err(slug_taken("slug")),
        other => Ok(other?),
    }
}

/// Checks that a visit happens during its event (in the event's time zone).
fn check_visit_dates(event: &EventRow, visit: &NewSiteVisit, field: &str) -> Result<(), DomainError> {
    let tz = event_timezone(event);
    let day = local_time(tz, visit.starts_at).date_naive();
    if day < event.starts_on || day > event.ends_on {
        return Err(DomainError::invalid(
            field,
            format!(
                "must fall within the event ({} to {})",
                event.starts_on, event.ends_on
            ),
        ));
    }
    Ok(())
}

pub fn add_site_visit(
    conn: &mut DbConnection,
    event_slug: &str,
    visit: &NewSiteVisit,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let event = find_event(conn, event_slug)?;
    check_visit_dates(&event, visit, "starts_at")?;
    let existing = site_visits::list(conn, &event.id)?;
    if existing.iter().any(|v| v.slug == visit.slug) {
        return Err(slug_taken("slug"));
    }
    let position = visit.position.unwrap_or(existing.len() as i32);
    match insert_visit(conn, &event.id, visit, position, now) {
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Err(slug_taken("slug")),
        other => Ok(other?),
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub event_created: bool,
    pub visits_created: usize,
    pub visits_updated: usize,
    pub seat_changes: Vec<SeatChange>,
}

/// Creates or updates an event and its visits by slug; never duplicates, never deletes
/// a visit (people may hold seats in it). A capacity below what is already taken is
/// refused and nothing is changed; a raise refills from the waitlists.
pub fn import_event_file(
    conn: &mut DbConnection,
    file: &EventFile,
    now: NaiveDateTime,
) -> Result<ImportOutcome, DomainError> {
    let mut outcome = ImportOutcome::default();
    let event = match events::find_by_slug(conn, &file.event.slug)? {
        None => {
            create_event(conn, &file.event, now)?;
            outcome.event_created = true;
            find_event(conn, &file.event.slug)?
        }
        Some(existing) => {
            lock_for_seat_changes(conn, &existing)?;
            events::update(conn, &existing.id, &file.event.changes(now))?;
            if let Some(capacity) = file.event.capacity {
                let confirmed = match existing.capacity {
                    Some(_) => existing.confirmed,
                    None => registrations::count_confirmed(conn, &existing.id)? as i32,
                };
                if confirmed > capacity {
                    return Err(DomainError::invalid(
                        "capacity",
                        format!("{confirmed} registrations are already confirmed"),
                    ));
                }
                events::set_confirmed(conn, &existing.id, confirmed)?;
            } else {
                events::set_confirmed(conn, &existing.id, 0)?;
            }
            find_event(conn, &file.event.slug)?
        }
    };
    let refill_now = seats_at_once(&event);
    for (index, visit) in file.site_visits.iter().enumerate() {
        let field = format!("site_visits[{index}]");
        check_visit_dates(&event, visit, &format!("{field}.starts_at"))?;
        let position = visit.position.unwrap_or(index as i32);
        match site_visits::find(conn, &event.id, &visit.slug)? {
            None => {
                insert_visit(conn, &event.id, visit, position, now)?;
                outcome.visits_created += 1;
            }
            Some(row) => {
                site_visits::update_details(conn, &row.id, &visit.details(position, now))?;
                if row.capacity != visit.capacity
                    && !seats::change_capacity(
                        conn,
                        &row,
                        visit.capacity,
                        refill_now,
                        now,
                        &mut outcome.seat_changes,
                    )?
                {
                    return Err(DomainError::invalid(
                        &format!("{field}.capacity"),
                        format!("{} seats are already taken", row.assigned),
                    ));
                }
                outcome.visits_updated += 1;
            }
        }
    }
    let confirmed = seats::promote_event_waitlist(conn, &event, refill_now, now, &mut outcome.seat_changes)?;
    let visits = site_visits::list(conn, &event.id)?;
    super::questions::import_questions(conn, &event, &visits, &file.questions, now)?;
    notify::side_effects(
        conn,
        &event,
        &visits,
        &outcome.seat_changes,
        &confirmed,
        None,
        now,
    )?;
    Ok(outcome)
}

/// Every visit of every event as `(event slug, visit slug, capacity, assigned)`, for the
/// seat gauges of `/metrics`.
pub fn seat_gauges(conn: &mut DbConnection) -> Result<Vec<(String, String, i32, i32)>, DomainError> {
    Ok(site_visits::all_with_event_slug(conn)?)
}

/// A new visit's row, under a new id.
fn insert_visit(
    conn: &mut DbConnection,
    event_id: &str,
    visit: &NewSiteVisit,
    position: i32,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let id = uuid::Uuid::now_v7().to_string();
    site_visits::insert(
        conn,
        &id,
        event_id,
        &visit.slug,
        visit.capacity,
        &visit.details(position, now),
    )
}
