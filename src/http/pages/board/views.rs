//! The board's pages and what they show: the events list, the board of one event, and
//! the plan of an allocation's dry run.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::flash::{take_flash, Flash};
use super::session::{signed_in, to_sign_in};
use super::{page, BOARD_PATH};
use crate::domain::access::{Principal, Role};
use crate::domain::catalog::{self, EventSummary};
use crate::domain::now;
use crate::domain::organiser::{self, AllocationReport, PersonEntry};
use crate::http::extract::path_param;
use crate::http::pages::{OrPage, PageError, PageRequest};
use crate::http::AppState;
use crate::i18n::Lang;

#[derive(Serialize)]
pub(super) struct Viewer {
    name: String,
    admin: bool,
}

impl Viewer {
    pub(super) fn of(principal: &Principal) -> Self {
        Self {
            name: principal.name.clone(),
            admin: principal.role.includes(Role::Admin),
        }
    }
}

#[derive(Serialize)]
struct EventsPage {
    viewer: Viewer,
    events: Vec<EventLine>,
}

#[derive(Serialize)]
struct EventLine {
    slug: String,
    name: String,
    venue: String,
    dates: String,
}

/// `GET /organiser`: the events, each linking to its board.
pub async fn events_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let page = page(&req, &state);
    let Some(principal) = signed_in(&req, &state).await.or_page(&page)? else {
        return Ok(to_sign_in(page, BOARD_PATH));
    };
    let events = state
        .db
        .read(catalog::list_events)
        .await
        .or_page(&page)?
        .into_iter()
        .map(|event: EventSummary| EventLine {
            dates: Lang::En.date_range(event.starts_on, event.ends_on),
            slug: event.slug,
            name: event.name,
            venue: event.venue,
        })
        .collect();
    let context = EventsPage {
        viewer: Viewer::of(&principal),
        events,
    };
    page.render(StatusCode::OK, "board_events.html.j2", context)
}

/// A person in a column, with what the move control needs.
#[derive(Serialize)]
struct PersonLine {
    id: String,
    name: String,
    organisation: String,
    country: String,
    country_name: String,
    /// "1st choice" when this visit is one they ranked.
    rank: Option<String>,
    position: Option<usize>,
    /// The visit they hold a seat in, if any.
    seat: Option<String>,
    seat_name: Option<String>,
    /// Their ranking, by visit name.
    choices: String,
    placed_by_hand: bool,
}

/// A person a seat is held for, and until when (the event's local time).
#[derive(Serialize)]
struct OfferLine {
    person: PersonLine,
    until: String,
}

#[derive(Serialize)]
struct CountryCount {
    name: String,
    count: usize,
}

#[derive(Serialize)]
struct Column {
    slug: String,
    name: String,
    when: String,
    capacity: i32,
    /// People seated; seats held as offers are `offered`.
    assigned: i32,
    offered: i32,
    seats_left: i32,
    waitlisted: usize,
    frozen: bool,
    meter_max: i32,
    countries: Vec<CountryCount>,
    people: Vec<PersonLine>,
    offers: Vec<OfferLine>,
    waitlist: Vec<PersonLine>,
}

#[derive(Serialize)]
struct VisitOption {
    slug: String,
    name: String,
}

#[derive(Serialize)]
struct ExportLink {
    label: &'static str,
    path: String,
}

#[derive(Serialize)]
struct BoardPage {
    viewer: Viewer,
    flash: Option<Flash>,
    event_slug: String,
    event_name: String,
    dates: String,
    preferences_mode: bool,
    /// Freed seats are held for the next person until a deadline.
    makes_offers: bool,
    capacity: Option<i32>,
    places_left: Option<i32>,
    columns: Vec<Column>,
    without_seat: Vec<PersonLine>,
    visit_options: Vec<VisitOption>,
    exports: Vec<ExportLink>,
}

fn person_line(
    person: &PersonEntry,
    names: &BTreeMap<String, String>,
    position: Option<usize>,
) -> PersonLine {
    let name_of = |slug: &String| names.get(slug).cloned().unwrap_or_else(|| slug.clone());
    PersonLine {
        id: person.id.clone(),
        name: format!("{} {}", person.first_name, person.last_name),
        organisation: person.organisation.clone(),
        country: person.country.clone(),
        country_name: person.country_name.clone(),
        rank: person.rank.map(|rank| Lang::En.choice_label(rank)),
        position,
        seat_name: person.site_visit.as_ref().map(name_of),
        seat: person.site_visit.clone(),
        choices: person
            .preferences
            .iter()
            .map(name_of)
            .collect::<Vec<_>>()
            .join(" › "),
        placed_by_hand: !person.auto_seat,
    }
}

fn country_mix(people: &[PersonEntry]) -> Vec<CountryCount> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for person in people {
        *counts.entry(&person.country_name).or_default() += 1;
    }
    let mut mix: Vec<CountryCount> = counts
        .into_iter()
        .map(|(name, count)| CountryCount {
            name: name.to_owned(),
            count,
        })
        .collect();
    mix.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    mix
}

/// `GET /organiser/events/{event}`: the board.
pub async fn board_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    let slug = path_param(&req, "event");
    let Some(principal) = signed_in(&req, &state).await.or_page(&page)? else {
        return Ok(to_sign_in(page, &format!("/organiser/events/{slug}")));
    };
    let flash = take_flash(&req, &mut page);
    let lookup = slug.clone();
    let board = state
        .db
        .read(move |conn| organiser::board(conn, &lookup, now()))
        .await
        .or_page(&page)?;
    let names: BTreeMap<String, String> = board
        .event
        .site_visits
        .iter()
        .map(|v| (v.slug.clone(), v.name.clone()))
        .collect();
    let columns = board
        .rosters
        .iter()
        .map(|roster| {
            let visit = &roster.site_visit;
            Column {
                slug: visit.slug.clone(),
                name: visit.name.clone(),
                when: Lang::En.time_range(visit.starts_at, visit.ends_at),
                capacity: visit.capacity,
                assigned: visit.assigned,
                offered: visit.offered,
                seats_left: visit.seats_left,
                waitlisted: roster.waitlist.len(),
                frozen: visit.frozen,
                meter_max: visit.capacity.max(1),
                countries: country_mix(&roster.assigned),
                people: roster
                    .assigned
                    .iter()
                    .map(|p| person_line(p, &names, None))
                    .collect(),
                offers: roster
                    .offered
                    .iter()
                    .map(|o| OfferLine {
                        person: person_line(&o.person, &names, None),
                        until: Lang::En.moment(o.expires_at),
                    })
                    .collect(),
                waitlist: roster
                    .waitlist
                    .iter()
                    .map(|w| person_line(&w.person, &names, Some(w.position)))
                    .collect(),
            }
        })
        .collect();
    let exports = if principal.role.includes(Role::Admin) {
        let base = format!("/organiser/events/{slug}/exports");
        vec![
            ExportLink {
                label: "Counts by country (CSV)",
                path: format!("{base}/counts?by=country&format=csv"),
            },
            ExportLink {
                label: "Counts by site visit (CSV)",
                path: format!("{base}/counts?by=site_visit&format=csv"),
            },
            ExportLink {
                label: "Counts by country (XLSX)",
                path: format!("{base}/counts?by=country&format=xlsx"),
            },
            ExportLink {
                label: "Attendee list (CSV)",
                path: format!("{base}/attendees?format=csv"),
            },
            ExportLink {
                label: "Attendee list (XLSX)",
                path: format!("{base}/attendees?format=xlsx"),
            },
        ]
    } else {
        Vec::new()
    };
    let context = BoardPage {
        viewer: Viewer::of(&principal),
        flash,
        event_slug: slug,
        dates: Lang::En.date_range(board.event.starts_on, board.event.ends_on),
        preferences_mode: board.event.assignment_mode == "preferences",
        makes_offers: board.event.offer_window_hours.is_some(),
        capacity: board.event.capacity,
        places_left: board.event.places_left,
        without_seat: board
            .without_seat
            .iter()
            .map(|p| person_line(p, &names, None))
            .collect(),
        visit_options: board
            .event
            .site_visits
            .iter()
            .map(|v| VisitOption {
                slug: v.slug.clone(),
                name: v.name.clone(),
            })
            .collect(),
        event_name: board.event.name,
        columns,
        exports,
    };
    page.render(StatusCode::OK, "board.html.j2", context)
}

#[derive(Serialize)]
struct PlannedVisit {
    name: String,
    capacity: i32,
    planned: usize,
}

#[derive(Serialize)]
struct AllocationPage {
    viewer: Viewer,
    event_slug: String,
    event_name: String,
    report: AllocationReport,
    ranks: Vec<(String, usize)>,
    visits: Vec<PlannedVisit>,
}

/// The page of an allocation's dry run: the plan, visit by visit and by rank, with a
/// button to apply it.
pub(super) async fn allocation_plan(
    page: PageRequest,
    state: &AppState,
    viewer: Viewer,
    event: String,
    report: AllocationReport,
) -> Result<HttpResponse, PageError> {
    let lookup = event.clone();
    let view = state
        .db
        .read(move |conn| catalog::event_view(conn, &lookup, now()))
        .await
        .or_page(&page)?;
    let visits = view
        .site_visits
        .iter()
        .map(|visit| PlannedVisit {
            name: visit.name.clone(),
            capacity: visit.capacity,
            planned: report
                .plan
                .iter()
                .filter(|p| p.site_visit.as_deref() == Some(visit.slug.as_str()))
                .count(),
        })
        .collect();
    let ranks = report
        .by_rank
        .iter()
        .enumerate()
        .map(|(index, count)| (Lang::En.choice_label(index + 1), *count))
        .collect();
    let context = AllocationPage {
        viewer,
        event_slug: event,
        event_name: view.name,
        ranks,
        visits,
        report,
    };
    page.render(StatusCode::OK, "board_allocation.html.j2", context)
}
