//! Check-in (stewards, organisers, admins): the lists, a scan, a batch of offline scans,
//! the roster a device keeps offline (with an `ETag`) and a list's status. Bodies are
//! parsed into `domain::checkin` types; every scan is one unit of work with its record.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::extract::{read_object, RequiredRole, Staff};
use super::problem::{problem_with, ApiError, Problem, ProblemType};
use super::AppState;
use crate::domain::access::Role;
use crate::domain::checkin::{
    self, BatchResult, CheckinListView, ListName, ListStatus, OfflineRoster, Outcome, ScanBatch, ScanResult,
};
use crate::domain::now;

/// Stewards scan and read the check-in lists; organisers and admins may too.
pub struct StewardRole;
impl RequiredRole for StewardRole {
    const ROLE: Role = Role::Steward;
}

/// A caller whose token's role includes steward.
pub type Steward = Staff<StewardRole>;

/// The body limit of a batch: a thousand scans of the longest fields fit, whatever
/// `server.max_body_bytes` says for other bodies.
const BATCH_BODY_BYTES: usize = 512 * 1024;

/// `{list}` of a path: unknown or malformed is simply not found.
fn list_name(text: &str) -> Result<ListName, ApiError> {
    ListName::parse(text).ok_or_else(|| ApiError::NotFound("no such check-in list".into()))
}

/// `GET /api/v1/events/{event}/checkin-lists`
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/checkin-lists",
    tag = "checkin",
    summary = "The event's check-in lists (the entrance, each site visit) with their numbers",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug")),
    responses((status = 200, description = "The lists", body = Vec<CheckinListView>)),
)]
pub async fn lists(
    _: Steward,
    event: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let event = event.into_inner();
    let lists = state
        .db
        .read(move |conn| checkin::checkin_lists(conn, &event))
        .await?;
    Ok(HttpResponse::Ok().json(lists))
}

/// A scan's answer: 201 or 200 with the result, or a problem document that carries it.
fn scan_answer(result: ScanResult) -> HttpResponse {
    let status = StatusCode::from_u16(result.status).unwrap_or(StatusCode::OK);
    let (kind, title, detail) = match (result.replayed, result.outcome) {
        (false, Outcome::AlreadyCheckedIn) => (
            ProblemType::AlreadyCheckedIn,
            "Already checked in",
            match (&result.checked_in_at, result.checked_in_device.as_deref()) {
                (Some(at), Some(device)) if !device.is_empty() => {
                    format!("checked in on this list at {} on {device}", at.to_rfc3339())
                }
                (Some(at), _) => format!("checked in on this list at {}", at.to_rfc3339()),
                _ => "checked in on this list already".to_owned(),
            },
        ),
        (false, Outcome::WrongList) => (
            ProblemType::WrongList,
            "Wrong list",
            match &result.belongs_to {
                Some(list) => format!("this person belongs to {} ({})", list.name, list.list),
                None => "this person does not belong to this list".to_owned(),
            },
        ),
        (false, Outcome::NotActive) => (
            ProblemType::NotActive,
            "Not active",
            "this registration is cancelled, waitlisted or holds no seat for this list".to_owned(),
        ),
        (false, Outcome::UnknownCode) => (
            ProblemType::NotFound,
            "Not found",
            "no registration of this event has this check-in code".to_owned(),
        ),
        _ => return HttpResponse::build(status).json(result),
    };
    let extensions = match serde_json::to_value(&result) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    problem_with(status, kind, title, detail, extensions)
}

/// `POST /api/v1/events/{event}/checkins`
#[utoipa::path(
    post,
    path = "/api/v1/events/{event}/checkins",
    tag = "checkin",
    summary = "Scan a check-in code in or out of a list; a nonce is applied once",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug")),
    request_body(content = ScanBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Checked in, back in, or out: the person's summary", body = ScanResult),
        (status = 200, description = "A nonce seen before (`replayed`; nothing written), or a scan out of someone not inside", body = ScanResult),
        (status = 409, description = "`already-checked-in` (with when and on which device), `wrong-list` (with the list the person belongs to) or `not-active`; the scan is recorded. The scan's result follows the standard members", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: no such event, or no registration of the event has this code (the scan is recorded)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn scan(
    caller: Steward,
    event: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_object(&req, payload, state.max_body_bytes).await?;
    let scan = checkin::Scan::parse(body)?;
    let (event, scanner) = (event.into_inner(), caller.principal());
    let result = state
        .db
        .write(move |conn| checkin::scan(conn, &event, &scanner, &scan, now()))
        .await?;
    state.metrics.count_scan(if result.replayed {
        super::observe::REPLAYED_SCAN
    } else {
        result.outcome.as_str()
    });
    Ok(scan_answer(result))
}

/// `POST /api/v1/events/{event}/checkins/batch`
#[utoipa::path(
    post,
    path = "/api/v1/events/{event}/checkins/batch",
    tag = "checkin",
    summary = "Upload scans made offline: each applied once (by nonce), in the order they were made; one result per scan",
    description = "Any order, any number of times. The same person checked in on one list from two devices: the \
        earliest `scanned_at` is the check-in, the other scans are `already_checked_in` (counted in `conflicts`). \
        At most 1,000 scans (422 beyond) and 512 KiB.",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug")),
    request_body(content = BatchBody, content_type = "application/json"),
    responses((status = 200, description = "One result per scan, in the order sent", body = BatchResult)),
)]
pub async fn scan_batch(
    caller: Steward,
    event: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_object(&req, payload, batch_body_limit(&state)).await?;
    let batch = ScanBatch::parse(body)?;
    let result = apply_batch(&state, event.into_inner(), caller.principal(), batch).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// The body limit of a batch of scans (the board's check-in page sends batches too).
pub(crate) fn batch_body_limit(state: &AppState) -> usize {
    state.max_body_bytes.max(BATCH_BODY_BYTES)
}

/// Applies a batch as `scanner` and counts its scans in the metrics: the one path of
/// the API's batch and the board's check-in page.
pub(crate) async fn apply_batch(
    state: &AppState,
    event: String,
    scanner: crate::domain::access::Principal,
    batch: ScanBatch,
) -> Result<BatchResult, ApiError> {
    let result = state
        .db
        .write(move |conn| checkin::scan_batch(conn, &event, &scanner, &batch, now()))
        .await?;
    for scan in &result.results {
        state.metrics.count_scan(if scan.replayed {
            super::observe::REPLAYED_SCAN
        } else {
            scan.outcome.as_str()
        });
    }
    Ok(result)
}

/// A strong validator of a body: its SHA-256 (the same bytes, the same tag).
fn entity_tag(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16]))
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn not_modified(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate == tag || candidate.strip_prefix("W/") == Some(tag))
}

/// `GET /api/v1/events/{event}/checkin-lists/{list}/roster`
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/checkin-lists/{list}/roster",
    operation_id = "checkin_roster",
    tag = "checkin",
    summary = "What a device needs to check people in offline: names, visits and the SHA-256 of each code (never the codes)",
    security(("bearer" = [])),
    params(
        ("event" = String, Path, description = "Event slug"),
        ("list" = String, Path, description = "`entry` or `visit:{slug}`"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of the roster the device holds"),
    ),
    responses(
        (status = 200, description = "The roster", body = OfflineRoster,
            headers(("ETag" = String, description = "Strong validator: changes whenever the roster does"))),
        (status = 304, description = "The roster is the one `If-None-Match` names",
            headers(("ETag" = String, description = "The same validator"))),
    ),
)]
pub async fn roster(
    _: Steward,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (event, list) = path.into_inner();
    roster_answer(&req, &state, event, &list).await
}

/// The offline roster of `list` with its `ETag` (or 304): the API's answer, which the
/// board's check-in page fetches too under its own path.
pub(crate) async fn roster_answer(
    req: &HttpRequest,
    state: &AppState,
    event: String,
    list: &str,
) -> Result<HttpResponse, ApiError> {
    let list = list_name(list)?;
    let roster = state
        .db
        .read(move |conn| checkin::offline_roster(conn, &event, &list))
        .await?;
    let body = serde_json::to_vec(&roster).map_err(|e| ApiError::Internal(e.to_string()))?;
    let tag = entity_tag(&body);
    let etag = HeaderValue::from_str(&tag).map_err(|e| ApiError::Internal(e.to_string()))?;
    if not_modified(req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .content_type("application/json")
        .body(body))
}

/// `GET /api/v1/events/{event}/checkin-lists/{list}/status`
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/checkin-lists/{list}/status",
    operation_id = "checkin_status",
    tag = "checkin",
    summary = "A list's numbers and who is missing (no-shows past the visit's deadline)",
    security(("bearer" = [])),
    params(
        ("event" = String, Path, description = "Event slug"),
        ("list" = String, Path, description = "`entry` or `visit:{slug}`"),
    ),
    responses((status = 200, description = "The list's status", body = ListStatus)),
)]
pub async fn status(
    _: Steward,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (event, list) = path.into_inner();
    let list = list_name(&list)?;
    let status = state
        .db
        .read(move |conn| checkin::list_status(conn, &event, &list, now()))
        .await?;
    Ok(HttpResponse::Ok().json(status))
}

/// `POST /api/v1/events/{event}/checkins` (documentation only: parsed by
/// `checkin::Scan::parse`, which refuses unknown fields).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ScanBody {
    /// The check-in code as read (any case; spaces and dashes are ignored). Either this
    /// or `registration`.
    #[schema(min_length = 20, max_length = 64)]
    code: Option<String>,
    /// The registration's id, for a person found by name (a steward has no code then).
    /// Either this or `code`; the same rules apply.
    #[schema(max_length = 64)]
    registration: Option<String>,
    /// `entry` or `visit:{slug}`.
    #[schema(pattern = "^(entry|visit:[a-z0-9-]{1,64})$")]
    list: String,
    direction: checkin::Direction,
    /// When the device scanned (offline scans), RFC 3339 with offset; absent: on arrival.
    /// A time ahead of the server's counts as the server's.
    scanned_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Unique per scan (a random UUID): a scan is applied once per nonce.
    #[schema(min_length = 8, max_length = 128, pattern = "^[!-~]+$")]
    nonce: String,
    /// Which device scanned, for people to read.
    #[schema(max_length = 100)]
    device: Option<String>,
}

/// `POST /api/v1/events/{event}/checkins/batch` (documentation only: parsed by
/// `checkin::ScanBatch::parse`).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BatchBody {
    #[schema(min_items = 1, max_items = 1000)]
    scans: Vec<ScanBody>,
}
