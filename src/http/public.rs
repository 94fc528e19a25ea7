//! What anyone may call: the event view and registration.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::extract::{accept_language, path_param, read_object};
use super::problem::ApiError;
use super::AppState;
use crate::domain::booking::{self, RegistrationView};
use crate::domain::catalog;
use crate::domain::registration::{NewRegistration, PreferenceRules};
use crate::domain::{now, DomainError};
use crate::store::site_visits;

pub async fn show_event(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let slug = path_param(&req, "event");
    let view = state
        .db
        .read(move |conn| catalog::event_view(conn, &slug, now()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A registration as its holder sees it, with the private link to manage it.
#[derive(Serialize)]
pub struct RegistrationAnswer {
    #[serde(flatten)]
    pub view: RegistrationView,
    pub manage_url: String,
}

/// What a ranking may contain for this event: its visit slugs and the most ranks.
pub async fn preference_rules(
    state: &AppState,
    event_slug: String,
) -> Result<(Vec<String>, usize), ApiError> {
    Ok(state
        .db
        .read(move |conn| {
            let event = booking::find_event(conn, &event_slug)?;
            let visits = site_visits::list(conn, &event.id)?;
            Ok::<_, DomainError>((
                visits.into_iter().map(|v| v.slug).collect(),
                event.max_preferences.max(1) as usize,
            ))
        })
        .await?)
}

pub async fn register(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let slug = path_param(&req, "event");
    let (visit_slugs, max_preferences) = preference_rules(&state, slug.clone()).await?;
    let body = read_object(&req, payload, state.max_body_bytes).await?;
    let input = NewRegistration::parse(
        body,
        &PreferenceRules {
            visit_slugs: &visit_slugs,
            max_preferences,
        },
    )?
    .in_language(accept_language(&req));
    let key = state.manage_key.clone();
    let registered = state
        .db
        .write(move |conn| booking::register_participant(conn, &key, &slug, &input, now()))
        .await?;
    let answer = RegistrationAnswer {
        manage_url: state.manage_url(&registered.manage_token),
        view: registered.view,
    };
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/manage/{}", registered.manage_token),
        ))
        .json(answer))
}
