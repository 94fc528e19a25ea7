//! What anyone may call: the event view and registration.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::extract::{accept_language, Public, Write};
use super::problem::{ApiError, Problem};
use super::{registering, AppState};
use crate::domain::catalog::{self, EventView};
use crate::domain::idempotency::Answer;
use crate::domain::now;
use crate::domain::view::RegistrationView;

#[utoipa::path(
    get,
    path = "/api/v1/events/{event}",
    tag = "public",
    summary = "The event, with its site visits and their live seat counts",
    params(("event" = String, Path, description = "Event slug")),
    responses((status = 200, description = "The event", body = EventView)),
)]
pub async fn show_event(
    event: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let slug = event.into_inner();
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
    /// Not kept with a stored answer: derived again for each answer.
    pub manage_url: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/events/{event}/registrations",
    tag = "public",
    summary = "Register for the event; a seat or a waitlist place is taken at once in first-come events",
    params(("event" = String, Path, description = "Event slug")),
    request_body(content(
        (RegistrationBody = "application/json"),
        (RegistrationBody = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, description = "Registered (or the first answer again, for a retried Idempotency-Key). An address that already has an active registration for the event gets the same answer — what a new registration would have been told, with an id and a manage link that open nothing — and no second registration is made; the address's owner is emailed the link to the registration they have (invariant 13)",
            body = RegistrationAnswer,
            headers(("Location" = String, description = "`/api/v1/manage/{token}`: the registration for its holder")),
            links(
                ("MoveParticipant" = (operation_id = "move_participant",
                    parameters(("event" = "$request.path.event"), ("id" = "$response.body#/id")))),
                ("CancelByStaff" = (operation_id = "delete_registration",
                    parameters(("event" = "$request.path.event"), ("id" = "$response.body#/id")))),
            )),
        (status = 409, description = "`registration-closed`: outside the registration window", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn register(
    write: Write<Public>,
    event: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let lang = accept_language(&req);
    let answer = registering::register(&state, event.into_inner(), write.body, write.key, lang).await?;
    let (status, view) = match answer {
        // The registration just made is answered as it is; the manage token made with
        // it is the one derived below.
        Answer::Fresh(registered) => (StatusCode::CREATED, registered.view),
        Answer::Replayed { status, body } => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
            serde_json::from_value(body).map_err(|e| ApiError::Internal(e.to_string()))?,
        ),
    };
    // The manage link is derived again rather than kept with the answer: no token is
    // stored in clear.
    let token = state.manage_key.token_for(&view.id);
    let answer = RegistrationAnswer {
        view,
        manage_url: state.manage_url(&token),
    };
    Ok(HttpResponse::build(status)
        .insert_header((header::LOCATION, format!("/api/v1/manage/{token}")))
        .json(answer))
}

/// `POST /api/v1/events/{event}/registrations`. Also accepted as a urlencoded form
/// (repeated `preferences` keep their order; a checked box is true). Names, organisation
/// and job title are one line each (no control character but tab), and no text holds a
/// character that changes the text direction. What JSON Schema does not state (the
/// server answers 422): names hold no web address, `@` or dotted words such as
/// `example.com`; organisation and job title hold no web address; the email's domain is
/// a domain name (no IP address, at least two labels) that IDNA accepts.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub first_name: String,
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub last_name: String,
    #[schema(format = Email, max_length = 254, example = "irena@example.pl")]
    pub email: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
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
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub job_title: Option<String>,
    #[schema(max_length = 500)]
    pub dietary: Option<String>,
    /// Answers to the event's questions asked of everyone (`GET /api/v1/events/{event}/questions`
    /// lists them), by question id: `{"meal": "vegetarian", "dinner": true}`; required
    /// ones must be answered (docs/questions.md).
    #[schema(value_type = Option<Object>)]
    pub answers: Option<serde_json::Map<String, serde_json::Value>>,
}
