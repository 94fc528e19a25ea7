//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' annotations and
//! the types they answer with (utoipa), served at `/api/v1/openapi.json`, and an offline
//! documentation page rendered from it at `/api/v1/docs`. This module only assembles:
//! each body type lives beside its handler, shared field schemas in `http::schema`,
//! the responses every operation shares in [`conventions`], the fix-ups of utoipa's
//! output in [`fixups`], the page in [`page`].

mod conventions;
mod fixups;
mod page;

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::HttpResponse;
use serde_json::Value;
use utoipa::OpenApi;

use super::problem::ApiError;
use conventions::Conventions;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rallypoint",
        description = "Registration desk of a conference with capacity-limited site visits. \
            Errors are RFC 9457 problem documents (`application/problem+json`).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::observe::metrics,
        super::public::show_event,
        super::public::register,
        super::manage::show,
        super::manage::change,
        super::manage::cancel,
        super::manage::accept_offer,
        super::manage::decline_offer,
        super::organiser::list_registrations,
        super::organiser::roster,
        super::organiser::move_participant,
        super::organiser::update_site_visit,
        super::organiser::run_allocation,
        super::organiser::audit_trail,
        super::erasure::delete_registration,
        super::admin::create_event,
        super::admin::create_site_visit,
        super::admin::list_emails,
        super::admin::retry_email,
        super::tokens::list_tokens,
        super::tokens::create_token,
        super::tokens::revoke_token,
        super::webhooks::list_webhooks,
        super::webhooks::create_webhook,
        super::webhooks::show_webhook,
        super::webhooks::delete_webhook,
        super::webhooks::rotate_webhook_secret,
        super::webhooks::enable_webhook,
        super::webhooks::list_webhook_deliveries,
        super::webhooks::redeliver,
        super::exports::counts,
        super::exports::attendees,
        super::exports::answer_counts,
        super::questions::list_questions,
        super::questions::create_question,
        super::questions::update_question,
        super::questions::delete_question,
        super::checkin::lists,
        super::checkin::scan,
        super::checkin::scan_batch,
        super::checkin::roster,
        super::checkin::status,
        super::messages::compose,
        super::messages::status,
        document,
        docs_page,
    ),
    components(schemas(
        super::problem::Problem,
        super::problem::ProblemType,
        crate::domain::view::RegistrationStatus,
        super::admin::EmailStatus,
        super::webhooks::DeliveryStatus,
        super::exports::CountsByParam,
        super::exports::CountsFormat,
        super::exports::AnswersByParam,
        super::exports::AttendeesFormat,
        crate::domain::country::CountryCode,
    )),
    modifiers(&Conventions),
    tags(
        (name = "public", description = "Anyone: the event and registering"),
        (name = "participant", description = "The holder of a manage link"),
        (name = "organiser", description = "Bearer token of role organiser (or admin)"),
        (name = "admin", description = "Bearer token of role admin"),
        (name = "checkin", description = "Bearer token of role steward (or organiser, or admin): check-in lists and scans"),
        (name = "operations", description = "Probes and metrics"),
        (name = "documentation", description = "This document"),
    ),
)]
pub struct ApiDoc;

/// The document as served (built once).
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    fixups::fix_link_names(&mut document);
    fixups::describe_blank_values(&mut document);
    document.to_string()
});

/// The security scheme of organiser and admin tokens.
pub const BEARER: &str = "bearer";

/// `GET /api/v1/openapi.json`
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "documentation",
    summary = "This OpenAPI 3.1 document",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)),
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

/// `GET /api/v1/docs`
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    tag = "documentation",
    summary = "The API documentation as a web page (offline, rendered from this document)",
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String)),
)]
pub async fn docs_page() -> Result<HttpResponse, ApiError> {
    // Rendered once; a template that fails to render is a 500 on every request rather
    // than a panic in a worker (the page test renders it, so it should never happen).
    static PAGE: LazyLock<Result<String, String>> = LazyLock::new(|| {
        let document: Value = serde_json::from_str(&DOCUMENT).expect("the document is JSON");
        page::render_page(&document).map_err(|e| format!("{e:#}"))
    });
    let page = PAGE
        .as_ref()
        .map_err(|e| ApiError::Internal(format!("the documentation page does not render: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(page.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documentation_page_renders_from_the_served_document() {
        let document: Value = serde_json::from_str(&DOCUMENT).expect("the document is JSON");
        let html = page::render_page(&document).expect("the page renders");
        assert!(html.contains("<span class=\"method\">get</span> <span class=\"path\">/api/v1/docs</span>"));
        assert!(html.contains("id=\"schema-Problem\""));
    }
}
