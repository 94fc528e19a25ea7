//! The board's pages and what they show: the events list (paged, searchable), the
//! overview of one event, and the plan of an allocation's dry run.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::chart::Chart;
use super::flash::{take_flash, Flash};
use super::session::{signed_in, to_sign_in};
use super::{page, switch_path, BOARD_PATH};
use crate::domain::access::{Principal, Role};
use crate::domain::catalog::{self, EventSummary};
use crate::domain::exports::CountryLine;
use crate::domain::now;
use crate::domain::organiser::{self, AllocationReport};
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
    switch_path: String,
    events: Vec<EventLine>,
    /// The search as typed (blank: none).
    search: String,
    total: i64,
    page: i64,
    pages: i64,
    previous: Option<String>,
    next: Option<String>,
}

#[derive(Serialize)]
struct EventLine {
    slug: String,
    name: String,
    venue: String,
    dates: String,
}

/// The events page's address for `page` of the search `q`.
fn events_path(search: &str, page: i64) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if !search.is_empty() {
        query.append_pair("q", search);
    }
    if page > 1 {
        query.append_pair("page", &page.to_string());
    }
    let query = query.finish();
    if query.is_empty() {
        BOARD_PATH.to_owned()
    } else {
        format!("{BOARD_PATH}?{query}")
    }
}

/// `GET /organiser?q=&page=`: the events, a page at a time, the latest start first, each
/// linking to its overview; `q` searches names and slugs. A page number that is not one
/// shows the first page, one past the end the last.
pub async fn events_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let page = page(&req, &state);
    let Some(principal) = signed_in(&req, &state).await.or_page(&page)? else {
        return Ok(to_sign_in(page, BOARD_PATH));
    };
    let mut search = String::new();
    let mut wanted = 1;
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "q" => search = value.trim().chars().take(100).collect(),
            "page" => wanted = value.trim().parse::<i64>().unwrap_or(1),
            _ => {}
        }
    }
    let lookup = search.clone();
    let list = state
        .db
        .read(move |conn| catalog::list_events(conn, Some(&lookup), wanted))
        .await
        .or_page(&page)?;
    let lang = page.lang;
    let context = EventsPage {
        viewer: Viewer::of(&principal),
        switch_path: switch_path(&req),
        events: list
            .events
            .into_iter()
            .map(|event: EventSummary| EventLine {
                dates: lang.date_range(event.starts_on, event.ends_on),
                slug: event.slug,
                name: event.name,
                venue: event.venue,
            })
            .collect(),
        previous: (list.page > 1).then(|| events_path(&search, list.page - 1)),
        next: (list.page < list.pages).then(|| events_path(&search, list.page + 1)),
        total: list.total,
        page: list.page,
        pages: list.pages,
        search,
    };
    page.render(StatusCode::OK, "board_events.html.j2", context)
}

/// A visit's line of the overview.
#[derive(Serialize)]
struct VisitSummary {
    slug: String,
    name: String,
    when: String,
    capacity: i32,
    /// People seated; seats held as offers are `offered`.
    assigned: i32,
    offered: i32,
    seats_left: i32,
    waitlisted: i64,
    frozen: bool,
    meter_max: i32,
}

#[derive(Serialize)]
struct CountryRow {
    code: String,
    name: String,
    registered: i64,
    seated: i64,
    waiting: i64,
}

#[derive(Serialize)]
struct ExportLink {
    label: String,
    path: String,
}

#[derive(Serialize)]
struct OverviewPage {
    viewer: Viewer,
    switch_path: String,
    flash: Option<Flash>,
    event_slug: String,
    event_name: String,
    dates: String,
    preferences_mode: bool,
    /// Freed seats are held for the next person until a deadline.
    makes_offers: bool,
    capacity: Option<i32>,
    places_left: Option<i32>,
    visits: Vec<VisitSummary>,
    countries: Vec<CountryRow>,
    country_total: CountryRow,
    without_seat: i64,
    chart: Option<Chart>,
    exports: Vec<ExportLink>,
}

fn country_row(line: &CountryLine) -> CountryRow {
    CountryRow {
        code: line.country.clone(),
        name: line.country_name.clone(),
        registered: line.registered,
        seated: line.assigned,
        waiting: line.waitlisted,
    }
}

fn export_links(slug: &str, lang: Lang) -> Vec<ExportLink> {
    let base = format!("/organiser/events/{slug}/exports");
    [
        ("counts_country_csv", "counts?by=country&format=csv"),
        ("counts_visit_csv", "counts?by=site_visit&format=csv"),
        ("counts_country_xlsx", "counts?by=country&format=xlsx"),
        ("attendees_csv", "attendees?format=csv"),
        ("attendees_xlsx", "attendees?format=xlsx"),
    ]
    .into_iter()
    .map(|(key, path)| ExportLink {
        label: lang.fill(&format!("board.export.{key}"), &[]),
        path: format!("{base}/{path}"),
    })
    .collect()
}

/// `GET /organiser/events/{event}`: the event's overview. Counts only, never a person:
/// the people are on each visit's roster page and on the "without a seat" page, a page
/// at a time, so this page stays a few kilobytes whatever the number of people.
pub async fn board_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    let slug = path_param(&req, "event");
    let Some(principal) = signed_in(&req, &state).await.or_page(&page)? else {
        return Ok(to_sign_in(page, &format!("/organiser/events/{slug}")));
    };
    let flash = take_flash(&req, &mut page);
    let lookup = slug.clone();
    let overview = state
        .db
        .read(move |conn| organiser::overview(conn, &lookup, now()))
        .await
        .or_page(&page)?;
    let event = overview.event;
    let lang = page.lang;
    let visits = event
        .site_visits
        .iter()
        .map(|visit| VisitSummary {
            slug: visit.slug.clone(),
            name: visit.name.clone(),
            when: lang.time_range(visit.starts_at, visit.ends_at),
            capacity: visit.capacity,
            assigned: visit.assigned,
            offered: visit.offered,
            seats_left: visit.seats_left,
            waitlisted: visit.waitlisted,
            frozen: visit.frozen,
            meter_max: visit.capacity.max(1),
        })
        .collect();
    let exports = if principal.role.includes(Role::Admin) {
        export_links(&slug, lang)
    } else {
        Vec::new()
    };
    let context = OverviewPage {
        viewer: Viewer::of(&principal),
        switch_path: switch_path(&req),
        flash,
        event_slug: slug,
        dates: lang.date_range(event.starts_on, event.ends_on),
        preferences_mode: event.assignment_mode == "preferences",
        makes_offers: event.offer_window_hours.is_some(),
        capacity: event.capacity,
        places_left: event.places_left,
        visits,
        countries: overview.countries.lines.iter().map(country_row).collect(),
        country_total: country_row(&overview.countries.total),
        without_seat: overview.without_seat,
        chart: Chart::of_registrations(&overview.by_day, event.capacity, lang),
        event_name: event.name,
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
        .map(|(index, count)| (page.lang.choice_label(index + 1), *count))
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
