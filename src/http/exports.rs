//! Admin exports through the API: counts (CSV, JSON, XLSX) and the attendee list (CSV,
//! XLSX). The files themselves are made by `http::downloads`, which the board uses too.

use actix_web::{web, HttpRequest, HttpResponse};

use super::downloads;
use super::downloads::AnswerCountsDocument;
use super::extract::Admin;
use super::problem::ApiError;
use super::AppState;
use crate::export::json::CountsDocument;

/// `GET /api/v1/events/{event}/exports/counts?by=country|site_visit&format=csv|json|xlsx`
/// (`by` defaults to country, `format` to csv).
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/exports/counts",
    tag = "admin",
    summary = "Attendee counts by country or by site visit",
    security(("bearer" = [])),
    params(
        ("event" = String, Path, description = "Event slug"),
        ("by" = Option<CountsByParam>, Query, description = "Rows per country (default) or per site visit"),
        ("format" = Option<CountsFormat>, Query, description = "csv (default), json or xlsx"),
    ),
    responses((status = 200, description = "The counts",
        content(
            (String = "text/csv; charset=utf-8"),
            (CountsDocument = "application/json"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ),
        headers(("Content-Disposition" = String, description = "attachment, with a file name (csv and xlsx)")))),
)]
pub async fn counts(
    _: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    downloads::counts_file(&req, &state).await
}

/// `GET /api/v1/events/{event}/exports/answers?by=site_visit&format=csv|json|xlsx`.
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/exports/answers",
    tag = "admin",
    operation_id = "export_answer_counts",
    summary = "Answers to the countable questions, counted per value among each site visit's seated people",
    security(("bearer" = [])),
    params(
        ("event" = String, Path, description = "Event slug"),
        ("by" = Option<AnswersByParam>, Query, description = "site_visit (the default and only grouping so far)"),
        ("format" = Option<CountsFormat>, Query, description = "csv (default), json or xlsx"),
    ),
    responses((status = 200, description = "The counts (docs/questions.md#exports)",
        content(
            (String = "text/csv; charset=utf-8"),
            (AnswerCountsDocument = "application/json"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ),
        headers(("Content-Disposition" = String, description = "attachment, with a file name (csv and xlsx)")))),
)]
pub async fn answer_counts(
    _: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    downloads::answer_counts_file(&req, &state).await
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswersByParam {
    SiteVisit,
}

/// `GET /api/v1/events/{event}/exports/attendees?format=csv|xlsx`: every active
/// registration, in registration order.
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/exports/attendees",
    tag = "admin",
    summary = "Every active registration with its site visit, streamed",
    security(("bearer" = [])),
    params(
        ("event" = String, Path, description = "Event slug"),
        ("format" = Option<AttendeesFormat>, Query, description = "csv (default) or xlsx"),
    ),
    responses((status = 200, description = "The attendee list",
        content(
            (String = "text/csv; charset=utf-8"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ),
        headers(("Content-Disposition" = String, description = "attachment, with a file name")))),
)]
pub async fn attendees(
    _: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    downloads::attendees_file(&req, &state).await
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CountsBy)]
pub enum CountsByParam {
    Country,
    SiteVisit,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CountsFormat {
    Csv,
    Json,
    Xlsx,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttendeesFormat {
    Csv,
    Xlsx,
}
