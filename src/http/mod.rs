//! The edge: routes, request reading, problem documents and HTML pages. Handlers parse,
//! call one domain function inside one unit of work, and render; they decide no rule.

pub mod admin;
pub mod checkin;
pub mod cross_site;
pub mod downloads;
pub mod erasure;
pub mod exports;
pub mod extract;
pub mod health;
pub mod limits;
pub mod manage;
pub mod messages;
pub mod observe;
pub mod openapi;
pub mod organiser;
pub mod pages;
pub mod problem;
pub mod public;
pub mod questions;
pub mod registering;
pub mod schema;
pub mod tokens;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpResponse, Resource, Responder, Route};

use crate::db::{Database, DbConnection};
use crate::domain::access::ManageKey;
use crate::domain::idempotency::{self, Answer, IdempotencyKey};
use crate::domain::registration::PreferenceRules;
use crate::domain::DomainError;
use problem::ApiError;

/// What a ranking may contain for one event, as parsing needs it.
#[derive(Debug)]
pub struct EventRules {
    pub visit_slugs: Vec<String>,
    pub max_preferences: usize,
    /// The event's questions (docs/questions.md).
    pub questions: Vec<crate::domain::questions::Question>,
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
    /// What the settings decide for webhook endpoints.
    pub webhook_policy: crate::domain::webhooks::endpoints::EndpointPolicy,
    /// Base of links given to participants, without a trailing slash.
    pub public_url: String,
    pub max_body_bytes: usize,
    /// The bearer token `/metrics` asks for; empty: `/metrics` is open.
    pub metrics_token: String,
}

impl AppState {
    pub fn manage_url(&self, token: &str) -> String {
        crate::domain::access::manage_url(&self.public_url, token)
    }

    /// The check-in code of the registration `view` shows, while its status lets it check
    /// in ([`RegistrationStatus::shows_checkin_code`]); derived, never stored.
    ///
    /// [`RegistrationStatus::shows_checkin_code`]: crate::domain::view::RegistrationStatus::shows_checkin_code
    pub fn checkin_code(&self, view: &crate::domain::view::RegistrationView) -> Option<String> {
        view.status
            .shows_checkin_code()
            .then(|| self.manage_key.checkin_code_for(&view.id))
    }
}

/// Runs `action` as one write whose answer (200, the result as JSON) is kept under `key`,
/// so that a retry replays it: the idempotent write of every organiser action.
pub async fn idempotent_write<T, F>(
    db: &Database,
    key: Option<IdempotencyKey>,
    action: F,
) -> Result<Answer<T>, ApiError>
where
    F: Fn(&mut DbConnection, chrono::NaiveDateTime) -> Result<T, DomainError> + Send + 'static,
    T: serde::Serialize + Send + 'static,
{
    let render = |value: &T| serde_json::to_value(value).unwrap_or_default();
    Ok(idempotency::write(db, key, 200, action, render).await?)
}

/// A write's answer: the fresh result (200), or the one kept for its `Idempotency-Key`.
pub fn respond<T: serde::Serialize>(answer: Answer<T>) -> HttpResponse {
    match answer {
        Answer::Fresh(value) => HttpResponse::Ok().json(value),
        Answer::Replayed { status, body } => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default()).json(body)
        }
    }
}

/// Headers every answer carries unless its handler set its own: nothing is stored by
/// caches (answers carry personal data, manage tokens and form tokens; static files say
/// otherwise themselves), no MIME sniffing (a CSV or JSON answer is
/// never run as a page), and no `Referer` leaves with a manage page's address.
pub fn protective_headers() -> actix_web::middleware::DefaultHeaders {
    use actix_web::http::header;
    actix_web::middleware::DefaultHeaders::new()
        .add((header::CACHE_CONTROL, "no-store"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    use pages::{board, participant};
    probes(cfg);
    cfg.route("/static/{file}", web::get().to(pages::static_file))
        .route("/events/{event}", web::get().to(participant::event_page))
        .route("/events/{event}/register", web::post().to(participant::register))
        .route("/manage/{token}", web::get().to(participant::manage_page))
        .route(
            "/manage/{token}/preferences",
            web::post().to(participant::change_choices),
        )
        .route(
            "/manage/{token}/answers",
            web::post().to(participant::change_answers),
        )
        .route(
            "/manage/{token}/cancel",
            web::get().to(participant::confirm_cancel),
        )
        .route("/manage/{token}/cancel", web::post().to(participant::cancel))
        .route(
            "/manage/{token}/offer/accept",
            web::post().to(participant::accept_offer),
        )
        .route(
            "/manage/{token}/offer/decline",
            web::post().to(participant::decline_offer),
        )
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
            "/organiser/events/{event}/site-visits/{visit}",
            web::get().to(board::visit_roster_page),
        )
        .route(
            "/organiser/events/{event}/without-seat",
            web::get().to(board::without_seat_page),
        )
        .route(
            "/organiser/events/{event}/bulk",
            web::post().to(board::bulk_action),
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
        .route(
            "/organiser/events/{event}/messages",
            web::get().to(board::messages_page),
        )
        .route(
            "/organiser/events/{event}/messages",
            web::post().to(board::compose_message),
        )
        .route(
            "/organiser/events/{event}/messages/{id}",
            web::get().to(board::message_page),
        )
        .route("/organiser/checkin", web::get().to(board::checkin_events_page))
        .route(
            "/organiser/events/{event}/checkin",
            web::get().to(board::checkin_lists_page),
        )
        .route(
            "/organiser/events/{event}/checkin/{list}",
            web::get().to(board::checkin_list_page),
        )
        .route(
            "/organiser/events/{event}/checkin/{list}",
            web::post().to(board::checkin_by_form),
        )
        .route(
            "/organiser/events/{event}/checkin/{list}/roster.json",
            web::get().to(board::checkin_roster),
        )
        .route(
            "/organiser/events/{event}/checkin/{list}/scans",
            web::post().to(board::checkin_scans),
        )
        .service(api_v1())
        .default_service(web::to(not_found));
}

/// Liveness, readiness and metrics; as on the API, any other method is 405.
fn probes(cfg: &mut web::ServiceConfig) {
    let probes = [
        route(Method::GET, "/healthz", health::healthz),
        route(Method::GET, "/readyz", health::readyz),
        route(Method::GET, "/metrics", observe::metrics),
    ];
    for (method, path, route) in probes {
        cfg.service(resource(path, vec![(method, path, route)]));
    }
}

/// A route of the table: method, path, and the route itself.
type ApiRoute = (Method, &'static str, Route);

/// The prefix of the JSON API.
pub const API_PREFIX: &str = "/api/v1";

/// Every route of the JSON API, relative to [`API_PREFIX`]: the router registers exactly
/// these, and the OpenAPI test checks that the document describes each of them.
fn api_v1_routes() -> Vec<ApiRoute> {
    vec![
        route(Method::POST, "/events", admin::create_event),
        route(Method::GET, "/events/{event}", public::show_event),
        route(Method::POST, "/events/{event}/registrations", public::register),
        route(
            Method::GET,
            "/events/{event}/registrations",
            organiser::list_registrations,
        ),
        route(
            Method::DELETE,
            "/events/{event}/registrations/{id}",
            erasure::delete_registration,
        ),
        route(
            Method::PUT,
            "/events/{event}/registrations/{id}/site-visit",
            organiser::move_participant,
        ),
        route(
            Method::POST,
            "/events/{event}/site-visits",
            admin::create_site_visit,
        ),
        route(
            Method::PATCH,
            "/events/{event}/site-visits/{visit}",
            organiser::update_site_visit,
        ),
        route(
            Method::GET,
            "/events/{event}/site-visits/{visit}/roster",
            organiser::roster,
        ),
        route(
            Method::POST,
            "/events/{event}/allocation",
            organiser::run_allocation,
        ),
        route(Method::GET, "/events/{event}/audit", organiser::audit_trail),
        route(Method::GET, "/events/{event}/checkin-lists", checkin::lists),
        route(Method::POST, "/events/{event}/checkins", checkin::scan),
        route(
            Method::POST,
            "/events/{event}/checkins/batch",
            checkin::scan_batch,
        ),
        route(
            Method::GET,
            "/events/{event}/checkin-lists/{list}/roster",
            checkin::roster,
        ),
        route(
            Method::GET,
            "/events/{event}/checkin-lists/{list}/status",
            checkin::status,
        ),
        route(Method::POST, "/events/{event}/messages", messages::compose),
        route(Method::GET, "/events/{event}/messages/{id}", messages::status),
        route(Method::GET, "/events/{event}/exports/counts", exports::counts),
        route(
            Method::GET,
            "/events/{event}/exports/answers",
            exports::answer_counts,
        ),
        route(
            Method::GET,
            "/events/{event}/questions",
            questions::list_questions,
        ),
        route(
            Method::POST,
            "/events/{event}/questions",
            questions::create_question,
        ),
        route(
            Method::PATCH,
            "/events/{event}/questions/{id}",
            questions::update_question,
        ),
        route(
            Method::DELETE,
            "/events/{event}/questions/{id}",
            questions::delete_question,
        ),
        route(
            Method::GET,
            "/events/{event}/exports/attendees",
            exports::attendees,
        ),
        route(Method::GET, "/emails", admin::list_emails),
        route(Method::POST, "/emails/{id}/retry", admin::retry_email),
        route(Method::GET, "/tokens", tokens::list_tokens),
        route(Method::POST, "/tokens", tokens::create_token),
        route(Method::DELETE, "/tokens/{id}", tokens::revoke_token),
        route(Method::GET, "/webhooks", webhooks::list_webhooks),
        route(Method::POST, "/webhooks", webhooks::create_webhook),
        route(Method::GET, "/webhooks/{id}", webhooks::show_webhook),
        route(Method::DELETE, "/webhooks/{id}", webhooks::delete_webhook),
        route(
            Method::POST,
            "/webhooks/{id}/rotate",
            webhooks::rotate_webhook_secret,
        ),
        route(Method::POST, "/webhooks/{id}/enable", webhooks::enable_webhook),
        route(
            Method::GET,
            "/webhooks/{id}/deliveries",
            webhooks::list_webhook_deliveries,
        ),
        route(
            Method::POST,
            "/webhooks/{id}/deliveries/{delivery}/redeliver",
            webhooks::redeliver,
        ),
        route(Method::GET, "/manage/{token}", manage::show),
        route(Method::PATCH, "/manage/{token}", manage::change),
        route(Method::DELETE, "/manage/{token}", manage::cancel),
        route(Method::POST, "/manage/{token}/offer/accept", manage::accept_offer),
        route(
            Method::POST,
            "/manage/{token}/offer/decline",
            manage::decline_offer,
        ),
        route(Method::GET, "/openapi.json", openapi::document),
        route(Method::GET, "/docs", openapi::docs_page),
    ]
}

fn route<F, Args>(method: Method, path: &'static str, handler: F) -> ApiRoute
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    (method.clone(), path, web::method(method).to(handler))
}

/// One path's routes; any other method is 405 with `Allow` (a problem document).
fn resource(path: &str, routes: Vec<ApiRoute>) -> Resource {
    let allow = routes
        .iter()
        .map(|(method, _, _)| method.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    routes
        .into_iter()
        .fold(web::resource(path), |resource, (_, _, route)| {
            resource.route(route)
        })
        .default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) }
        }))
}

fn api_v1() -> impl actix_web::dev::HttpServiceFactory {
    // Routes of one path become one resource, in the order of the table.
    let mut by_path: Vec<(&'static str, Vec<ApiRoute>)> = Vec::new();
    for (method, path, route) in api_v1_routes() {
        match by_path.iter_mut().find(|(known, _)| *known == path) {
            Some((_, routes)) => routes.push((method, path, route)),
            None => by_path.push((path, vec![(method, path, route)])),
        }
    }
    by_path
        .into_iter()
        .fold(web::scope(API_PREFIX), |scope, (path, routes)| {
            scope.service(resource(path, routes))
        })
        .wrap(actix_web::middleware::from_fn(
            cross_site::refuse_cross_site_writes,
        ))
}

/// (method, full path) of every JSON API route, as the router has them.
pub fn api_v1_endpoints() -> Vec<(Method, String)> {
    api_v1_routes()
        .into_iter()
        .map(|(method, path, _)| (method, format!("{API_PREFIX}{path}")))
        .collect()
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such resource".into()))
}
