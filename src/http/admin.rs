//! Admin-only actions: creating events and site visits.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{path_param, read_object, require_role};
use super::problem::ApiError;
use super::AppState;
use crate::domain::access::Role;
use crate::domain::catalog;
use crate::domain::event::{NewEvent, NewSiteVisit};
use crate::domain::now;

pub async fn create_event(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_role(&req, &state, Role::Admin).await?;
    let event = NewEvent::parse(read_object(&req, payload, state.max_body_bytes).await?)?;
    let slug = event.slug.clone();
    let view = state
        .db
        .write(move |conn| {
            let now = now();
            catalog::create_event(conn, &event, now)?;
            catalog::event_view(conn, &event.slug, now)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/events/{slug}")))
        .json(view))
}

pub async fn create_site_visit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_role(&req, &state, Role::Admin).await?;
    let event_slug = path_param(&req, "event");
    let visit = NewSiteVisit::parse(read_object(&req, payload, state.max_body_bytes).await?)?;
    let visit_slug = visit.slug.clone();
    let view = state
        .db
        .write(move |conn| {
            let now = now();
            catalog::add_site_visit(conn, &event_slug, &visit, now)?;
            catalog::event_view(conn, &event_slug, now)
        })
        .await?;
    let created = view.site_visits.iter().find(|v| v.slug == visit_slug).cloned();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/events/{}", view.slug)))
        .json(created))
}
