//! The holder of a manage link: view, change the ranking, cancel. An unknown token is a
//! plain 404 that tells nothing more.

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::read_object;
use super::problem::ApiError;
use super::problem::Problem;
use super::public::RegistrationAnswer;
use super::registering::preference_rules;
use super::AppState;
use crate::domain::now;
use crate::domain::questions::AnswersView;
use crate::domain::registration::parse_preference_change;
use crate::domain::DomainError;
use crate::domain::{booking, offers};
use serde_json::Value;

fn answer(
    state: &AppState,
    token: &str,
    (view, answers): (crate::domain::view::RegistrationView, AnswersView),
) -> HttpResponse {
    HttpResponse::Ok().json(ManageAnswer {
        answers,
        checkin_code: state.checkin_code(&view),
        registration: RegistrationAnswer {
            view,
            manage_url: state.manage_url(token),
        },
    })
}

/// The registration as its holder sees it through the manage link.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ManageAnswer {
    #[serde(flatten)]
    pub registration: RegistrationAnswer,
    /// The code that checks the person in (at the entrance, on their site visit): 20
    /// characters `A`–`Z`, `2`–`7`, which the QR code of the emails and the manage page
    /// holds. Derived again for each answer, never stored. Null unless the registration
    /// is `confirmed`: a cancelled registration's code, or that of someone on the event's
    /// waiting list, does not check in.
    #[schema(pattern = "^[A-Z2-7]{20}$", example = "MFRGGZDFMZTWQ2LKNNWG")]
    pub checkin_code: Option<String>,
    /// The questions that apply to the person (the event-wide ones, and those of the
    /// site visit they are seated in) with their answers, the required ones still
    /// `missing`, and until when answers may change (docs/questions.md).
    #[serde(flatten)]
    pub answers: AnswersView,
}

#[utoipa::path(
    get,
    path = "/api/v1/manage/{token}",
    tag = "participant",
    summary = "The registration, as its holder sees it",
    params(("token" = String, Path, description = "The secret of the manage link")),
    responses((status = 200, description = "The registration", body = ManageAnswer)),
)]
pub async fn show(token: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let lookup = token.clone();
    let view = state
        .db
        .read(move |conn| booking::manage_view(conn, &lookup, now()))
        .await?;
    Ok(answer(&state, &token, view))
}

#[utoipa::path(
    patch,
    path = "/api/v1/manage/{token}",
    tag = "participant",
    summary = "Change the ranking of site visits (seats follow at once in first-come events) and/or answers to questions",
    params(("token" = String, Path, description = "The secret of the manage link")),
    request_body(content = PreferenceChangeBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The registration as changed", body = ManageAnswer),
        (status = 409, description = "`registration-closed`: the registration is cancelled or the window is closed; `answers-closed`: answers can no longer change", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn change(
    token: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let lookup = token.clone();
    let event_slug = state
        .db
        .read(move |conn| booking::event_slug_of_manage_token(conn, &lookup))
        .await?;
    let rules = preference_rules(&state, event_slug).await?;
    let mut body = read_object(&req, payload, state.max_body_bytes).await?;
    // Answers alone, preferences alone, or both (docs/questions.md).
    let answers = match body.remove("answers") {
        None | Some(Value::Null) => None,
        Some(Value::Object(answers)) => Some(answers),
        Some(_) => return Err(DomainError::invalid("answers", "must be an object").into()),
    };
    let preferences = match answers {
        Some(_) if body.is_empty() => None,
        _ => Some(parse_preference_change(body, &rules.as_preference_rules())?),
    };
    let lookup = token.clone();
    let view = state
        .db
        .write(move |conn| {
            let now = now();
            let registration = booking::find_by_manage_token(conn, &lookup)?;
            if let Some(preferences) = &preferences {
                booking::change_preferences(conn, &registration, preferences, now)?;
            }
            if let Some(answers) = &answers {
                booking::change_answers(conn, &registration, answers.clone(), now)?;
            }
            booking::manage_view(conn, &lookup, now)
        })
        .await?;
    Ok(answer(&state, &token, view))
}

#[utoipa::path(
    delete,
    path = "/api/v1/manage/{token}",
    tag = "participant",
    summary = "Cancel the registration (a freed seat goes to the next person waiting); cancelling twice changes nothing",
    params(("token" = String, Path, description = "The secret of the manage link")),
    responses((status = 200, description = "The registration as cancelled", body = ManageAnswer)),
)]
pub async fn cancel(token: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let lookup = token.clone();
    let view = state
        .db
        .write(move |conn| {
            let registration = booking::find_by_manage_token(conn, &lookup)?;
            booking::cancel_registration(conn, &registration, now())?;
            booking::manage_view(conn, &lookup, now())
        })
        .await?;
    Ok(answer(&state, &token, view))
}

/// Runs `act` on the registration behind the token and answers its view.
async fn offer_action(
    state: web::Data<AppState>,
    token: String,
    act: offers::Answer,
) -> Result<HttpResponse, ApiError> {
    let lookup = token.clone();
    let view = state
        .db
        .write(move |conn| {
            let registration = booking::find_by_manage_token(conn, &lookup)?;
            act(conn, &registration, now())?;
            booking::manage_view(conn, &lookup, now())
        })
        .await?;
    Ok(answer(&state, &token, view))
}

#[utoipa::path(
    post,
    path = "/api/v1/manage/{token}/offer/accept",
    tag = "participant",
    summary = "Accept the seat offered (events that make offers): it is yours; a seat you held in a visit ranked lower goes to the next person",
    params(("token" = String, Path, description = "The secret of the manage link")),
    responses(
        (status = 200, description = "The registration, seated", body = ManageAnswer),
        (status = 409, description = "`no-open-offer`: there is no open offer (none, expired or already answered)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn accept_offer(
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    offer_action(state, token.into_inner(), offers::accept).await
}

#[utoipa::path(
    post,
    path = "/api/v1/manage/{token}/offer/decline",
    tag = "participant",
    summary = "Decline the seat offered: it goes to the next person, and the visit leaves your ranking",
    params(("token" = String, Path, description = "The secret of the manage link")),
    responses(
        (status = 200, description = "The registration as changed", body = ManageAnswer),
        (status = 409, description = "`no-open-offer`: there is no open offer (none, expired or already answered)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn decline_offer(
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    offer_action(state, token.into_inner(), offers::decline).await
}

/// `PATCH /api/v1/manage/{token}`: the new ranking; an empty list withdraws every choice.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceChangeBody {
    /// Required unless `answers` is sent.
    #[schema(schema_with = super::schema::ranking)]
    pub preferences: Option<Vec<String>>,
    /// Answers to change, by question id (only those sent change; `null` clears an
    /// optional one): a string, number, boolean or list of choice ids by the question's
    /// kind (docs/questions.md).
    #[schema(value_type = Option<Object>)]
    pub answers: Option<serde_json::Map<String, Value>>,
}
