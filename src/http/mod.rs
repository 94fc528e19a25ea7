//! The edge: routes, request reading, problem documents and HTML pages. Handlers parse,
//! call one domain function inside one unit of work, and render; they decide no rule.

pub mod admin;
pub mod erasure;
pub mod exports;
pub mod extract;
pub mod health;
pub mod limits;
pub mod manage;
pub mod observe;
pub mod organiser;
pub mod pages;
pub mod problem;
pub mod public;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};

use crate::db::Database;
use crate::domain::access::ManageKey;
use crate::domain::registration::PreferenceRules;
use problem::ApiError;

/// What a ranking may contain for one event, as parsing needs it.
#[derive(Debug)]
pub struct EventRules {
    pub visit_slugs: Vec<String>,
    pub max_preferences: usize,
}

impl EventRules {
    pub fn as_preference_rules(&self) -> PreferenceRules<'_> {
        PreferenceRules {
            visit_slugs: &self.visit_slugs,
            max_preferences: self.max_preferences,
        }
    }
}

/// A small cache of [`EventRules`] by event slug, each entry kept for [`Self::TTL`].
#[derive(Default)]
pub struct RulesCache {
    entries: Mutex<HashMap<String, (Instant, Arc<EventRules>)>>,
}

impl RulesCache {
    const TTL: Duration = Duration::from_secs(2);

    pub fn get(&self, slug: &str) -> Option<Arc<EventRules>> {
        let entries = self.entries.lock().expect("rules cache lock");
        entries
            .get(slug)
            .filter(|(at, _)| at.elapsed() < Self::TTL)
            .map(|(_, rules)| rules.clone())
    }

    pub fn put(&self, slug: String, rules: EventRules) -> Arc<EventRules> {
        let rules = Arc::new(rules);
        let mut entries = self.entries.lock().expect("rules cache lock");
        if entries.len() > 1000 {
            entries.retain(|_, (at, _)| at.elapsed() < Self::TTL);
        }
        entries.insert(slug, (Instant::now(), rules.clone()));
        rules
    }

    /// Forgets an event whose visits changed here (other instances wait out the TTL).
    pub fn forget(&self, slug: &str) {
        self.entries.lock().expect("rules cache lock").remove(slug);
    }
}

/// What every handler shares.
pub struct AppState {
    pub db: Database,
    pub rules: RulesCache,
    pub metrics: observe::Metrics,
    pub limits: limits::PublicWriteLimit,
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
    use pages::{board, participant};
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(observe::metrics))
        .route("/static/{file}", web::get().to(pages::static_file))
        .route("/events/{event}", web::get().to(participant::event_page))
        .route("/events/{event}/register", web::post().to(participant::register))
        .route("/manage/{token}", web::get().to(participant::manage_page))
        .route(
            "/manage/{token}/preferences",
            web::post().to(participant::change_choices),
        )
        .route(
            "/manage/{token}/cancel",
            web::get().to(participant::confirm_cancel),
        )
        .route("/manage/{token}/cancel", web::post().to(participant::cancel))
        .route("/organiser", web::get().to(board::events_page))
        .route("/organiser/sign-in", web::get().to(board::sign_in_page))
        .route("/organiser/sign-in", web::post().to(board::sign_in))
        .route("/organiser/sign-out", web::post().to(board::sign_out))
        .route("/organiser/events/{event}", web::get().to(board::board_page))
        .route(
            "/organiser/events/{event}/move",
            web::post().to(board::move_person),
        )
        .route(
            "/organiser/events/{event}/site-visits/{visit}",
            web::post().to(board::update_visit),
        )
        .route(
            "/organiser/events/{event}/allocation",
            web::post().to(board::allocation),
        )
        .route(
            "/organiser/events/{event}/exports/counts",
            web::get().to(board::export_counts),
        )
        .route(
            "/organiser/events/{event}/exports/attendees",
            web::get().to(board::export_attendees),
        )
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
