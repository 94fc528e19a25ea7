//! The organisers' board: one column per site visit with its fill bar, roster, waitlist
//! and country mix, and the controls to move people, change capacities, freeze rosters
//! and run the allocation (a dry run first, then apply). In English: organisers work in
//! the API's language.
//!
//! Sign-in takes an API token (organiser or admin) once, checks it with the same
//! function as the API, and sets a session cookie that holds the token's id and an
//! expiry signed with the service key — never the token. Every request reloads the
//! token, so a revoked token ends its sessions at once, and every action re-checks the
//! role. Actions are forms that call the same domain functions as `http::organiser`,
//! with the token's name as the audit actor, then redirect back with a flash message.

use std::collections::BTreeMap;

use actix_web::cookie::{time::Duration as CookieAge, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::{OrPage, PageError, PageRequest};
use crate::domain::access::{self, Principal, Role};
use crate::domain::catalog::{self, EventSummary};
use crate::domain::idempotency::Answer;
use crate::domain::organiser::{self, AllocationReport, AllocationRequest, PersonEntry, VisitUpdate};
use crate::domain::view::SeatStatus;
use crate::domain::{now, DomainError};
use crate::http::extract::{path_param, query_object};
use crate::http::problem::ApiError;
use crate::http::AppState;
use crate::i18n::Lang;

const SESSION_COOKIE: &str = "rp_board";
const FLASH_COOKIE: &str = "rp_flash";
const SESSION_HOURS: i64 = 12;
const BOARD_PATH: &str = "/organiser";

fn page(req: &HttpRequest, state: &AppState) -> PageRequest {
    PageRequest::in_language(req, state, Lang::En)
}

fn board_cookie(name: &'static str, value: String, max_age: CookieAge, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(BOARD_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .finish()
}

/// The organiser or admin whose session this browser holds, if it is valid, unexpired
/// and its token still live.
async fn signed_in(req: &HttpRequest, state: &AppState) -> Result<Option<Principal>, ApiError> {
    let Some(token_id) = req.cookie(SESSION_COOKIE).and_then(|c| {
        state
            .manage_key
            .verify_session(c.value(), chrono::Utc::now().timestamp())
    }) else {
        return Ok(None);
    };
    let principal = state
        .db
        .read(move |conn| access::principal_by_token_id(conn, &token_id))
        .await?;
    Ok(principal.filter(|p| p.role.includes(Role::Organiser)))
}

/// Where sign-in may send the browser afterwards: a board page, nothing else (no other
/// site, and nothing that could not be a `Location` header).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if (path == BOARD_PATH || path.starts_with("/organiser/"))
                && !path.contains("//")
                && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            path
        }
        _ => BOARD_PATH,
    }
}

fn to_sign_in(page: PageRequest, next: &str) -> HttpResponse {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    page.redirect(&format!("/organiser/sign-in?{query}"))
}

/// A message for the next page, in a cookie that lives a minute: it survives the
/// redirect and cannot be forged through a link.
#[derive(Serialize)]
struct Flash {
    error: bool,
    text: String,
}

fn set_flash(page: &mut PageRequest, flash: Result<String, String>) {
    let (kind, text) = match flash {
        Ok(text) => ("ok", text),
        Err(text) => ("error", text),
    };
    let value = form_urlencoded::Serializer::new(String::new())
        .append_pair("kind", kind)
        .append_pair("text", &text)
        .finish();
    let secure = page.secure();
    page.add_cookie(board_cookie(FLASH_COOKIE, value, CookieAge::minutes(1), secure));
}

fn take_flash(req: &HttpRequest, page: &mut PageRequest) -> Option<Flash> {
    let cookie = req.cookie(FLASH_COOKIE)?;
    let secure = page.secure();
    page.add_cookie(board_cookie(FLASH_COOKIE, String::new(), CookieAge::ZERO, secure));
    let fields: BTreeMap<String, String> = form_urlencoded::parse(cookie.value().as_bytes())
        .into_owned()
        .collect();
    Some(Flash {
        error: fields.get("kind").is_some_and(|k| k == "error"),
        text: fields.get("text")?.clone(),
    })
}

/// What an organiser reads when an action is refused.
fn refusal(error: &DomainError) -> Option<String> {
    match error {
        DomainError::Validation(errors) => Some(
            errors
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
                .collect::<Vec<_>>()
                .join(". "),
        ),
        DomainError::CapacityExceeded(message) | DomainError::RegistrationClosed(message) => {
            Some(message.clone())
        }
        DomainError::NotFound(what) => Some(format!("{what} not found")),
        DomainError::DuplicateRegistration | DomainError::Storage(_) => None,
    }
}

/// The flash of an action's outcome: its message, or why it was refused; failures of
/// the service itself are error pages.
fn outcome_flash<T>(
    page: &PageRequest,
    outcome: Result<T, DomainError>,
    message: impl FnOnce(T) -> String,
) -> Result<Result<String, String>, PageError> {
    match outcome {
        Ok(value) => Ok(Ok(message(value))),
        Err(error) => match refusal(&error) {
            Some(text) => Ok(Err(text)),
            None => Err(error).or_page(page),
        },
    }
}

fn form_text<'a>(form: &'a Map<String, Json>, field: &str) -> Option<&'a str> {
    form.get(field).and_then(Json::as_str).map(str::trim)
}

#[derive(Serialize)]
struct SignInPage {
    next: String,
    error: bool,
}

/// `GET /organiser/sign-in?next=`: the sign-in form (or straight on, when signed in).
pub async fn sign_in_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let page = page(&req, &state);
    let query = query_object(&req);
    let next = safe_next(query.get("next").and_then(Json::as_str)).to_owned();
    if signed_in(&req, &state).await.or_page(&page)?.is_some() {
        return Ok(page.redirect(&next));
    }
    page.render(
        StatusCode::OK,
        "board_sign_in.html.j2",
        SignInPage { next, error: false },
    )
}

/// `POST /organiser/sign-in` with `token` and `next`: a valid organiser or admin token
/// opens a session of 12 hours.
pub async fn sign_in(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    let form = page.read_form(&req, payload, &state).await?;
    let next = safe_next(form_text(&form, "next")).to_owned();
    let secret = form_text(&form, "token").unwrap_or_default().to_owned();
    let principal = state
        .db
        .read(move |conn| access::authenticate(conn, &secret))
        .await
        .or_page(&page)?
        .filter(|p| p.role.includes(Role::Organiser));
    let Some(principal) = principal else {
        return page.render(
            StatusCode::UNAUTHORIZED,
            "board_sign_in.html.j2",
            SignInPage { next, error: true },
        );
    };
    let expires_at = chrono::Utc::now().timestamp() + SESSION_HOURS * 3600;
    let session = state.manage_key.sign_session(&principal.token_id, expires_at);
    let secure = page.secure();
    page.add_cookie(board_cookie(
        SESSION_COOKIE,
        session,
        CookieAge::hours(SESSION_HOURS),
        secure,
    ));
    tracing::info!(name = %principal.name, role = principal.role.as_str(), "board sign-in");
    Ok(page.redirect(&next))
}

/// `POST /organiser/sign-out`: forgets the session in this browser.
pub async fn sign_out(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    page.read_form(&req, payload, &state).await?;
    let secure = page.secure();
    page.add_cookie(board_cookie(
        SESSION_COOKIE,
        String::new(),
        CookieAge::ZERO,
        secure,
    ));
    Ok(page.redirect("/organiser/sign-in"))
}

#[derive(Serialize)]
struct Viewer {
    name: String,
    admin: bool,
}

impl Viewer {
    fn of(principal: &Principal) -> Self {
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
    assigned: i32,
    seats_left: i32,
    waitlisted: usize,
    frozen: bool,
    meter_max: i32,
    countries: Vec<CountryCount>,
    people: Vec<PersonLine>,
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

/// `GET /organiser/events/{event}/exports/counts`: the admin counts export
/// (same query and answer as the API's), for an admin signed in to the board.
pub async fn export_counts(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    match admin_session(&req, &state).await? {
        Ok(()) => crate::http::downloads::counts_file(&req, &state)
            .await
            .or_page(&page(&req, &state)),
        Err(redirect) => Ok(redirect),
    }
}

/// `GET /organiser/events/{event}/exports/attendees`: the attendee list, as
/// [`export_counts`].
pub async fn export_attendees(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    match admin_session(&req, &state).await? {
        Ok(()) => crate::http::downloads::attendees_file(&req, &state)
            .await
            .or_page(&page(&req, &state)),
        Err(redirect) => Ok(redirect),
    }
}

/// Downloads from the board need an admin's session: without a session the browser is
/// sent to sign in (and back to the download after), an organiser's session is refused.
/// The cookie is `SameSite=Strict`, so a link on another site cannot start a download.
async fn admin_session(req: &HttpRequest, state: &AppState) -> Result<Result<(), HttpResponse>, PageError> {
    let page = page(req, state);
    let Some(principal) = signed_in(req, state).await.or_page(&page)? else {
        let next = match req.query_string() {
            "" => req.path().to_owned(),
            query => format!("{}?{query}", req.path()),
        };
        return Ok(Err(to_sign_in(page, &next)));
    };
    if principal.role.includes(Role::Admin) {
        Ok(Ok(()))
    } else {
        Err(page.error(
            StatusCode::FORBIDDEN,
            Some(ApiError::Forbidden(Role::Admin.as_str())),
        ))
    }
}

/// A board action's form, once its CSRF token and the session are checked.
struct Action {
    page: PageRequest,
    event: String,
    form: Map<String, Json>,
    actor: Principal,
}

/// What every board action does first: read the form, check its CSRF token, then
/// require a live session with the organiser role. Without one the answer is the
/// redirect to sign in (and back to the board after).
async fn authorise(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Result<Action, HttpResponse>, PageError> {
    let page = page(req, state);
    let event = path_param(req, "event");
    let form = page.read_form(req, payload, state).await?;
    Ok(match signed_in(req, state).await.or_page(&page)? {
        Some(actor) => Ok(Action {
            page,
            event,
            form,
            actor,
        }),
        None => Err(to_sign_in(page, &format!("/organiser/events/{event}"))),
    })
}

fn back_to_board(page: PageRequest, event: &str) -> HttpResponse {
    page.redirect(&format!("/organiser/events/{event}"))
}

/// `POST /organiser/events/{event}/move` with `registration` and `site_visit` (a slug,
/// or blank for no visit).
pub async fn move_person(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Action {
        mut page,
        event,
        mut form,
        actor,
    } = match authorise(&req, payload, &state).await? {
        Ok(action) => action,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let registration = form
        .remove("registration")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let outcome = match organiser::parse_move_target(form) {
        Ok(target) => {
            let event = event.clone();
            state
                .db
                .write(move |conn| {
                    organiser::move_participant(
                        conn,
                        &actor.name,
                        &event,
                        &registration,
                        target.as_deref(),
                        now(),
                    )
                })
                .await
        }
        Err(error) => Err(error),
    };
    let flash = outcome_flash(&page, outcome, |view| {
        let name = format!("{} {}", view.first_name, view.last_name);
        match view.site_visit {
            Some(seat) if seat.status == SeatStatus::Assigned => format!("{name} moved to {}.", seat.name),
            _ => format!("{name} now holds no site visit."),
        }
    })?;
    set_flash(&mut page, flash);
    Ok(back_to_board(page, &event))
}

/// `POST /organiser/events/{event}/site-visits/{visit}` with `capacity` or `frozen`.
pub async fn update_visit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Action {
        mut page,
        event,
        form,
        actor,
    } = match authorise(&req, payload, &state).await? {
        Ok(action) => action,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let visit = path_param(&req, "visit");
    let outcome = match VisitUpdate::parse(form) {
        Ok(update) => {
            let event = event.clone();
            let changed = update.clone();
            state
                .db
                .write(move |conn| {
                    organiser::update_site_visit(conn, &actor.name, &event, &visit, &changed, now())
                })
                .await
                .map(|view| (view, update))
        }
        Err(error) => Err(error),
    };
    let flash = outcome_flash(&page, outcome, |(view, update)| {
        let mut done = Vec::new();
        if update.capacity.is_some() {
            done.push(format!("capacity of {} is {}", view.name, view.capacity));
        }
        match update.frozen {
            Some(true) => done.push(format!(
                "{} is frozen: its roster changes only by hand",
                view.name
            )),
            Some(false) => done.push(format!("{} is no longer frozen", view.name)),
            None => {}
        }
        let mut text = done.join("; ");
        if let Some(first) = text.get(..1) {
            text = format!("{}{}.", first.to_uppercase(), &text[1..]);
        }
        text
    })?;
    set_flash(&mut page, flash);
    Ok(back_to_board(page, &event))
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

/// `POST /organiser/events/{event}/allocation`: with `dry_run=true` (the default) the
/// plan is shown with a button to apply it; with `dry_run=false` it is applied and the
/// board shows the outcome.
pub async fn allocation(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Action {
        mut page,
        event,
        form,
        actor,
    } = match authorise(&req, payload, &state).await? {
        Ok(action) => action,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let request = match AllocationRequest::parse(form) {
        Ok(request) => request,
        Err(error) => {
            let flash = outcome_flash(&page, Err::<(), _>(error), |_| String::new())?;
            set_flash(&mut page, flash);
            return Ok(back_to_board(page, &event));
        }
    };
    let viewer = Viewer::of(&actor);
    let report = match organiser::run_allocation(&state.db, actor.name, event.clone(), request, None).await {
        Ok(Answer::Fresh(report)) => report,
        // Without a key nothing is kept, so nothing can be replayed.
        Ok(Answer::Replayed { .. }) => {
            return Err(ApiError::Internal("a write without a key was replayed".into())).or_page(&page)
        }
        Err(error) => {
            let flash = outcome_flash(&page, Err::<(), _>(error), |_| String::new())?;
            set_flash(&mut page, flash);
            return Ok(back_to_board(page, &event));
        }
    };
    if !request.dry_run {
        let first = report.by_rank.first().copied().unwrap_or(0);
        set_flash(
            &mut page,
            Ok(format!(
                "Allocation applied: {} seats changed, {first} people in their first choice, {} unplaced, {} left as they were because they changed meanwhile.",
                report.seats_changed, report.unplaced, report.skipped
            )),
        );
        return Ok(back_to_board(page, &event));
    }
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

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn sign_in_sends_the_browser_on_to_board_pages_only() {
        assert_eq!(safe_next(Some("/organiser/events/x")), "/organiser/events/x");
        assert_eq!(safe_next(Some("/organiser")), "/organiser");
        assert_eq!(safe_next(None), "/organiser");
        for elsewhere in [
            "https://evil.example/organiser/",
            "//evil.example",
            "/organiser//evil.example",
            "/organiser/\\evil.example",
            "/organiser/x\r\nSet-Cookie: a=b",
            "/events/x",
            "/organiserx",
        ] {
            assert_eq!(safe_next(Some(elsewhere)), "/organiser", "{elsewhere:?}");
        }
    }
}
