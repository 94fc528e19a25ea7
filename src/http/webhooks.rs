//! Admins' webhook endpoints (docs/webhooks.md): list, register (the secret shown once),
//! look at one, delete, rotate its secret, its delivery log, and a redelivery.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::extract::{Admin, StatusPage, Write};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::domain::idempotency;
use crate::domain::now;
use crate::domain::webhooks::endpoints::{self, DeliveryView, EndpointView, NewEndpoint, WithSecret};

/// `GET /api/v1/webhooks`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    /// Oldest first, disabled ones included.
    pub webhooks: Vec<EndpointView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "admin",
    summary = "Every webhook endpoint (never a secret)",
    security(("bearer" = [])),
    responses((status = 200, description = "The endpoints, oldest first", body = WebhookList)),
)]
pub async fn list_webhooks(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let webhooks = state.db.read(|conn| endpoints::list(conn, now())).await?;
    Ok(HttpResponse::Ok().json(WebhookList { webhooks }))
}

/// An endpoint with its signing secret: when it is registered, or its secret rotated.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: EndpointView,
    /// The signing secret (`whsec_` and the key in base64), shown in this answer only.
    /// Null in an answer replayed for a repeated `Idempotency-Key`, which is kept without
    /// it; rotate the secret if the first answer was lost.
    pub secret: Option<String>,
}

impl WebhookWithSecret {
    fn render(made: &WithSecret, with_secret: bool) -> Value {
        serde_json::to_value(WebhookWithSecret {
            webhook: made.endpoint.clone(),
            secret: with_secret.then(|| made.secret.clone()),
        })
        .unwrap_or_default()
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "admin",
    summary = "Register a webhook endpoint; its secret is in this answer only",
    description = "The URL must be http(s), and its host must be (or resolve to) public \
        addresses only, unless the server allows private ones \
        (`webhooks.allow_private_addresses`). Deliveries are signed as docs/webhooks.md says.",
    security(("bearer" = [])),
    request_body(content = NewWebhookBody, content_type = "application/json"),
    responses((status = 201, description = "The endpoint and its secret", body = WebhookWithSecret,
        headers(("Location" = String, description = "`/api/v1/webhooks/{id}`")),
        links(
            ("ShowWebhook" = (operation_id = "show_webhook", parameters(("id" = "$response.body#/id")))),
            ("DeleteWebhook" = (operation_id = "delete_webhook", parameters(("id" = "$response.body#/id")))),
            ("RotateWebhookSecret" = (operation_id = "rotate_webhook_secret", parameters(("id" = "$response.body#/id")))),
            ("EnableWebhook" = (operation_id = "enable_webhook", parameters(("id" = "$response.body#/id")))),
            ("ListWebhookDeliveries" = (operation_id = "list_webhook_deliveries", parameters(("id" = "$response.body#/id")))),
        ))),
)]
pub async fn create_webhook(
    write: Write<Admin>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let new = NewEndpoint::parse(write.body)?;
    // Resolving the host blocks: off the async threads, and before the write.
    let (checked, policy) = (new.clone(), state.webhook_policy);
    tokio::task::spawn_blocking(move || checked.check_destination(&policy))
        .await
        .map_err(|e| ApiError::Internal(format!("the destination check stopped: {e}")))??;
    let actor = write.caller.principal().name;
    let key = state.manage_key.clone();
    // What is kept for a retry leaves the secret out: it is shown once.
    let answer = idempotency::write(
        &state.db,
        write.key,
        201,
        move |conn, now| endpoints::create(conn, &key, &actor, &new, now),
        |made| WebhookWithSecret::render(made, false),
    )
    .await?;
    let (status, body) = answer.into_parts(201, |made| WebhookWithSecret::render(made, true));
    let location = format!("/api/v1/webhooks/{}", body["id"].as_str().unwrap_or_default());
    Ok(
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED))
            .insert_header((header::LOCATION, location))
            .json(body),
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}",
    tag = "admin",
    summary = "A webhook endpoint (never its secret)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint", body = EndpointView)),
)]
pub async fn show_webhook(
    _: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let endpoint = state
        .db
        .read(move |conn| endpoints::find(conn, &id, now()))
        .await?;
    Ok(HttpResponse::Ok().json(endpoint))
}

#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    tag = "admin",
    summary = "Delete a webhook endpoint and its delivery log",
    description = "Deliveries not yet made are never made.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete_webhook(
    admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (admin.principal(), id.into_inner());
    state
        .db
        .write(move |conn| endpoints::delete(conn, &actor.name, &id, now()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/enable",
    tag = "admin",
    summary = "Make a disabled webhook endpoint active again",
    description = "An endpoint is disabled when its receiver answers 410. Enabled again, it \
        is sent the changes recorded from now on (what happened while it was disabled was \
        not recorded for it); its failed deliveries can be redelivered. An active endpoint \
        is left as it is.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint, active", body = EndpointView)),
)]
pub async fn enable_webhook(
    admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (admin.principal(), id.into_inner());
    let endpoint = state
        .db
        .write(move |conn| endpoints::enable(conn, &actor.name, &id, now()))
        .await?;
    Ok(HttpResponse::Ok().json(endpoint))
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/rotate",
    tag = "admin",
    summary = "Give a webhook endpoint a new secret; it is in this answer only",
    description = "Deliveries carry a signature by the new secret and, until \
        `previous_secret_expires_at` (`webhooks.rotation_overlap_hours` from now), one by \
        the previous secret too. Rotating again within that time ends the oldest secret.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint and its new secret", body = WebhookWithSecret)),
)]
pub async fn rotate_webhook_secret(
    admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (admin.principal(), id.into_inner());
    let (key, policy) = (state.manage_key.clone(), state.webhook_policy);
    let rotated = state
        .db
        .write(move |conn| endpoints::rotate(conn, &key, &actor.name, &id, &policy, now()))
        .await?;
    Ok(HttpResponse::Ok().json(WebhookWithSecret::render(&rotated, true)))
}

/// A page of an endpoint's delivery log.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    pub limit: i64,
    pub offset: i64,
}

/// The statuses of a delivery (the `status` filter; read as text).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Delivered,
    Failed,
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    tag = "admin",
    summary = "A webhook endpoint's delivery log, newest first",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Endpoint id"),
        ("status" = Option<DeliveryStatus>, Query, description = "Only deliveries of this status"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 2147483647, description = "Rows to skip"),
    ),
    responses((status = 200, description = "A page of the log", body = DeliveryPage)),
)]
pub async fn list_webhook_deliveries(
    _: Admin,
    id: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let StatusPage {
        status,
        limit,
        offset,
    } = StatusPage::read(&req, &endpoints::DELIVERY_STATUSES)?;
    let id = id.into_inner();
    let deliveries = state
        .db
        .read(move |conn| endpoints::deliveries(conn, &id, status.as_deref(), limit, offset))
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryPage {
        deliveries,
        limit,
        offset,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver",
    tag = "admin",
    summary = "Send a delivered or failed delivery again",
    description = "It goes back to the queue with a fresh attempt budget, the same \
        `webhook-id` and body, and a new signature.",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Endpoint id"),
        ("delivery" = String, Path, description = "Delivery (message) id, as the log lists it"),
    ),
    responses(
        (status = 200, description = "The delivery, queued", body = DeliveryView),
        (status = 422, description = "`validation-failed`: it is still pending or being sent, \
            its endpoint is disabled, or its payload was erased",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn redeliver(
    admin: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = admin.principal();
    let (endpoint, delivery) = path.into_inner();
    let queued = state
        .db
        .write(move |conn| endpoints::redeliver(conn, &actor.name, &endpoint, &delivery, now()))
        .await?;
    Ok(HttpResponse::Ok().json(queued))
}

/// The event types a webhook endpoint can subscribe to (`*`: every type, those added
/// later included).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(as = WebhookEventType)]
pub enum WebhookEventTypeDoc {
    #[serde(rename = "*")]
    All,
    #[serde(rename = "registration.created")]
    RegistrationCreated,
    #[serde(rename = "registration.changed")]
    RegistrationChanged,
    #[serde(rename = "registration.cancelled")]
    RegistrationCancelled,
    #[serde(rename = "registration.erased")]
    RegistrationErased,
    #[serde(rename = "seat.assigned")]
    SeatAssigned,
    #[serde(rename = "seat.lost")]
    SeatLost,
    #[serde(rename = "offer.made")]
    OfferMade,
    #[serde(rename = "offer.accepted")]
    OfferAccepted,
    #[serde(rename = "offer.declined")]
    OfferDeclined,
    #[serde(rename = "offer.expired")]
    OfferExpired,
    #[serde(rename = "checkin.recorded")]
    CheckinRecorded,
    #[serde(rename = "message.sent")]
    MessageSent,
}

/// `POST /api/v1/webhooks`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// Where deliveries are POSTed: an http(s) URL without user name, password or
    /// fragment.
    #[schema(
        min_length = 8,
        max_length = 2000,
        pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^@#]+$"
    )]
    pub url: String,
    /// The event types to receive, or `["*"]` for every type; one type alone is a list
    /// of one.
    #[schema(min_items = 1)]
    pub events: Vec<WebhookEventTypeDoc>,
    /// Only this event's news (its slug); absent: every event's.
    #[schema(schema_with = super::schema::slug)]
    pub event: Option<String>,
    /// Payloads name the person (names, email, organisation, country, job title,
    /// language); absent or false: ids, statuses and seats only.
    pub personal_data: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhooks::EventType;

    /// The document's list of event types is the domain's, with `*`.
    #[test]
    fn the_documented_event_types_are_the_domains() {
        let documented: Vec<String> = match <WebhookEventTypeDoc as utoipa::PartialSchema>::schema() {
            utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(object)) => object
                .enum_values
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect(),
            _ => panic!("WebhookEventType is not an enum"),
        };
        let mut known: Vec<String> = EventType::ALL.map(|t| t.as_str().to_owned()).to_vec();
        known.insert(0, "*".into());
        assert_eq!(documented, known);
    }
}
