//! An event's registration questions through the API (docs/questions.md): organisers
//! read them, admins add, change and delete them. Each change forgets the event's
//! cached rules, so the next registration is checked against the new questions.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};

use super::extract::{Admin, Organiser, Write};
use super::problem::{ApiError, Problem};
use super::{idempotent_write, respond, AppState};
use crate::domain::idempotency;
use crate::domain::questions::{self, NewQuestion, QuestionDoc};

#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/questions",
    tag = "organiser",
    summary = "The event's questions, in the order they are asked",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug")),
    responses((status = 200, description = "The questions", body = Vec<QuestionDoc>)),
)]
pub async fn list_questions(
    _: Organiser,
    event: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let event = event.into_inner();
    let docs = state
        .db
        .read(move |conn| questions::list_docs(conn, &event))
        .await?;
    Ok(HttpResponse::Ok().json(docs))
}

#[utoipa::path(
    post,
    path = "/api/v1/events/{event}/questions",
    tag = "admin",
    summary = "Add a question",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug")),
    request_body(content = NewQuestionBody, content_type = "application/json"),
    responses((status = 201, description = "The question", body = QuestionDoc,
        headers(("Location" = String, description = "`/api/v1/events/{event}/questions/{id}`")))),
)]
pub async fn create_question(
    write: Write<Admin>,
    event: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = write.caller.principal();
    let event = event.into_inner();
    let question = NewQuestion::parse(write.body)?;
    let slug = event.clone();
    let answer = idempotency::write(
        &state.db,
        write.key,
        201,
        move |conn, now| questions::create_question(conn, &actor.name, &slug, &question, now),
        |doc| serde_json::to_value(doc).unwrap_or_default(),
    )
    .await?;
    state.rules.forget(&event);
    let (status, body) = answer.into_parts(201, |doc| serde_json::to_value(doc).unwrap_or_default());
    let location = format!(
        "/api/v1/events/{event}/questions/{}",
        body["id"].as_str().unwrap_or_default()
    );
    Ok(
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED))
            .insert_header((header::LOCATION, location))
            .json(body),
    )
}

#[utoipa::path(
    patch,
    path = "/api/v1/events/{event}/questions/{id}",
    tag = "admin",
    summary = "Change a question's labels, help, requirement, position, visits or choices (never its id or kind)",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug"), ("id" = String, Path, description = "Question id")),
    request_body(content = QuestionChangeBody, content_type = "application/json"),
    responses((status = 200, description = "The question as changed", body = QuestionDoc)),
)]
pub async fn update_question(
    write: Write<Admin>,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = write.caller.principal();
    let (event, id) = path.into_inner();
    let body = write.body;
    questions::check_change(&body)?;
    let slug = event.clone();
    let answer = idempotent_write(&state.db, write.key, move |conn, now| {
        questions::update_question(conn, &actor.name, &slug, &id, body.clone(), now)
    })
    .await?;
    state.rules.forget(&event);
    Ok(respond(answer))
}

#[utoipa::path(
    delete,
    path = "/api/v1/events/{event}/questions/{id}",
    tag = "admin",
    summary = "Delete a question nobody answered",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug"), ("id" = String, Path, description = "Question id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "`question-in-use`: people answered it", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn delete_question(
    admin: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = admin.principal();
    let (event, id) = path.into_inner();
    let slug = event.clone();
    state
        .db
        .write(move |conn| questions::delete_question(conn, &actor.name, &slug, &id, crate::domain::now()))
        .await?;
    state.rules.forget(&event);
    Ok(HttpResponse::NoContent().finish())
}

/// Both languages of a label or help text; French defaults to English.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextsBody {
    #[schema(min_length = 1, max_length = 1000)]
    pub en: String,
    #[schema(max_length = 1000)]
    pub fr: Option<String>,
}

/// A choice: its stable id (what answers and exports hold) and its labels.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceBody {
    #[schema(pattern = "^[a-z][a-z0-9_-]*$", max_length = 64)]
    pub id: String,
    #[schema(min_length = 1, max_length = 200)]
    pub en: String,
    #[schema(max_length = 200)]
    pub fr: Option<String>,
}

/// `POST /api/v1/events/{event}/questions`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuestionBody {
    /// The stable key: lower-case letters, digits, `_` and `-`; unique in the event.
    #[schema(pattern = "^[a-z][a-z0-9_-]*$", max_length = 64)]
    pub id: String,
    pub kind: questions::QuestionKind,
    /// Default false. A required yes/no question must be answered yes.
    pub required: Option<bool>,
    #[schema(minimum = 0, maximum = 10_000)]
    pub position: Option<i32>,
    pub label: TextsBody,
    pub help: Option<TextsBody>,
    /// `choice` and `choices` only (at least one).
    pub choices: Option<Vec<ChoiceBody>>,
    /// Site-visit slugs: asked through the manage link of the people seated there.
    pub site_visits: Option<Vec<String>>,
    /// A number, a date (`YYYY-MM-DD`) or a count of choices, by kind.
    #[schema(value_type = Value)]
    pub min: Option<serde_json::Value>,
    #[schema(value_type = Value)]
    pub max: Option<serde_json::Value>,
    /// `text` only (default 500).
    #[schema(minimum = 1, maximum = 5000)]
    pub max_length: Option<i32>,
}

/// `PATCH /api/v1/events/{event}/questions/{id}`: the fields sent replace the current
/// ones; `choices`, when sent, is the whole new list (a choice someone chose stays).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionChangeBody {
    pub required: Option<bool>,
    #[schema(minimum = 0, maximum = 10_000)]
    pub position: Option<i32>,
    pub label: Option<TextsBody>,
    pub help: Option<TextsBody>,
    pub choices: Option<Vec<ChoiceBody>>,
    pub site_visits: Option<Vec<String>>,
    #[schema(value_type = Value)]
    pub min: Option<serde_json::Value>,
    #[schema(value_type = Value)]
    pub max: Option<serde_json::Value>,
    #[schema(minimum = 1, maximum = 5000)]
    pub max_length: Option<i32>,
}
