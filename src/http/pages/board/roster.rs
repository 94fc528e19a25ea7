//! The paged roster of one visit (and of the confirmed people without a seat), and the
//! bulk actions on the rows an organiser selects there: move them all to a visit (or
//! out of every visit), or download them as CSV.
//!
//! A page holds at most `ROSTER_PAGE_SIZE` people and one form: the toolbar at its top
//! and a checkbox per row, so an event of thousands never becomes a page of thousands of
//! forms. Search, filters, sort and page are a GET query, so a view can be bookmarked
//! and the back button works.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::flash::{outcome_flash, set_flash, take_flash, Flash};
use super::session::{authorise, signed_in, to_sign_in, within, Action};
use super::views::Viewer;
use super::{page, switch_path};
use crate::domain::exports::AttendeeCursor;
use crate::domain::now;
use crate::domain::organiser::{
    self, RosterOf, RosterPage, RosterQuery, RosterRow, RosterSort, RowStatus, ROSTER_PAGE_SIZE,
};
use crate::domain::view::SeatStatus;
use crate::domain::DomainError;
use crate::export::{self, Format};
use crate::http::extract::{path_param, query_object};
use crate::http::pages::{OrPage, PageError, PageRequest};
use crate::http::AppState;
use crate::i18n::Lang;

/// Most people one bulk action takes: several pages' worth, and a bound on the work one
/// request can start.
const MAX_SELECTION: usize = 500;

/// Refusals named one by one in the message (the flash is a cookie: it must stay small).
const NAMED_REFUSALS: usize = 10;

/// The page's query as given, kept to rebuild links.
#[derive(Clone, Debug, Default, Serialize)]
struct Params {
    q: String,
    country: String,
    status: String,
    sort: String,
}

fn first_text(query: &Map<String, Json>, key: &str) -> String {
    match query.get(key) {
        Some(Json::String(text)) => text.trim().to_owned(),
        Some(Json::Array(items)) => items
            .first()
            .and_then(Json::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned(),
        _ => String::new(),
    }
}

impl Params {
    /// Unknown `status` or `sort` values are dropped (the page shows everyone, in roster
    /// order) rather than refused: a GET page with a stale link should still show.
    fn read(query: &Map<String, Json>) -> (Self, RosterQuery) {
        let mut params = Self {
            q: first_text(query, "q"),
            country: first_text(query, "country").to_ascii_uppercase(),
            status: first_text(query, "status"),
            sort: first_text(query, "sort"),
        };
        let status = RowStatus::parse(&params.status);
        if status.is_none() {
            params.status.clear();
        }
        let sort = RosterSort::parse(&params.sort);
        if sort.is_none() {
            params.sort.clear();
        }
        let roster_query = RosterQuery {
            search: Some(params.q.clone()).filter(|q| !q.is_empty()),
            country: Some(params.country.clone()).filter(|c| !c.is_empty()),
            status,
            sort: sort.unwrap_or_default(),
            page: first_text(query, "page").parse().unwrap_or(1),
        };
        (params, roster_query)
    }

    /// `path?…&page=N`, with the empty parameters left out.
    fn link(&self, path: &str, page: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("q", &self.q),
            ("country", &self.country),
            ("status", &self.status),
            ("sort", &self.sort),
        ] {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        match query.finish() {
            query if query.is_empty() => path.to_owned(),
            query => format!("{path}?{query}"),
        }
    }
}

#[derive(Serialize)]
struct Line {
    id: String,
    name: String,
    organisation: String,
    country: String,
    country_name: String,
    email: String,
    /// "1st choice" when this visit is one they ranked.
    rank: Option<String>,
    status: RowStatus,
    /// Where they stand, in words: "seated", "#3 waiting", "offered until …".
    standing: String,
    position: Option<usize>,
    /// The visit they hold a seat in, when it is not this one.
    seat_name: Option<String>,
    placed_by_hand: bool,
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
}

#[derive(Serialize)]
struct Paging {
    first: Option<String>,
    previous: Option<String>,
    next: Option<String>,
    last: Option<String>,
}

#[derive(Serialize)]
struct RosterContext {
    viewer: Viewer,
    switch_path: String,
    flash: Option<Flash>,
    event_slug: String,
    event_name: String,
    /// The visit's slug; none for the people without a seat.
    visit_slug: Option<String>,
    title: String,
    capacity: Option<i32>,
    seated: usize,
    offered: usize,
    waiting: usize,
    without_seat: usize,
    frozen: bool,
    lines: Vec<Line>,
    matching: usize,
    from: usize,
    to: usize,
    page: usize,
    pages: usize,
    clamped: bool,
    paging: Paging,
    params: Params,
    /// This page's address, where the bulk actions come back to.
    here: String,
    countries: Vec<Choice>,
    statuses: Vec<Choice>,
    sorts: Vec<Choice>,
    visit_options: Vec<Choice>,
    other_rosters: Vec<Choice>,
}

fn line(row: RosterRow, names: &HashMap<String, String>, this_visit: Option<&str>, lang: Lang) -> Line {
    let person = row.person;
    let standing = match row.status {
        RowStatus::Seated => match (row.checked_in_at, row.no_show) {
            (Some(at), _) => lang.fill("board.standing_checked_in", &[("when", &lang.moment(at))]),
            (None, true) => lang.fill("board.standing_no_show", &[]),
            (None, false) => lang.fill("board.standing_seated", &[]),
        },
        RowStatus::Offered => match row.offer_expires_at {
            Some(until) => lang.fill("board.standing_offered_until", &[("when", &lang.moment(until))]),
            None => lang.fill("board.standing_offered", &[]),
        },
        RowStatus::Waiting => lang.fill(
            "board.standing_waiting",
            &[("n", &row.position.unwrap_or_default())],
        ),
        RowStatus::NoSeat => lang.fill("board.standing_no_seat", &[]),
    };
    let seat_name = person
        .site_visit
        .as_deref()
        .filter(|seat| Some(*seat) != this_visit)
        .map(|seat| names.get(seat).cloned().unwrap_or_else(|| seat.to_owned()));
    Line {
        name: format!("{} {}", person.first_name, person.last_name),
        rank: person.rank.map(|rank| lang.choice_label(rank)),
        status: row.status,
        standing,
        position: row.position,
        seat_name,
        placed_by_hand: !person.auto_seat,
        id: person.id,
        organisation: person.organisation,
        country: person.country,
        country_name: person.country_name,
        email: person.email,
    }
}

fn choice(value: &str, label: &str) -> Choice {
    Choice {
        value: value.to_owned(),
        label: label.to_owned(),
    }
}

/// `GET /organiser/events/{event}/site-visits/{visit}?q=&country=&status=&sort=&page=`:
/// one page of the visit's roster (seated, offered, waiting).
pub async fn visit_roster_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let visit = path_param(&req, "visit");
    roster_view(req, state, RosterOf::Visit(visit)).await
}

/// `GET /organiser/events/{event}/without-seat?…`: the same page for the confirmed
/// people who hold no seat. A path of its own rather than a reserved visit slug, so no
/// visit can ever be shadowed by it.
pub async fn without_seat_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    roster_view(req, state, RosterOf::WithoutSeat).await
}

async fn roster_view(
    req: HttpRequest,
    state: web::Data<AppState>,
    of: RosterOf,
) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    let slug = path_param(&req, "event");
    let path = req.path().to_owned();
    let here = match req.query_string() {
        "" => path.clone(),
        query => format!("{path}?{query}"),
    };
    let Some(principal) = signed_in(&req, &state).await.or_page(&page)? else {
        return Ok(to_sign_in(page, &here));
    };
    let flash = take_flash(&req, &mut page);
    let lang = page.lang;
    let text = |key: &str| lang.fill(key, &[]);
    let (params, query) = Params::read(&query_object(&req));
    let (lookup, whose) = (slug.clone(), of.clone());
    let roster: RosterPage = state
        .db
        .read(move |conn| organiser::roster_page(conn, &lookup, &whose, &query, now()))
        .await
        .or_page(&page)?;
    let names: HashMap<String, String> = roster
        .event
        .site_visits
        .iter()
        .map(|v| (v.slug.clone(), v.name.clone()))
        .collect();
    let visit_slug = roster.visit.as_ref().map(|v| v.slug.clone());
    let first_row = (roster.page - 1) * ROSTER_PAGE_SIZE;
    let lines: Vec<Line> = roster
        .rows
        .into_iter()
        .map(|row| line(row, &names, visit_slug.as_deref(), lang))
        .collect();
    let link = |n: usize| params.link(&path, n);
    let paging = Paging {
        first: (roster.page > 1).then(|| link(1)),
        previous: (roster.page > 1).then(|| link(roster.page - 1)),
        next: (roster.page < roster.pages).then(|| link(roster.page + 1)),
        last: (roster.page < roster.pages).then(|| link(roster.pages)),
    };
    let statuses = if visit_slug.is_some() {
        vec![
            choice("", &text("board.everyone")),
            choice("seated", &text("board.status_seated")),
            choice("offered", &text("board.status_offered")),
            choice("waiting", &text("board.status_waiting")),
        ]
    } else {
        Vec::new()
    };
    let mut other_rosters: Vec<Choice> = roster
        .event
        .site_visits
        .iter()
        .filter(|v| Some(&v.slug) != visit_slug.as_ref())
        .map(|v| {
            choice(
                &format!("/organiser/events/{slug}/site-visits/{}", v.slug),
                &v.name,
            )
        })
        .collect();
    if visit_slug.is_some() {
        other_rosters.push(choice(
            &format!("/organiser/events/{slug}/without-seat"),
            &text("board.without_visit"),
        ));
    }
    let context = RosterContext {
        viewer: Viewer::of(&principal),
        switch_path: switch_path(&req),
        flash,
        title: match &roster.visit {
            Some(visit) => visit.name.clone(),
            None => text("board.without_visit"),
        },
        capacity: roster.visit.as_ref().map(|v| v.capacity),
        frozen: roster.visit.as_ref().is_some_and(|v| v.frozen),
        seated: roster.seated,
        offered: roster.offered,
        waiting: roster.waiting,
        without_seat: roster.without_seat,
        from: if lines.is_empty() { 0 } else { first_row + 1 },
        to: first_row + lines.len(),
        lines,
        matching: roster.matching,
        page: roster.page,
        pages: roster.pages,
        clamped: roster.clamped,
        paging,
        here,
        countries: std::iter::once(choice("", &text("board.all_countries")))
            .chain(roster.countries.iter().map(|(code, name)| choice(code, name)))
            .collect(),
        statuses,
        sorts: vec![
            choice("", &text("board.sort_roster")),
            choice("name", &text("board.sort_name")),
            choice("registered", &text("board.sort_registered")),
            choice("country", &text("board.sort_country")),
        ],
        visit_options: roster
            .event
            .site_visits
            .iter()
            .map(|v| choice(&v.slug, &v.name))
            .chain(std::iter::once(choice("", &text("board.no_visit"))))
            .collect(),
        other_rosters,
        params,
        visit_slug,
        event_name: roster.event.name,
        event_slug: slug,
    };
    page.render(StatusCode::OK, "board_roster.html.j2", context)
}

/// The `registration` values of the form, each once, in the order sent.
fn selected_ids(form: &Map<String, Json>) -> Vec<String> {
    let values: Vec<&str> = match form.get("registration") {
        Some(Json::String(one)) => vec![one.as_str()],
        Some(Json::Array(many)) => many.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    };
    let mut ids: Vec<String> = Vec::new();
    for id in values.into_iter().map(str::trim).filter(|id| !id.is_empty()) {
        if !ids.iter().any(|seen| seen == id) {
            ids.push(id.to_owned());
        }
    }
    ids
}

/// Where a bulk action sends the browser back to: the roster page it came from (its
/// query kept) when `back` is one of this event's board pages, else the event's board.
fn safe_back(back: Option<&str>, event: &str) -> String {
    let board = format!("/organiser/events/{event}");
    within(back, &board).map_or(board.clone(), str::to_owned)
}

/// `POST /organiser/events/{event}/bulk` with `registration` (repeated), `action`
/// (`move` or `csv`), `site_visit` (for `move`: a slug, blank for none) and `back`.
pub async fn bulk_action(
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
    let back = safe_back(form.get("back").and_then(Json::as_str), &event);
    let ids = selected_ids(&form);
    let action = form.get("action").and_then(Json::as_str).unwrap_or_default();
    let lang = page.lang;
    let refusal = if ids.is_empty() {
        Some(lang.fill("board.select_first", &[]))
    } else if ids.len() > MAX_SELECTION {
        Some(lang.fill(
            "board.too_many_selected",
            &[("n", &ids.len()), ("max", &MAX_SELECTION)],
        ))
    } else if !matches!(action, "move" | "csv") {
        Some(lang.fill("board.choose_action", &[]))
    } else {
        None
    };
    if let Some(text) = refusal {
        set_flash(&mut page, Err(text));
        return Ok(page.redirect(&back));
    }
    if action == "csv" {
        return selection_csv(page, &state, event, ids).await;
    }
    let mut target_form = Map::new();
    if let Some(target) = form.get("site_visit") {
        target_form.insert("site_visit".into(), target.clone());
    }
    let target = match organiser::parse_move_target(target_form) {
        Ok(target) => target,
        Err(error) => {
            let flash = outcome_flash(&page, Err::<(), _>(error), |_| String::new())?;
            set_flash(&mut page, flash);
            return Ok(page.redirect(&back));
        }
    };
    let flash = move_selection(&page, &state, &actor.name, &event, &ids, target).await?;
    set_flash(&mut page, flash);
    Ok(page.redirect(&back))
}

/// Moves each selected person as the single move does, each in its own transaction:
/// one that does not fit is refused and named, the others are moved.
async fn move_selection(
    page: &PageRequest,
    state: &AppState,
    actor: &str,
    event: &str,
    ids: &[String],
    target: Option<String>,
) -> Result<Result<String, String>, PageError> {
    let (lookup, wanted) = (event.to_owned(), ids.to_vec());
    let names = state
        .db
        .read(move |conn| organiser::names_of(conn, &lookup, &wanted))
        .await
        .or_page(page)?;
    let lang = page.lang;
    let mut moved: i64 = 0;
    let mut target_name = None;
    let mut refused: Vec<String> = Vec::new();
    for id in ids {
        let (actor, event, id_owned, to) = (actor.to_owned(), event.to_owned(), id.clone(), target.clone());
        let outcome = state
            .db
            .write(move |conn| {
                organiser::move_participant(conn, &actor, &event, &id_owned, to.as_deref(), now())
            })
            .await;
        let name = names
            .get(id)
            .cloned()
            .unwrap_or_else(|| lang.fill("board.someone", &[]));
        match outcome {
            Ok(view) => {
                moved += 1;
                if let Some(seat) = view.site_visit.filter(|s| s.status == SeatStatus::Assigned) {
                    target_name = Some(seat.name);
                }
            }
            Err(DomainError::Storage(cause)) => {
                // The others are already moved (each in its own transaction): say so,
                // rather than an error page that would hide it.
                tracing::error!(%cause, registration = %id, "bulk move failed");
                refused.push(format!("{name} ({})", lang.fill("board.service_failed", &[])));
            }
            Err(error) => match outcome_flash(page, Err::<(), _>(error), |_| String::new())? {
                Err(reason) | Ok(reason) => refused.push(format!("{name} ({reason})")),
            },
        }
    }
    let mut text = match (&target, moved) {
        (_, 0) => lang.fill("board.nobody_moved", &[]),
        (Some(_), n) => {
            let visit = target_name.unwrap_or_else(|| lang.fill("board.the_visit", &[]));
            lang.count("board.bulk_moved", n, &[("visit", &visit)])
        }
        (None, n) => lang.count("board.bulk_unseated", n, &[]),
    };
    if !refused.is_empty() {
        let more = refused.len().saturating_sub(NAMED_REFUSALS);
        refused.truncate(NAMED_REFUSALS);
        let separator = match lang {
            Lang::En => "; ",
            Lang::Fr => " ; ",
        };
        text.push_str(&lang.fill("board.not_moved", &[("people", &refused.join(separator))]));
        if more > 0 {
            text.push_str(&lang.fill("board.and_more", &[("n", &more)]));
        }
        text.push('.');
        return Ok(Err(text));
    }
    Ok(Ok(text))
}

/// The selection as the attendee list's CSV: the same columns, lines and formula
/// neutralisation, restricted to the selected people (cancelled ones and other events'
/// left out). Organisers may have it, not only admins: it is what the roster already
/// shows them, for people they chose one by one.
async fn selection_csv(
    page: PageRequest,
    state: &AppState,
    event: String,
    ids: Vec<String>,
) -> Result<HttpResponse, PageError> {
    let (slug, columns, attendees) = state
        .db
        .read(move |conn| {
            let cursor = AttendeeCursor::open(conn, &event)?;
            let attendees = cursor.selection(conn, &ids)?;
            Ok::<_, DomainError>((cursor.event_slug().to_owned(), cursor.answer_columns(), attendees))
        })
        .await
        .or_page(&page)?;
    let mut body = export::csv::attendee_header(&columns);
    body.extend(export::csv::attendee_lines(&attendees));
    let file_name = export::file_name(&slug, "selection", now().date(), Format::Csv);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, Format::Csv.content_type()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_actions_come_back_to_this_events_board_pages_only() {
        let ok = "/organiser/events/cmr/site-visits/steel?q=x&page=2";
        assert_eq!(safe_back(Some(ok), "cmr"), ok);
        assert_eq!(
            safe_back(Some("/organiser/events/cmr"), "cmr"),
            "/organiser/events/cmr"
        );
        for elsewhere in [
            "https://evil.example/organiser/events/cmr",
            "/organiser/events/other/site-visits/x",
            "/organiser/events/cmrx",
            "/organiser/events/cmr//evil.example",
            "/organiser/events/cmr/\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(
                safe_back(Some(elsewhere), "cmr"),
                "/organiser/events/cmr",
                "{elsewhere:?}"
            );
        }
        assert_eq!(safe_back(None, "cmr"), "/organiser/events/cmr");
    }

    #[test]
    fn links_keep_the_query_and_leave_out_empty_values() {
        let params = Params {
            q: "Łobocka".into(),
            country: "PL".into(),
            status: String::new(),
            sort: "name".into(),
        };
        assert_eq!(
            params.link("/p", 3),
            "/p?q=%C5%81obocka&country=PL&sort=name&page=3"
        );
        assert_eq!(Params::default().link("/p", 1), "/p");
    }
}
