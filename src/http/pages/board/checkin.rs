//! The check-in pages of the board (issue 18), for stewards as well as organisers and
//! admins: the events to check in at, an event's lists with their numbers, and one
//! list's page — its numbers, a search by name with a "Check in" form per person (no
//! JavaScript needed), and for `static/checkin.js` the list's offline roster and an
//! endpoint that takes queued scans. EN/FR like the participant pages: stewards at a
//! gate are not necessarily the organisers.
//!
//! Scans go through `domain::checkin` like the API's (`http::checkin::apply_batch` for
//! the script's batches, `checkin::scan` for the form), naming the person by
//! registration id when the steward found them by name.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::session::{session_holder, to_sign_in};
use crate::domain::access::Principal;
use crate::domain::checkin::{
    self, CheckinListView, ListName, Outcome, RosterPerson, Scan, ScanBatch, ScanResult,
};
use crate::domain::search::fold;
use crate::domain::{catalog, now};
use crate::http::checkin::{apply_batch, batch_body_limit, roster_answer};
use crate::http::extract::{path_param, query_object, read_object};
use crate::http::pages::{csrf_matches, OrPage, PageError, PageRequest, CSRF_HEADER};
use crate::http::problem::ApiError;
use crate::http::AppState;

/// Where a steward lands after signing in: the events to check in at.
pub(super) const CHECKIN_PATH: &str = "/organiser/checkin";

/// Most people a search shows: a name search at a gate wants a handful.
const SEARCH_MAX: usize = 30;

/// The device name recorded with the scans of these pages.
const DEVICE: &str = "check-in page";

/// Whether a steward's session may open `path`: the check-in pages and nothing else
/// (`/organiser/checkin`, `/organiser/events/{event}/checkin…`).
pub(super) fn steward_may_open(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    if path == CHECKIN_PATH {
        return true;
    }
    let Some(rest) = path.strip_prefix("/organiser/events/") else {
        return false;
    };
    let mut parts = rest.splitn(3, '/');
    let event = parts.next().unwrap_or_default();
    !event.is_empty() && parts.next() == Some("checkin")
}

/// The holder of a live session of any board role, or the redirect to sign in and back
/// to this page.
async fn holder_or_sign_in(
    req: &HttpRequest,
    state: &AppState,
    page: PageRequest,
) -> Result<Result<(Principal, PageRequest), HttpResponse>, PageError> {
    match session_holder(req, state).await.or_page(&page)? {
        Some(holder) => Ok(Ok((holder, page))),
        None => {
            let next = match req.query_string() {
                "" => req.path().to_owned(),
                query => format!("{}?{query}", req.path()),
            };
            Ok(Err(to_sign_in(page, &next)))
        }
    }
}

/// `{list}` of a path, or a 404 page.
fn list_of(req: &HttpRequest, page: &PageRequest) -> Result<ListName, PageError> {
    ListName::parse(&path_param(req, "list")).ok_or_else(|| page.error(StatusCode::NOT_FOUND, None))
}

fn list_path(event: &str, list: &str) -> String {
    format!("/organiser/events/{event}/checkin/{list}")
}

#[derive(Serialize)]
struct EventLink {
    slug: String,
    name: String,
    dates: String,
}

#[derive(Serialize)]
struct EventsPage {
    events: Vec<EventLink>,
    switch_path: &'static str,
}

/// `GET /organiser/checkin`: the events to check in at (the latest first).
pub async fn checkin_events_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let (_, page) = match holder_or_sign_in(&req, &state, page).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let list = state
        .db
        .read(move |conn| catalog::list_events(conn, None, 1))
        .await
        .or_page(&page)?;
    let lang = page.lang;
    let events = list
        .events
        .into_iter()
        .map(|event| EventLink {
            dates: lang.date_range(event.starts_on, event.ends_on),
            slug: event.slug,
            name: event.name,
        })
        .collect();
    page.render(
        StatusCode::OK,
        "checkin_events.html.j2",
        EventsPage {
            events,
            switch_path: CHECKIN_PATH,
        },
    )
}

#[derive(Serialize)]
struct ListsPage {
    event: String,
    event_name: String,
    lists: Vec<CheckinListView>,
    switch_path: String,
}

/// `GET /organiser/events/{event}/checkin`: the entrance list and one list per visit,
/// each with its numbers.
pub async fn checkin_lists_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let (_, page) = match holder_or_sign_in(&req, &state, page).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let event = path_param(&req, "event");
    let slug = event.clone();
    let (event_name, lists) = state
        .db
        .read(move |conn| {
            let view = catalog::event_view(conn, &slug, now())?;
            Ok::<_, crate::domain::DomainError>((view.name, checkin::checkin_lists(conn, &slug)?))
        })
        .await
        .or_page(&page)?;
    page.render(
        StatusCode::OK,
        "checkin_lists.html.j2",
        ListsPage {
            switch_path: format!("/organiser/events/{event}/checkin"),
            event,
            event_name,
            lists,
        },
    )
}

/// A person found by the search, with a fresh nonce for the form's scan: reloading the
/// answer to that form posts the same nonce again, which replays and writes nothing.
#[derive(Serialize)]
struct Found {
    id: String,
    name: String,
    organisation: String,
    country: String,
    checked_in_at: Option<String>,
    inside: bool,
    nonce: String,
}

/// What the last scan did, for a person to read.
#[derive(Serialize)]
struct ScanShown {
    outcome: &'static str,
    replayed: bool,
    name: String,
    organisation: String,
    visit_name: Option<String>,
    checked_in_at: Option<String>,
    belongs_to: Option<String>,
    belongs_to_path: Option<String>,
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct ListPage {
    event: String,
    event_name: String,
    list: CheckinListView,
    query: String,
    found: Option<Vec<Found>>,
    more: bool,
    result: Option<ScanShown>,
    path: String,
    switch_path: String,
    roster_url: String,
    scans_url: String,
}

/// The list page's data at this moment: the event's name, the list's numbers, and the
/// people of the list whose name matches `query` (none searched when it is blank).
async fn list_page(
    state: &AppState,
    page: &PageRequest,
    event: &str,
    list: &ListName,
    query: &str,
    result: Option<ScanShown>,
) -> Result<ListPage, PageError> {
    let (slug, name, wanted) = (event.to_owned(), list.clone(), fold(query));
    let (event_name, view, roster) = state
        .db
        .read(move |conn| {
            let event_name = catalog::event_view(conn, &slug, now())?.name;
            let label = name.to_string();
            let view = checkin::checkin_lists(conn, &slug)?
                .into_iter()
                .find(|l| l.list == label)
                .ok_or(crate::domain::DomainError::NotFound("check-in list"))?;
            let roster = match wanted.is_empty() {
                true => None,
                false => Some(checkin::offline_roster(conn, &slug, &name)?),
            };
            Ok::<_, crate::domain::DomainError>((event_name, view, roster))
        })
        .await
        .or_page(page)?;
    let lang = page.lang;
    let matching: Option<Vec<RosterPerson>> = roster.map(|roster| {
        roster
            .people
            .into_iter()
            .filter(|p| matches_name(p, &fold(query)))
            .collect()
    });
    let more = matching.as_ref().is_some_and(|m| m.len() > SEARCH_MAX);
    let found = matching.map(|people| {
        people
            .into_iter()
            .take(SEARCH_MAX)
            .map(|p| Found {
                name: format!("{} {}", p.first_name, p.last_name),
                organisation: p.organisation,
                country: p.country,
                checked_in_at: p.checked_in_at.map(|at| lang.moment(at)),
                inside: p.inside,
                nonce: uuid::Uuid::new_v4().to_string(),
                id: p.id,
            })
            .collect()
    });
    let label = list.to_string();
    let path = list_path(event, &label);
    Ok(ListPage {
        event: event.to_owned(),
        event_name,
        list: view,
        query: query.to_owned(),
        found,
        more,
        result,
        switch_path: path.clone(),
        roster_url: format!("{path}/roster.json"),
        scans_url: format!("{path}/scans"),
        path,
    })
}

/// A search matches the first and last name in either order, folded like every search
/// (case, accents, `Ł`…).
fn matches_name(person: &RosterPerson, wanted: &str) -> bool {
    let first_last = fold(&format!("{} {}", person.first_name, person.last_name));
    let last_first = fold(&format!("{} {}", person.last_name, person.first_name));
    first_last.contains(wanted) || last_first.contains(wanted)
}

/// `GET /organiser/events/{event}/checkin/{list}?q=`: the list's page.
pub async fn checkin_list_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let (_, page) = match holder_or_sign_in(&req, &state, page).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let event = path_param(&req, "event");
    let list = list_of(&req, &page)?;
    let query: String = query_object(&req)
        .get("q")
        .and_then(Json::as_str)
        .map(|q| q.trim().chars().take(100).collect())
        .unwrap_or_default();
    let context = list_page(&state, &page, &event, &list, &query, None).await?;
    page.render(StatusCode::OK, "checkin_list.html.j2", context)
}

/// `POST /organiser/events/{event}/checkin/{list}` with `registration`, `nonce` and the
/// search `q`: checks the person in, then shows the page with what the scan did (the
/// answer itself, not a redirect: it carries the scan's result; posting it again sends
/// the same nonce, which replays).
pub async fn checkin_by_form(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let form = page.read_form(&req, payload, &state).await?;
    let (holder, page) = match holder_or_sign_in(&req, &state, page).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let event = path_param(&req, "event");
    let list = list_of(&req, &page)?;
    let text = |field: &str| {
        form.get(field)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let query = text("q");
    let mut body = Map::new();
    for field in ["registration", "nonce"] {
        body.insert(field.into(), Json::String(text(field)));
    }
    body.insert("list".into(), Json::String(list.to_string()));
    body.insert("direction".into(), Json::String("in".into()));
    body.insert("device".into(), Json::String(DEVICE.into()));
    let scan = Scan::parse(body).map_err(ApiError::from).or_page(&page)?;
    let slug = event.clone();
    let result = state
        .db
        .write(move |conn| checkin::scan(conn, &slug, &holder, &scan, now()))
        .await
        .or_page(&page)?;
    state.metrics.count_scan(if result.replayed {
        crate::http::observe::REPLAYED_SCAN
    } else {
        result.outcome.as_str()
    });
    let shown = shown(&page, &event, result);
    let context = list_page(&state, &page, &event, &list, &query, Some(shown)).await?;
    page.render(StatusCode::OK, "checkin_list.html.j2", context)
}

fn shown(page: &PageRequest, event: &str, result: ScanResult) -> ScanShown {
    let lang = page.lang;
    let person = result.person.as_ref();
    ScanShown {
        outcome: result.outcome.as_str(),
        replayed: result.replayed,
        name: person.map_or_else(String::new, |p| format!("{} {}", p.first_name, p.last_name)),
        organisation: person.map_or_else(String::new, |p| p.organisation.clone()),
        visit_name: person.and_then(|p| p.site_visit_name.clone()),
        checked_in_at: result.checked_in_at.map(|at| lang.moment(at)),
        belongs_to_path: result.belongs_to.as_ref().map(|b| list_path(event, &b.list)),
        belongs_to: result.belongs_to.map(|b| b.name),
        reason: match result.outcome {
            Outcome::NotActive => result.reason.map(|r| match r {
                checkin::NotActiveReason::Cancelled => "cancelled",
                checkin::NotActiveReason::Waitlisted => "waitlisted",
                checkin::NotActiveReason::NoSeat => "no_seat",
            }),
            _ => None,
        },
    }
}

/// The session of a script's request: JSON endpoints answer problem documents, never a
/// redirect (401 without a session; a steward's session is enough here).
async fn script_caller(req: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    session_holder(req, state).await?.ok_or(ApiError::Unauthorized)
}

/// `GET /organiser/events/{event}/checkin/{list}/roster.json`: the API's offline roster
/// (the same body and `ETag`), for the page's script, with the board session.
pub async fn checkin_roster(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    script_caller(&req, &state).await?;
    roster_answer(&req, &state, path_param(&req, "event"), &path_param(&req, "list")).await
}

/// `POST /organiser/events/{event}/checkin/{list}/scans`: `{scans: [{registration | code,
/// direction, scanned_at?, nonce}]}` from the page's script (each scan's `list` is this
/// page's unless it names one), answered like the API's batch. A write from a page, so
/// the CSRF token the page embeds must come back in `X-CSRF-Token` (double submit).
pub async fn checkin_scans(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let sent = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !csrf_matches(&req, &state, sent) {
        return Err(ApiError::CrossSite);
    }
    let scanner = script_caller(&req, &state).await?;
    let list = ListName::parse(&path_param(&req, "list"))
        .ok_or_else(|| ApiError::NotFound("no such check-in list".into()))?;
    let mut body = read_object(&req, payload, batch_body_limit(&state)).await?;
    if let Some(Json::Array(scans)) = body.get_mut("scans") {
        for scan in scans.iter_mut() {
            if let Json::Object(scan) = scan {
                scan.entry("list")
                    .or_insert_with(|| Json::String(list.to_string()));
                scan.entry("device")
                    .or_insert_with(|| Json::String(DEVICE.into()));
            }
        }
    }
    let batch = ScanBatch::parse(body)?;
    let result = apply_batch(&state, path_param(&req, "event"), scanner, batch).await?;
    Ok(HttpResponse::Ok().json(result))
}

#[cfg(test)]
mod tests {
    use super::steward_may_open;

    #[test]
    fn stewards_may_open_the_check_in_pages_only() {
        for yes in [
            "/organiser/checkin",
            "/organiser/events/x/checkin",
            "/organiser/events/x/checkin/entry?q=ana",
            "/organiser/events/x/checkin/visit:a",
        ] {
            assert!(steward_may_open(yes), "{yes}");
        }
        for no in [
            "/organiser",
            "/organiser/events/x",
            "/organiser/events/x/site-visits/checkin",
            "/organiser/events//checkin",
            "/organiser/checkinx",
            "/organiser/events/x/exports/counts",
        ] {
            assert!(!steward_may_open(no), "{no}");
        }
    }
}
