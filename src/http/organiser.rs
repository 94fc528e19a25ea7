//! Organiser actions (role `organiser`, or `admin`): lists, rosters, moves, capacities
//! and freezes; admins also read the audit trail.

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{query_object, Admin, Organiser, Write};
use super::problem::{ApiError, Problem};
use super::{idempotent_write, respond, AppState};
use crate::domain::audit::AuditView;
use crate::domain::catalog::SiteVisitView;
use crate::domain::country::CountryCode;
use crate::domain::input::Fields;
use crate::domain::now;
use crate::domain::organiser::{
    self, AllocationReport, AllocationRequest, ListQuery, RegistrationPage, Roster, VisitUpdate,
};
use crate::domain::view::{RegistrationStatus, RegistrationView};

/// `limit` and `offset` of a paged list; unknown parameters are errors.
fn paging(fields: &mut Fields, default_limit: i64) -> (i64, i64) {
    let limit = fields.optional_int("limit", 1, 500).unwrap_or(default_limit);
    let offset = fields.optional_int("offset", 0, i64::from(i32::MAX)).unwrap_or(0);
    (limit, offset)
}

/// `GET /api/v1/events/{event}/registrations?status=&country=&site_visit=&q=&limit=&offset=`
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/registrations",
    tag = "organiser",
    summary = "A page of the event's registrations, oldest first, with filters",
    security(("bearer" = [])),
    params(
        ("event" = String, Path, description = "Event slug"),
        ("status" = Option<RegistrationStatus>, Query, description = "Only registrations of this status"),
        ("country" = Option<crate::domain::country::CountryCode>, Query, description = "Only people from this country"),
        ("site_visit" = Option<String>, Query, max_length = 64, description = "Only people seated in this visit (slug)"),
        ("q" = Option<String>, Query, max_length = 100, pattern = "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$",
            description = "Search in names, email and organisation"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 2147483647, description = "Rows to skip"),
    ),
    responses((status = 200, description = "A page of registrations", body = RegistrationPage)),
)]
pub async fn list_registrations(
    _: Organiser,
    event: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let event = event.into_inner();
    let mut fields = Fields::new(query_object(&req));
    let status = fields.optional_text("status", 16).and_then(|text| {
        let status = RegistrationStatus::parse(&text);
        if status.is_none() {
            let choices: Vec<&str> = RegistrationStatus::ALL.iter().map(|s| s.as_str()).collect();
            fields.error("status", format!("must be one of {}", choices.join(", ")));
        }
        status
    });
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
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/site-visits/{visit}/roster",
    tag = "organiser",
    summary = "The people seated in a site visit and its ordered waitlist",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug"), ("visit" = String, Path, description = "Site-visit slug")),
    responses((status = 200, description = "The roster", body = Roster)),
)]
pub async fn roster(
    _: Organiser,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (event, visit) = path.into_inner();
    let roster = state
        .db
        .read(move |conn| organiser::roster(conn, &event, &visit, now()))
        .await?;
    Ok(HttpResponse::Ok().json(roster))
}

/// `PUT /api/v1/events/{event}/registrations/{id}/site-visit` with `{site_visit: slug | null}`
#[utoipa::path(
    put,
    path = "/api/v1/events/{event}/registrations/{id}/site-visit",
    tag = "organiser",
    summary = "Seat a person in a site visit by hand, or take their seat away (`null`)",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug"), ("id" = String, Path, description = "Registration id")),
    request_body(content = MoveBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The registration as moved", body = RegistrationView),
        (status = 409, description = "`capacity-exceeded`: the visit is full; `registration-closed`: the registration is cancelled", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn move_participant(
    write: Write<Organiser>,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = write.caller.principal();
    let (event, id) = path.into_inner();
    let target = organiser::parse_move_target(write.body)?;
    let answer = idempotent_write(&state.db, write.key, move |conn, now| {
        organiser::move_participant(conn, &actor.name, &event, &id, target.as_deref(), now)
    })
    .await?;
    Ok(respond(answer))
}

/// `PATCH /api/v1/events/{event}/site-visits/{visit}` with `{capacity?, frozen?}`
#[utoipa::path(
    patch,
    path = "/api/v1/events/{event}/site-visits/{visit}",
    tag = "organiser",
    summary = "Change a visit's capacity (a raise promotes the waitlist) or freeze its roster",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug"), ("visit" = String, Path, description = "Site-visit slug")),
    request_body(content = VisitUpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The visit as changed", body = SiteVisitView),
        (status = 409, description = "`capacity-exceeded`: below the seats already taken", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn update_site_visit(
    write: Write<Organiser>,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = write.caller.principal();
    let (event, visit) = path.into_inner();
    let update = VisitUpdate::parse(write.body)?;
    let answer = idempotent_write(&state.db, write.key, move |conn, now| {
        organiser::update_site_visit(conn, &actor.name, &event, &visit, &update, now)
    })
    .await?;
    Ok(respond(answer))
}

/// A page of the audit trail.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    pub limit: i64,
    pub offset: i64,
}

/// `GET /api/v1/events/{event}/audit?limit=&offset=` (admins), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/events/{event}/audit",
    tag = "admin",
    summary = "The event's audit trail, newest first",
    security(("bearer" = [])),
    params(
        ("event" = String, Path, description = "Event slug"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 2147483647, description = "Rows to skip"),
    ),
    responses((status = 200, description = "A page of the audit trail", body = AuditPage)),
)]
pub async fn audit_trail(
    _: Admin,
    event: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let event = event.into_inner();
    let mut fields = Fields::new(query_object(&req));
    let (limit, offset) = paging(&mut fields, 100);
    fields.finish(|| Some(()))?;
    let entries = state
        .db
        .read(move |conn| organiser::audit_trail(conn, &event, limit, offset))
        .await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        entries,
        limit,
        offset,
    }))
}

/// `POST /api/v1/events/{event}/allocation` with `{dry_run, balance_countries, seed}`.
/// `dry_run` defaults to true: the plan is shown, nothing is written.
#[utoipa::path(
    post,
    path = "/api/v1/events/{event}/allocation",
    tag = "organiser",
    summary = "Plan (dry run, the default) or apply the preference allocation",
    security(("bearer" = [])),
    params(("event" = String, Path, description = "Event slug")),
    request_body(content = AllocationBody, content_type = "application/json"),
    responses((status = 200, description = "Counts per rank and the plan", body = AllocationReport)),
)]
pub async fn run_allocation(
    write: Write<Organiser>,
    event: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = write.caller.principal();
    let request = AllocationRequest::parse(write.body)?;
    let answer =
        organiser::run_allocation(&state.db, actor.name, event.into_inner(), request, write.key).await?;
    Ok(respond(answer))
}
/// `PUT …/registrations/{id}/site-visit`: the visit to seat the person in, or null to
/// take their seat away.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    #[schema(schema_with = super::schema::move_target, required)]
    pub site_visit: Option<String>,
}

/// `PATCH …/site-visits/{visit}`: `capacity`, `frozen` or both (null counts as absent).
pub struct VisitUpdateBody;

impl utoipa::PartialSchema for VisitUpdateBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, AllOfBuilder, AnyOfBuilder, ObjectBuilder, SchemaType, Type,
        };
        let capacity = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(1_000_000))
        };
        let frozen = || ObjectBuilder::new().schema_type(Type::Boolean);
        let fields = ObjectBuilder::new()
            .property(
                "capacity",
                capacity().schema_type(SchemaType::from_iter([Type::Integer, Type::Null])),
            )
            .property(
                "frozen",
                frozen()
                    .schema_type(SchemaType::from_iter([Type::Boolean, Type::Null]))
                    .description(Some("A frozen roster changes only by an organiser's hand")),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        // At least one of them present and not null.
        let given = AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property("capacity", capacity())
                    .required("capacity"),
            )
            .item(
                ObjectBuilder::new()
                    .property("frozen", frozen())
                    .required("frozen"),
            );
        AllOfBuilder::new()
            .item(fields)
            .item(given)
            .description(Some("`capacity`, `frozen` or both; null counts as absent"))
            .into()
    }
}

impl utoipa::ToSchema for VisitUpdateBody {}

/// `POST …/allocation`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationBody {
    /// Show the plan and write nothing (the default).
    #[schema(default = true)]
    pub dry_run: Option<bool>,
    #[schema(default = false)]
    pub balance_countries: Option<bool>,
    /// Tie-break seed, for a reproducible plan.
    #[schema(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub seed: Option<i64>,
}
