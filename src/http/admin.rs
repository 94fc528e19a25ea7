//! Admin-only actions: creating events and site visits, the email outbox.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{path_param, query_object, read_object, require_role};
use super::problem::ApiError;
use super::AppState;
use crate::domain::access::Role;
use crate::domain::catalog;
use crate::domain::event::{NewEvent, NewSiteVisit};
use crate::domain::input::Fields;
use crate::domain::{now, DomainError};
use crate::store::outbox;

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

#[derive(serde::Serialize)]
struct EmailView {
    id: String,
    event_id: String,
    registration_id: Option<String>,
    kind: String,
    recipient: String,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    next_attempt_at: chrono::DateTime<chrono::Utc>,
    sent_at: Option<chrono::DateTime<chrono::Utc>>,
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
    Ok(HttpResponse::Ok().json(serde_json::json!({ "emails": emails, "limit": limit, "offset": offset })))
}

/// `POST /api/v1/emails/{id}/retry`: a failed email goes back to the queue.
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
