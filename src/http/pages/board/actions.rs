//! The board's actions: forms that move a person, change a visit, run the allocation,
//! and the downloads of the exports. Each checks the session first (see
//! [`super::session`]) and calls the same domain function as the API.

use actix_web::{web, HttpRequest, HttpResponse};

use super::flash::{outcome_flash, set_flash};
use super::page;
use super::session::{admin_session, authorise, Action};
use super::views::{allocation_plan, Viewer};
use crate::domain::idempotency::Answer;
use crate::domain::now;
use crate::domain::organiser::{self, AllocationRequest, VisitUpdate};
use crate::domain::view::SeatStatus;
use crate::http::extract::path_param;
use crate::http::pages::{OrPage, PageError, PageRequest};
use crate::http::problem::ApiError;
use crate::http::AppState;
use crate::i18n::Lang;

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
    let lang = page.lang;
    let flash = outcome_flash(&page, outcome, |view| {
        let name = format!("{} {}", view.first_name, view.last_name);
        match view.site_visit {
            Some(seat) if seat.status == SeatStatus::Assigned => {
                lang.fill("board.moved", &[("name", &name), ("visit", &seat.name)])
            }
            _ => lang.fill("board.unseated", &[("name", &name)]),
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
    let lang = page.lang;
    let flash = outcome_flash(&page, outcome, |(view, update)| {
        let visit: &dyn std::fmt::Display = &view.name;
        let mut done = Vec::new();
        if update.capacity.is_some() {
            done.push(lang.fill("board.capacity_is", &[("visit", visit), ("n", &view.capacity)]));
        }
        match update.frozen {
            Some(true) => done.push(lang.fill("board.frozen_now", &[("visit", visit)])),
            Some(false) => done.push(lang.fill("board.unfrozen_now", &[("visit", visit)])),
            None => {}
        }
        let separator = match lang {
            Lang::En => "; ",
            Lang::Fr => " ; ",
        };
        let text = done.join(separator);
        let mut chars = text.chars();
        match chars.next() {
            Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
            None => text,
        }
    })?;
    set_flash(&mut page, flash);
    Ok(back_to_board(page, &event))
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
        let text = page.lang.fill(
            "board.allocation_applied",
            &[
                ("changed", &report.seats_changed),
                ("first", &first),
                ("unplaced", &report.unplaced),
                ("skipped", &report.skipped),
            ],
        );
        set_flash(&mut page, Ok(text));
        return Ok(back_to_board(page, &event));
    }
    allocation_plan(page, &state, viewer, event, report).await
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
