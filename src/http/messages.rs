//! Messages to a group (organisers): compose (dry run, test, send) and follow a message's
//! emails. The rules are `domain::messages`'; this parses and answers.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{query_object, Organiser, Write};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::domain::idempotency;
use crate::domain::input::Fields;
use crate::domain::messages::{self, Compose, Composed, MessageStatus};

/// `POST /api/v1/events/{event}/messages`
#[utoipa::path(
    post,
    path = "/api/v1/events/{event}/messages",
    operation_id = "compose_message",
    tag = "organiser",
    summary = "Write to a group: count and preview it (`dry_run`), send it to yourself (`test_to`), or send it",
    description = "Each recipient gets the text in their registration's language, else in the other one given. \
        A send writes the message and one email per recipient in one transaction; erased and cancelled \
        registrations are never recipients. An audience nobody matches is refused (422) unless it is a dry run.",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug")),
    request_body(content = MessageBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Sent: the message's id and how many it went to", body = Composed,
            headers(("Location" = String, description = "`/api/v1/events/{event}/messages/{id}`"))),
        (status = 200, description = "A dry run (nothing written) or a test (one email per language, to `test_to` only)", body = Composed),
        (status = 404, description = "`not-found`: no such event", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn compose(
    write: Write<Organiser>,
    event: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let sender = write.caller.principal();
    let event = event.into_inner();
    let compose = Compose::parse(write.body)?;
    let sends = !compose.dry_run && compose.test_to.is_none();
    let status = if sends { 201 } else { 200 };
    let slug = event.clone();
    let answer = idempotency::write(
        &state.db,
        write.key,
        status,
        move |conn, now| messages::compose(conn, &slug, &sender, &compose, now),
        |value: &Composed| serde_json::to_value(value).unwrap_or_default(),
    )
    .await?;
    let (status, body) = answer.into_parts(status, |value: &Composed| {
        serde_json::to_value(value).unwrap_or_default()
    });
    let mut response = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    if let Some(id) = body.get("id").and_then(|id| id.as_str()) {
        response.insert_header((header::LOCATION, format!("/api/v1/events/{event}/messages/{id}")));
    }
    Ok(response.json(body))
}

/// `GET /api/v1/events/{event}/messages/{id}?page=`
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/messages/{id}",
    operation_id = "message_status",
    tag = "organiser",
    summary = "A message: its text, its totals (queued, sent, failed) and a page of its recipients' emails",
    security(("bearer" = [])),
    params(
        ("event" = String, Path, description = "Event slug"),
        ("id" = String, Path, description = "Message id"),
        ("page" = Option<i64>, Query, description = "Page of recipients (200 per page), from 1", minimum = 1, maximum = 1000000),
    ),
    responses(
        (status = 200, description = "The message", body = MessageStatus),
        (status = 404, description = "`not-found`: no such event or message", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn status(
    _: Organiser,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (event, id) = path.into_inner();
    let mut fields = Fields::new(query_object(&req));
    let page = fields.optional_int("page", 1, 1_000_000).unwrap_or(1);
    fields.finish(|| Some(()))?;
    let status = state
        .db
        .read(move |conn| messages::status(conn, &event, &id, page))
        .await?;
    Ok(HttpResponse::Ok().json(status))
}

/// The body of `POST …/messages`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct MessageBody {
    /// Everyone active when empty.
    audience: Option<AudienceBody>,
    /// One line each; a language needs both its subject and its text.
    subject: LanguageTexts,
    body: LanguageTexts,
    /// Count and preview only: nothing is written.
    dry_run: Option<bool>,
    /// Send it to this address only (one email per language written), as a test.
    #[schema(max_length = 254, format = "email")]
    test_to: Option<String>,
}

/// Whom a message goes to.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AudienceBody {
    /// A site visit's slug.
    #[schema(max_length = 64)]
    site_visit: Option<String>,
    /// Without a site visit `confirmed` or `waitlisted`; with one `assigned`,
    /// `waitlisted` or `offered`.
    #[schema(pattern = "^(confirmed|waitlisted|assigned|offered)$")]
    status: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(min_length = 2, max_length = 2)]
    country: Option<String>,
    /// Checked in (or not yet) on the visit's list, or the entrance list.
    checked_in: Option<bool>,
}

/// A text in English, French or both.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LanguageTexts {
    #[schema(max_length = 10000)]
    en: Option<String>,
    #[schema(max_length = 10000)]
    fr: Option<String>,
}
