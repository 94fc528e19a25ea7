//! What anyone may call: the event view and registration.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::extract::{accept_language, idempotency_key, path_param, read_object};
use super::problem::ApiError;
use super::problem::Problem;
use super::{AppState, EventRules};
use crate::domain::booking;
use crate::domain::catalog;
use crate::domain::catalog::EventView;
use crate::domain::event_rules::find_event_with_visits;
use crate::domain::idempotency::{self, Answer};
use crate::domain::registration::NewRegistration;
use crate::domain::view::RegistrationView;
use crate::domain::{now, DomainError};

#[utoipa::path(
    get,
    path = "/api/v1/events/{event}",
    tag = "public",
    summary = "The event, with its site visits and their live seat counts",
    params(("event" = String, Path, description = "Event slug")),
    responses((status = 200, description = "The event", body = EventView)),
)]
pub async fn show_event(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let slug = path_param(&req, "event");
    let view = state
        .db
        .read(move |conn| catalog::event_view(conn, &slug, now()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A registration as its holder sees it, with the private link to manage it.
#[derive(Serialize, utoipa::ToSchema)]
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
            let (event, visits) = find_event_with_visits(conn, &slug)?;
            Ok::<_, DomainError>(EventRules {
                visit_slugs: visits.into_iter().map(|v| v.slug).collect(),
                max_preferences: event.max_preferences.max(1) as usize,
            })
        })
        .await?;
    Ok(state.rules.put(event_slug, rules))
}

#[utoipa::path(
    post,
    path = "/api/v1/events/{event}/registrations",
    tag = "public",
    summary = "Register for the event; a seat or a waitlist place is taken at once in first-come events",
    params(("event" = String, Path, description = "Event slug"), (
            "Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
            description = "Makes a retry safe: the same key and body within 24 h get the first answer again and write nothing; the same key with another body is 422"
        )),
    request_body(content(
        (RegistrationBody = "application/json"),
        (RegistrationBody = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, description = "Registered (or the first answer again, for a retried Idempotency-Key)",
            body = RegistrationAnswer,
            headers(("Location" = String, description = "`/api/v1/manage/{token}`: the registration for its holder")),
            links(
                ("MoveParticipant" = (operation_id = "move_participant",
                    parameters(("event" = "$request.path.event"), ("id" = "$response.body#/id")))),
                ("CancelByStaff" = (operation_id = "delete_registration",
                    parameters(("event" = "$request.path.event"), ("id" = "$response.body#/id")))),
            )),
        (status = 409, description = "`duplicate-registration`: this email is already registered; `registration-closed`: outside the registration window", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn register(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let slug = path_param(&req, "event");
    let rules = preference_rules(&state, slug.clone()).await?;
    let body = read_object(&req, payload, state.max_body_bytes).await?;
    let idempotency = idempotency_key(&req, "public", &body)?;
    let input =
        NewRegistration::parse(body, &rules.as_preference_rules())?.in_language(accept_language(&req));
    let key = state.manage_key.clone();
    let answer = state
        .db
        .write(move |conn| {
            let now = now();
            idempotency::run(
                conn,
                idempotency.as_ref(),
                201,
                now,
                |conn| booking::register_participant(conn, &key, &slug, &input, now),
                |registered| serde_json::to_value(&registered.view).unwrap_or_default(),
            )
        })
        .await?;
    let (status, mut body) = match answer {
        Answer::Fresh(registered) => {
            state.metrics.registrations.inc();
            (201, serde_json::to_value(&registered.view).unwrap_or_default())
        }
        Answer::Replayed { status, body } => (status, body),
    };
    // The manage link is derived again rather than kept with the answer: no token is
    // stored in clear.
    let token = state
        .manage_key
        .token_for(body["id"].as_str().unwrap_or_default());
    body["manage_url"] = serde_json::Value::String(state.manage_url(&token));
    Ok(
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED))
            .insert_header((header::LOCATION, format!("/api/v1/manage/{token}")))
            .json(body),
    )
}

/// `POST /api/v1/events/{event}/registrations`. Also accepted as a urlencoded form
/// (repeated `preferences` keep their order; a checked box is true). Names, organisation
/// and job title are one line each (no control character but tab).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f]*$"
    )]
    pub first_name: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f]*$"
    )]
    pub last_name: String,
    #[schema(format = Email, max_length = 254, example = "irena@example.pl")]
    pub email: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f]*$"
    )]
    pub organisation: String,
    #[schema(value_type = crate::domain::country::CountryCode)]
    pub country: String,
    #[schema(schema_with = super::schema::ranking)]
    pub preferences: Option<Vec<String>>,
    #[schema(schema_with = super::schema::consent)]
    pub consent: bool,
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f]*$"
    )]
    pub job_title: Option<String>,
    #[schema(max_length = 500)]
    pub dietary: Option<String>,
}
