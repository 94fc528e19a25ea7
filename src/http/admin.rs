//! Admin-only actions: creating events and site visits, the email outbox.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{path_param, query_object, read_object, require_role};
use super::openapi::{NewEventBody, NewSiteVisitBody};
use super::problem::ApiError;
use super::problem::Problem;
use super::AppState;
use crate::domain::access::Role;
use crate::domain::catalog;
use crate::domain::catalog::{EventView, SiteVisitView};
use crate::domain::event::{NewEvent, NewSiteVisit};
use crate::domain::input::Fields;
use crate::domain::{now, DomainError};
use crate::store::outbox;

#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = "admin",
    summary = "Create an event",
    security(("bearer" = [])),
    request_body(content = NewEventBody, content_type = "application/json"),
    responses((status = 201, description = "The event", body = EventView,
        headers(("Location" = String, description = "`/api/v1/events/{slug}`")),
        links(
            ("ShowEvent" = (operation_id = "show_event", parameters(("event" = "$response.body#/slug")))),
            ("AddSiteVisit" = (operation_id = "create_site_visit", parameters(("event" = "$response.body#/slug")))),
            ("Register" = (operation_id = "register", parameters(("event" = "$response.body#/slug")))),
            ("ListRegistrations" = (operation_id = "list_registrations", parameters(("event" = "$response.body#/slug")))),
        ))),
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/events/{event}/site-visits",
    tag = "admin",
    summary = "Add a site visit to an event",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug")),
    request_body(content = NewSiteVisitBody, content_type = "application/json"),
    responses((status = 201, description = "The visit", body = SiteVisitView,
        headers(("Location" = String, description = "`/api/v1/events/{event}`")),
        links(
            ("UpdateSiteVisit" = (operation_id = "update_site_visit",
                parameters(("event" = "$request.path.event"), ("visit" = "$response.body#/slug")))),
            ("Roster" = (operation_id = "roster",
                parameters(("event" = "$request.path.event"), ("visit" = "$response.body#/slug")))),
        ))),
)]
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

/// An email of the outbox.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct EmailView {
    pub id: String,
    pub event_id: String,
    pub registration_id: Option<String>,
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A page of the outbox.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct EmailPage {
    pub emails: Vec<EmailView>,
    pub limit: i64,
    pub offset: i64,
}

/// The statuses of an outbox email (the `status` filter; read as text).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    Pending,
    Sending,
    Sent,
    Failed,
}

impl From<outbox::OutboxRow> for EmailView {
    fn from(row: outbox::OutboxRow) -> Self {
        let utc = |t: chrono::NaiveDateTime| t.and_utc();
        Self {
            id: row.id,
            event_id: row.event_id,
            registration_id: row.registration_id,
            kind: row.kind,
            recipient: row.recipient,
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: utc(row.created_at),
            next_attempt_at: utc(row.next_attempt_at),
            sent_at: row.sent_at.map(utc),
        }
    }
}

const EMAIL_STATUSES: [&str; 4] = [outbox::PENDING, outbox::SENDING, outbox::SENT, outbox::FAILED];

/// `GET /api/v1/emails?status=failed&limit=100&offset=0`: the outbox, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/emails",
    tag = "admin",
    summary = "The email outbox, oldest first",
    security(("bearer" = [])),
    params(
        ("status" = Option<EmailStatus>, Query, description = "Only emails of this status"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 2147483647, description = "Rows to skip"),
    ),
    responses((status = 200, description = "A page of the outbox", body = EmailPage)),
)]
pub async fn list_emails(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require_role(&req, &state, Role::Admin).await?;
    let mut fields = Fields::new(query_object(&req));
    let status = fields.optional_text("status", 16);
    if let Some(status) = &status {
        if !EMAIL_STATUSES.contains(&status.as_str()) {
            fields.error("status", format!("must be one of {}", EMAIL_STATUSES.join(", ")));
        }
    }
    let limit = fields.optional_int("limit", 1, 500).unwrap_or(100);
    let offset = fields.optional_int("offset", 0, i64::from(i32::MAX)).unwrap_or(0);
    fields.finish(|| Some(()))?;
    let rows = state
        .db
        .read(move |conn| outbox::list(conn, status.as_deref(), limit, offset).map_err(DomainError::from))
        .await?;
    let emails: Vec<EmailView> = rows.into_iter().map(EmailView::from).collect();
    Ok(HttpResponse::Ok().json(EmailPage {
        emails,
        limit,
        offset,
    }))
}

/// `POST /api/v1/emails/{id}/retry`: a failed email goes back to the queue.
#[utoipa::path(
    post,
    path = "/api/v1/emails/{id}/retry",
    tag = "admin",
    summary = "Queue a failed email again",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Email id")),
    responses(
        (status = 200, description = "The email, queued", body = EmailView),
        (status = 422, description = "`validation-failed`: only failed emails can be retried",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn retry_email(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require_role(&req, &state, Role::Admin).await?;
    let id = path_param(&req, "id");
    let row = state
        .db
        .write(move |conn| {
            let Some(row) = outbox::find(conn, &id)? else {
                return Err(DomainError::NotFound("email"));
            };
            if !outbox::requeue_failed(conn, &id, now())? {
                return Err(DomainError::invalid(
                    "id",
                    format!("only failed emails can be retried; this one is {}", row.status),
                ));
            }
            Ok(outbox::find(conn, &id)?.unwrap_or(row))
        })
        .await?;
    Ok(HttpResponse::Ok().json(EmailView::from(row)))
}
