//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::ApiError;
use super::problem::Problem;
use super::AppState;
use crate::db::DbError;

/// What a probe answers when all is well.
#[derive(Serialize, ToSchema)]
pub struct Status {
    /// `ok` (liveness) or `ready` (readiness).
    #[schema(value_type = String)]
    pub status: &'static str,
}

/// The process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "Alive", body = inline(Status))),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// The database answers and has every migration this build knows.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness: the database answers and every migration is applied",
    responses(
        (status = 200, description = "Ready", body = inline(Status)),
        (status = 503, description = "`service-unavailable`: the database is unreachable or migrations are pending",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "seconds to wait"))),
        (status = 500, description = "`internal`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let ready = tokio::task::spawn_blocking(move || db.is_ready())
        .await
        .map_err(|e| DbError::Unavailable(e.to_string()))??;
    if ready {
        Ok(HttpResponse::Ok().json(Status { status: "ready" }))
    } else {
        Err(DbError::Unavailable("migrations are pending".into()).into())
    }
}
