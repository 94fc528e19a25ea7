//! Admin-only actions: creating events and site visits, the email outbox.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{Admin, StatusPage, Write};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::domain::catalog::{self, EventView, SiteVisitView};
use crate::domain::emails::{self, EmailView};
use crate::domain::event::{NewEvent, NewSiteVisit};
use crate::domain::idempotency;
use crate::domain::now;

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
pub async fn create_event(write: Write<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let event = NewEvent::parse(write.body)?;
    let answer = idempotency::write(
        &state.db,
        write.key,
        201,
        move |conn, now| {
            catalog::create_event(conn, &event, now)?;
            catalog::event_view(conn, &event.slug, now)
        },
        to_json,
    )
    .await?;
    let (status, body) = answer.into_parts(201, to_json);
    let location = format!("/api/v1/events/{}", body["slug"].as_str().unwrap_or_default());
    Ok(created(status, location, body))
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
    write: Write<Admin>,
    event: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let event_slug = event.into_inner();
    let slug = event_slug.clone();
    let visit = NewSiteVisit::parse(write.body)?;
    let answer = idempotency::write(
        &state.db,
        write.key,
        201,
        move |conn, now| {
            catalog::add_site_visit(conn, &slug, &visit, now)?;
            let view = catalog::event_view(conn, &slug, now)?;
            Ok(view.site_visits.into_iter().find(|v| v.slug == visit.slug))
        },
        to_json,
    )
    .await?;
    let (status, body) = answer.into_parts(201, to_json);
    let location = format!("/api/v1/events/{event_slug}");
    Ok(created(status, location, body))
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// A 201 (or the status kept for a replay) with its `Location`.
fn created(status: u16, location: String, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED))
        .insert_header((header::LOCATION, location))
        .json(body)
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
pub async fn list_emails(
    _: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let StatusPage {
        status,
        limit,
        offset,
    } = StatusPage::read(&req, &emails::STATUSES)?;
    let emails = state
        .db
        .read(move |conn| emails::list_emails(conn, status.as_deref(), limit, offset))
        .await?;
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
pub async fn retry_email(
    admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (admin.principal(), id.into_inner());
    let email = state
        .db
        .write(move |conn| emails::retry_email(conn, &actor.name, &id, now()))
        .await?;
    Ok(HttpResponse::Ok().json(email))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AssignmentMode)]
pub enum AssignmentModeDoc {
    FirstCome,
    Preferences,
}

/// `POST /api/v1/events`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEventBody {
    #[schema(schema_with = super::schema::slug)]
    pub slug: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(max_length = 300)]
    pub venue: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub contact_email: Option<String>,
    #[schema(schema_with = super::schema::time_zone)]
    pub timezone: String,
    pub starts_on: chrono::NaiveDate,
    /// Not before `starts_on`.
    pub ends_on: chrono::NaiveDate,
    #[schema(inline)]
    pub assignment_mode: Option<AssignmentModeDoc>,
    pub registration_opens_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// After `registration_opens_at`.
    pub registration_closes_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    #[schema(minimum = 1, maximum = 20, default = 3)]
    pub max_preferences: Option<i32>,
    /// Event-wide places; past them newcomers join the waiting list.
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub capacity: Option<i32>,
    /// Reminders: whole hours before each visit's own start at which its seated people
    /// are emailed, e.g. `[24, 2]` (at most 5).
    #[schema(schema_with = super::schema::reminder_hours)]
    pub reminder_hours: Option<Vec<i32>>,
    /// Until when participants may change their answers to the event's questions
    /// (default: the start of the first site visit; docs/questions.md).
    pub answers_close_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// `POST /api/v1/events/{event}/site-visits`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSiteVisitBody {
    #[schema(schema_with = super::schema::slug)]
    pub slug: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(max_length = 300)]
    pub location: Option<String>,
    #[schema(max_length = 300)]
    pub meeting_point: Option<String>,
    pub starts_at: chrono::DateTime<chrono::FixedOffset>,
    /// After `starts_at`.
    pub ends_at: chrono::DateTime<chrono::FixedOffset>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub capacity: i32,
    #[schema(minimum = 0, maximum = 10_000)]
    pub position: Option<i32>,
    /// What to bring (closed shoes, an identity card), said in the visit's reminders.
    #[schema(max_length = 500)]
    pub bring: Option<String>,
    /// The identity fields the visit requires of its seated people, any of
    /// `nationality`, `date_of_birth`, `id_document`, `licence_plate`
    /// (docs/identity-data.md).
    #[schema(value_type = Option<Vec<String>>)]
    pub identity: Option<Vec<String>>,
}
