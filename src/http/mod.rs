//! The edge: routes, request reading, problem documents. Handlers parse, call one
//! domain function inside one unit of work, and render; they decide no rule.

pub mod admin;
pub mod erasure;
pub mod exports;
pub mod extract;
pub mod health;
pub mod manage;
pub mod organiser;
pub mod problem;
pub mod public;

use actix_web::{web, HttpResponse};

use crate::db::Database;
use crate::domain::access::ManageKey;
use problem::ApiError;

/// What every handler shares.
pub struct AppState {
    pub db: Database,
    pub manage_key: ManageKey,
    /// Base of links given to participants, without a trailing slash.
    pub public_url: String,
    pub max_body_bytes: usize,
}

impl AppState {
    pub fn manage_url(&self, token: &str) -> String {
        format!("{}/manage/{token}", self.public_url)
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::scope("/api/v1")
                .route("/events", web::post().to(admin::create_event))
                .route("/events/{event}", web::get().to(public::show_event))
                .route("/events/{event}/registrations", web::post().to(public::register))
                .route(
                    "/events/{event}/registrations",
                    web::get().to(organiser::list_registrations),
                )
                .route(
                    "/events/{event}/registrations/{id}",
                    web::delete().to(erasure::delete_registration),
                )
                .route(
                    "/events/{event}/registrations/{id}/site-visit",
                    web::put().to(organiser::move_participant),
                )
                .route(
                    "/events/{event}/site-visits",
                    web::post().to(admin::create_site_visit),
                )
                .route(
                    "/events/{event}/site-visits/{visit}",
                    web::patch().to(organiser::update_site_visit),
                )
                .route(
                    "/events/{event}/site-visits/{visit}/roster",
                    web::get().to(organiser::roster),
                )
                .route(
                    "/events/{event}/allocation",
                    web::post().to(organiser::run_allocation),
                )
                .route("/events/{event}/audit", web::get().to(organiser::audit_trail))
                .route("/events/{event}/exports/counts", web::get().to(exports::counts))
                .route(
                    "/events/{event}/exports/attendees",
                    web::get().to(exports::attendees),
                )
                .route("/emails", web::get().to(admin::list_emails))
                .route("/emails/{id}/retry", web::post().to(admin::retry_email))
                .route("/manage/{token}", web::get().to(manage::show))
                .route("/manage/{token}", web::patch().to(manage::change))
                .route("/manage/{token}", web::delete().to(manage::cancel)),
        )
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such resource".into()))
}
