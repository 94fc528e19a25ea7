//! The holder of a manage link: view, change the ranking, cancel. An unknown token is a
//! plain 404 that tells nothing more.

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{path_param, read_object};
use super::problem::ApiError;
use super::public::{preference_rules, RegistrationAnswer};
use super::AppState;
use crate::domain::booking;
use crate::domain::registration::parse_preference_change;
use crate::domain::{now, DomainError};
use crate::store::events;

fn answer(state: &AppState, token: &str, view: booking::RegistrationView) -> HttpResponse {
    HttpResponse::Ok().json(RegistrationAnswer {
        view,
        manage_url: state.manage_url(token),
    })
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let token = path_param(&req, "token");
    let lookup = token.clone();
    let view = state
        .db
        .read(move |conn| booking::view_by_manage_token(conn, &lookup))
        .await?;
    Ok(answer(&state, &token, view))
}

pub async fn change(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = path_param(&req, "token");
    let lookup = token.clone();
    let event_slug = state
        .db
        .read(move |conn| {
            let registration = booking::find_by_manage_token(conn, &lookup)?;
            Ok::<_, DomainError>(events::find(conn, &registration.event_id)?.slug)
        })
        .await?;
    let rules = preference_rules(&state, event_slug).await?;
    let body = read_object(&req, payload, state.max_body_bytes).await?;
    let preferences = parse_preference_change(body, &rules.as_preference_rules())?;
    let lookup = token.clone();
    let view = state
        .db
        .write(move |conn| {
            let now = now();
            let registration = booking::find_by_manage_token(conn, &lookup)?;
            booking::change_preferences(conn, &registration, &preferences, now)?;
            booking::view_by_manage_token(conn, &lookup)
        })
        .await?;
    Ok(answer(&state, &token, view))
}

pub async fn cancel(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let token = path_param(&req, "token");
    let lookup = token.clone();
    let view = state
        .db
        .write(move |conn| {
            let registration = booking::find_by_manage_token(conn, &lookup)?;
            booking::cancel_registration(conn, &registration, now())?;
            booking::view_by_manage_token(conn, &lookup)
        })
        .await?;
    Ok(answer(&state, &token, view))
}
