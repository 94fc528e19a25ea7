//! Abuse limits on public writes: a per-client token bucket (governor). Registration is
//! open to anyone, so one client must not be able to flood it; a conference's Wi-Fi puts
//! many honest people behind one address, so the default is generous.

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, ResponseError};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::problem::ApiError;
use super::AppState;

/// Public write routes: (method, route pattern).
const LIMITED: &[(Method, &str)] = &[
    (Method::POST, "/api/v1/events/{event}/registrations"),
    (Method::PATCH, "/api/v1/manage/{token}"),
    (Method::DELETE, "/api/v1/manage/{token}"),
    (Method::POST, "/events/{event}/register"),
    (Method::POST, "/manage/{token}/preferences"),
    (Method::POST, "/manage/{token}/cancel"),
];

/// Whether `method` on the route pattern `route` counts against the public write budget
/// (the OpenAPI document documents 429 exactly there).
pub fn is_rate_limited(method: &str, route: &str) -> bool {
    LIMITED
        .iter()
        .any(|(limited_method, pattern)| limited_method.as_str() == method && *pattern == route)
}

pub struct PublicWriteLimit {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Take the client from the first `X-Forwarded-For` entry (behind a trusted proxy).
    trust_forwarded_for: bool,
}

impl PublicWriteLimit {
    /// `per_minute` = 0 turns the limit off.
    pub fn new(per_minute: u32, burst: u32, trust_forwarded_for: bool) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        Self {
            limiter,
            trust_forwarded_for,
        }
    }

    /// The client's address: the peer, or behind a trusted proxy the first
    /// `X-Forwarded-For` entry. Rate limits and public idempotency keys are per client.
    pub fn client(&self, req: &HttpRequest) -> Option<IpAddr> {
        if self.trust_forwarded_for {
            let forwarded = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok());
            if forwarded.is_some() {
                return forwarded;
            }
        }
        req.peer_addr().map(|addr| addr.ip())
    }

    /// Seconds to wait when the client is over its budget.
    fn check(&self, req: &ServiceRequest) -> Option<u64> {
        let limiter = self.limiter.as_ref()?;
        let limited = req
            .match_pattern()
            .is_some_and(|route| is_rate_limited(req.method().as_str(), &route));
        if !limited {
            return None;
        }
        let client = self.client(req.request())?;
        limiter.check_key(&client).err().map(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Middleware: 429 problem document with `Retry-After` past the budget.
pub async fn limit_public_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let wait = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.limits.check(&req));
    match wait {
        Some(seconds) => {
            let response = ApiError::RateLimited(seconds.max(1)).error_response();
            Ok(req.into_response(response))
        }
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}
