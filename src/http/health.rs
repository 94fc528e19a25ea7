//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::problem::ApiError;
use super::AppState;
use crate::db::DbError;

/// The process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers and has every migration this build knows.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let ready = tokio::task::spawn_blocking(move || db.is_ready())
        .await
        .map_err(|e| DbError::Unavailable(e.to_string()))??;
    if ready {
        Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
    } else {
        Err(DbError::Unavailable("migrations are pending".into()).into())
    }
}
