//! Observability at the edge: a request id on every request and answer, one structured
//! log line per request (route pattern, never the raw path: manage tokens live in
//! paths), and Prometheus metrics at `/metrics`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use subtle::ConstantTimeEq;
use tracing::Instrument;

use super::extract::bearer_credentials;
use super::problem::ApiError;
use super::problem::Problem;
use super::AppState;
use crate::domain::checkin::Outcome;
use crate::domain::webhooks::endpoints as webhook_endpoints;
use crate::domain::DomainError;
use crate::domain::{catalog, emails};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service's metrics; request counters are fed by [`observe`], the rest is read from
/// the database when scraped, so every instance reports the same shared numbers.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub registrations: IntCounter,
    seats: IntGaugeVec,
    capacity: IntGaugeVec,
    outbox: IntGaugeVec,
    webhooks: IntGaugeVec,
    checkin_scans: IntCounterVec,
}

/// The label values of the check-in scans counter besides the outcomes: a scan whose
/// nonce was seen before.
pub const REPLAYED_SCAN: &str = "replayed";

impl Metrics {
    /// Counts a check-in scan by outcome (`crate::domain::checkin::Outcome::as_str`) or
    /// [`REPLAYED_SCAN`]; any other value is counted as `other` (a fixed label set).
    pub fn count_scan(&self, outcome: &str) {
        let known = outcome == REPLAYED_SCAN || Outcome::parse(outcome).is_some();
        self.checkin_scans
            .with_label_values(&[if known { outcome } else { "other" }])
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "rallypoint_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "rallypoint_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let registrations = IntCounter::new(
            "rallypoint_registrations_total",
            "Registrations created by this instance",
        )
        .expect("valid metric");
        let seats = IntGaugeVec::new(
            Opts::new("rallypoint_site_visit_seats_taken", "Seats taken per site visit"),
            &["event", "site_visit"],
        )
        .expect("valid metric");
        let capacity = IntGaugeVec::new(
            Opts::new("rallypoint_site_visit_capacity", "Capacity per site visit"),
            &["event", "site_visit"],
        )
        .expect("valid metric");
        let outbox = IntGaugeVec::new(
            Opts::new("rallypoint_outbox_emails", "Emails in the outbox by status"),
            &["status"],
        )
        .expect("valid metric");
        let webhooks = IntGaugeVec::new(
            Opts::new(
                "rallypoint_webhook_deliveries",
                "Webhook deliveries by status (pending includes those waiting for a retry)",
            ),
            &["status"],
        )
        .expect("valid metric");
        let checkin_scans = IntCounterVec::new(
            Opts::new(
                "rallypoint_checkin_scans_total",
                "Check-in scans received by this instance, by outcome (replayed: a nonce seen before)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        // Every series exists from the start, at 0, so that a rate has a baseline.
        for outcome in Outcome::ALL
            .map(Outcome::as_str)
            .into_iter()
            .chain([REPLAYED_SCAN])
        {
            checkin_scans.with_label_values(&[outcome]);
        }
        let registry = Registry::new();
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(registrations.clone()),
            Box::new(seats.clone()),
            Box::new(capacity.clone()),
            Box::new(outbox.clone()),
            Box::new(webhooks.clone()),
            Box::new(checkin_scans.clone()),
        ] {
            registry.register(collector).expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            latency,
            registrations,
            seats,
            capacity,
            outbox,
            webhooks,
            checkin_scans,
        }
    }
}

/// Middleware: request id, log line, request metrics.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = method_label(req.method());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let mut response = next.call(req).instrument(span.clone()).await?;
    let status = response.status();
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if let Some(state) = state {
        state
            .metrics
            .requests
            .with_label_values(&[route.as_str(), method, status.as_str()])
            .inc();
        state
            .metrics
            .latency
            .with_label_values(&[route.as_str()])
            .observe(elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            ms = elapsed.as_secs_f64() * 1000.0,
            "answered"
        )
    });
    Ok(response)
}

/// The request's method as a metric label: one of a fixed set, `other` for any method
/// a client invents (every label value is a series kept forever, so a label must never
/// take what a client sends as it is; the route is the matched pattern or `unmatched`
/// for the same reason).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

/// Whether the request may read `/metrics`: anyone when no token is set, else the
/// holder of `security.metrics_token` (compared in constant time).
fn may_read_metrics(req: &HttpRequest, token: &str) -> bool {
    if token.is_empty() {
        return true;
    }
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_credentials)
        .is_some_and(|sent| sent.len() == token.len() && bool::from(sent.as_bytes().ct_eq(token.as_bytes())))
}

/// `GET /metrics` in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics: requests by route and status, latency, registrations, seats, outbox, webhook deliveries, check-in scans",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`unauthorized`: `security.metrics_token` is set and was not sent as a bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`service-unavailable`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "seconds to wait"))),
        (status = 500, description = "`internal`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !may_read_metrics(&req, &state.metrics_token) {
        return Err(ApiError::Unauthorized);
    }
    let (visits, outbox_counts, webhook_counts) = state
        .db
        .read(|conn| {
            let visits = catalog::seat_gauges(conn)?;
            let counts = emails::count_by_status(conn)?;
            let webhooks = webhook_endpoints::count_by_status(conn)?;
            Ok::<_, DomainError>((visits, counts, webhooks))
        })
        .await?;
    let metrics = &state.metrics;
    metrics.seats.reset();
    metrics.capacity.reset();
    for (event, visit, capacity, assigned) in visits {
        metrics
            .seats
            .with_label_values(&[&event, &visit])
            .set(i64::from(assigned));
        metrics
            .capacity
            .with_label_values(&[&event, &visit])
            .set(i64::from(capacity));
    }
    metrics.outbox.reset();
    for (status, count) in outbox_counts {
        metrics.outbox.with_label_values(&[status]).set(count);
    }
    metrics.webhooks.reset();
    for (status, count) in webhook_counts {
        metrics.webhooks.with_label_values(&[status]).set(count);
    }
    let mut text = Vec::new();
    if let Err(error) = prometheus::TextEncoder::new().encode(&metrics.registry.gather(), &mut text) {
        tracing::error!(%error, "cannot encode the metrics");
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
