//! What anyone may call: the event view and registration.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::extract::{path_param, read_object};
use super::problem::ApiError;
use super::{AppState, EventRules};
use crate::domain::booking::{self, RegistrationView};
use crate::domain::catalog;
use crate::domain::registration::NewRegistration;
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
/// Cached for a moment: parsing needs them on every registration, and they change only
/// when an admin adds a visit. The write transaction checks every slug again, so a stale
/// entry can only turn a would-be 422 into the same 422 one step later.
pub async fn preference_rules(state: &AppState, event_slug: String) -> Result<Arc<EventRules>, ApiError> {
    if let Some(rules) = state.rules.get(&event_slug) {
        return Ok(rules);
    }
    let slug = event_slug.clone();
    let rules = state
        .db
        .read(move |conn| {
            let event = booking::find_event(conn, &slug)?;
            let visits = site_visits::list(conn, &event.id)?;
            Ok::<_, DomainError>(EventRules {
                visit_slugs: visits.into_iter().map(|v| v.slug).collect(),
                max_preferences: event.max_preferences.max(1) as usize,
            })
        })
        .await?;
    Ok(state.rules.put(event_slug, rules))
}

pub async fn register(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let slug = path_param(&req, "event");
    let rules = preference_rules(&state, slug.clone()).await?;
    let body = read_object(&req, payload, state.max_body_bytes).await?;
    let input = NewRegistration::parse(body, &rules.as_preference_rules())?;
    let key = state.manage_key.clone();
    let registered = state
        .db
        .write(move |conn| booking::register_participant(conn, &key, &slug, &input, now()))
        .await?;
    state.metrics.registrations.inc();
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
