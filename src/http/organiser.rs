//! Organiser actions (role `organiser`, or `admin`): lists, rosters, moves, capacities
//! and freezes; admins also read the audit trail.

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{path_param, query_object, read_object, require_role};
use super::problem::ApiError;
use super::AppState;
use crate::db::DbError;
use crate::domain::access::Role;
use crate::domain::country::CountryCode;
use crate::domain::input::Fields;
use crate::domain::now;
use crate::domain::organiser::{self, AllocationReport, AllocationRequest, ListQuery, VisitUpdate};

const STATUSES: [&str; 3] = ["confirmed", "waitlisted", "cancelled"];

/// `limit` and `offset` of a paged list; unknown parameters are errors.
fn paging(fields: &mut Fields, default_limit: i64) -> (i64, i64) {
    let limit = fields.optional_int("limit", 1, 500).unwrap_or(default_limit);
    let offset = fields.optional_int("offset", 0, i64::from(i32::MAX)).unwrap_or(0);
    (limit, offset)
}

/// `GET /api/v1/events/{event}/registrations?status=&country=&site_visit=&q=&limit=&offset=`
pub async fn list_registrations(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_role(&req, &state, Role::Organiser).await?;
    let event = path_param(&req, "event");
    let mut fields = Fields::new(query_object(&req));
    let status = fields.optional_text("status", 16);
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        fields.error("status", format!("must be one of {}", STATUSES.join(", ")));
    }
    let country = fields.optional_text("country", 8).and_then(|raw| {
        CountryCode::parse(&raw)
            .map_err(|e| fields.error("country", e))
            .ok()
    });
    let site_visit = fields.optional_text("site_visit", 64);
    let search = fields.optional_text("q", 100);
    let (limit, offset) = paging(&mut fields, 50);
    let query = fields.finish(|| {
        Some(ListQuery {
            status,
            country: country.map(|c| c.to_string()),
            site_visit,
            search,
            limit,
            offset,
        })
    })?;
    let page = state
        .db
        .read(move |conn| organiser::list_registrations(conn, &event, &query))
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /api/v1/events/{event}/site-visits/{visit}/roster`
pub async fn roster(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require_role(&req, &state, Role::Organiser).await?;
    let (event, visit) = (path_param(&req, "event"), path_param(&req, "visit"));
    let roster = state
        .db
        .read(move |conn| organiser::roster(conn, &event, &visit, now()))
        .await?;
    Ok(HttpResponse::Ok().json(roster))
}

/// `PUT /api/v1/events/{event}/registrations/{id}/site-visit` with `{site_visit: slug | null}`
pub async fn move_participant(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = require_role(&req, &state, Role::Organiser).await?;
    let (event, id) = (path_param(&req, "event"), path_param(&req, "id"));
    let target = organiser::parse_move_target(read_object(&req, payload, state.max_body_bytes).await?)?;
    let view = state
        .db
        .write(move |conn| {
            organiser::move_participant(conn, &actor.name, &event, &id, target.as_deref(), now())
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `PATCH /api/v1/events/{event}/site-visits/{visit}` with `{capacity?, frozen?}`
pub async fn update_site_visit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = require_role(&req, &state, Role::Organiser).await?;
    let (event, visit) = (path_param(&req, "event"), path_param(&req, "visit"));
    let update = VisitUpdate::parse(read_object(&req, payload, state.max_body_bytes).await?)?;
    let view = state
        .db
        .write(move |conn| organiser::update_site_visit(conn, &actor.name, &event, &visit, &update, now()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /api/v1/events/{event}/audit?limit=&offset=` (admins), newest first.
pub async fn audit_trail(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require_role(&req, &state, Role::Admin).await?;
    let event = path_param(&req, "event");
    let mut fields = Fields::new(query_object(&req));
    let (limit, offset) = paging(&mut fields, 100);
    fields.finish(|| Some(()))?;
    let entries = state
        .db
        .read(move |conn| organiser::audit_trail(conn, &event, limit, offset))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "entries": entries, "limit": limit, "offset": offset })))
}

/// `POST /api/v1/events/{event}/allocation` with `{dry_run, balance_countries, seed}`.
/// `dry_run` defaults to true: the plan is shown, nothing is written.
pub async fn run_allocation(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = require_role(&req, &state, Role::Organiser).await?;
    let event = path_param(&req, "event");
    let request = AllocationRequest::parse(read_object(&req, payload, state.max_body_bytes).await?)?;
    let report = allocate(&state, actor.name, event, request).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Runs the allocation for `actor` (the audit names them): a dry run only plans, a real
/// run plans and applies. The plan is made from a snapshot outside the write
/// transaction (it may take a second for a large event), then applied in one
/// transaction. The organisers' board runs it the same way.
pub async fn allocate(
    state: &AppState,
    actor: String,
    event: String,
    request: AllocationRequest,
) -> Result<AllocationReport, ApiError> {
    let input = state
        .db
        .read(move |conn| organiser::allocation_input(conn, &event))
        .await?;
    if request.dry_run {
        return Ok(
            tokio::task::spawn_blocking(move || organiser::dry_run_allocation(&input, &request))
                .await
                .map_err(|e| DbError::Unavailable(e.to_string()))?,
        );
    }
    let planned = input.clone();
    let plan = tokio::task::spawn_blocking(move || organiser::plan_allocation(&planned, &request))
        .await
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
    Ok(state
        .db
        .write(move |conn| organiser::apply_allocation(conn, &actor, &input, &request, &plan, now()))
        .await?)
}
