//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' annotations and
//! the types they answer with (utoipa), served at `/api/v1/openapi.json`, and an offline
//! documentation page rendered from it at `/api/v1/docs`.
//!
//! Request bodies are read field by field (`domain::input::Fields`), not deserialised, so
//! their shapes are described here by types that exist for the document only; the
//! integration suite checks that the server knows every documented field.
//!
//! Responses every operation of a kind shares (401/403 with a token, 400/413/415/422 with
//! a body, 404 with a path parameter, 429 on rate-limited routes, 500/503 everywhere the
//! database is touched) are added by [`Conventions`] from the operation itself, so no
//! handler can forget one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, Object, ObjectBuilder, Schema,
    SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::problem::PROBLEM_JSON;
use crate::domain::booking::RegistrationView;
use crate::domain::country::all_countries;
use crate::domain::erasure::Erasure;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rallypoint",
        description = "Registration desk of a conference with capacity-limited site visits. \
            Errors are RFC 9457 problem documents (`application/problem+json`).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::observe::metrics,
        super::public::show_event,
        super::public::register,
        super::manage::show,
        super::manage::change,
        super::manage::cancel,
        super::organiser::list_registrations,
        super::organiser::roster,
        super::organiser::move_participant,
        super::organiser::update_site_visit,
        super::organiser::run_allocation,
        super::organiser::audit_trail,
        super::erasure::delete_registration,
        super::admin::create_event,
        super::admin::create_site_visit,
        super::admin::list_emails,
        super::admin::retry_email,
        super::exports::counts,
        super::exports::attendees,
        document,
        docs_page,
    ),
    components(schemas(
        super::problem::Problem,
        super::problem::ProblemType,
        super::organiser::ListStatus,
        super::admin::EmailStatus,
        CountsByParam,
        CountsFormat,
        AttendeesFormat,
        CountryCode,
    )),
    modifiers(&Conventions),
    tags(
        (name = "public", description = "Anyone: the event and registering"),
        (name = "participant", description = "The holder of a manage link"),
        (name = "organiser", description = "Bearer token of role organiser (or admin)"),
        (name = "admin", description = "Bearer token of role admin"),
        (name = "operations", description = "Probes and metrics"),
        (name = "documentation", description = "This document"),
    ),
)]
pub struct ApiDoc;

/// The document as served (built once).
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    fix_link_names(&mut document);
    describe_blank_values(&mut document);
    document.to_string()
});

/// A blank string: only the characters Rust's `str::trim` removes (Unicode White_Space),
/// spelt out because `\s` differs between regex dialects (U+0085, U+FEFF).
const BLANK: &str =
    "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$";

fn blank() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(BLANK))
        .description(Some("blank: as if absent"))
}

/// `schema`, or a blank string standing for its absence.
fn or_blank(schema: Value) -> Value {
    let blank = serde_json::to_value(blank().build()).expect("a schema serialises");
    serde_json::json!({ "anyOf": [schema, blank] })
}

/// Forms send every field, empty when not filled in, so the server reads an empty (or
/// blank) value as an absent one, in query strings and bodies alike. The document says
/// so: an optional query parameter, and an optional body field whose schema has a type,
/// format or choices other than free text, also takes a blank string.
fn describe_blank_values(document: &mut Value) {
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        let parameters = paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut())
            .filter_map(|operation| operation.get_mut("parameters").and_then(Value::as_array_mut))
            .flatten()
            .filter_map(Value::as_object_mut);
        for parameter in parameters {
            if parameter.get("in") == Some(&Value::from("query"))
                && parameter.get("required") != Some(&Value::Bool(true))
            {
                if let Some(schema) = parameter.get_mut("schema") {
                    *schema = or_blank(schema.take());
                }
            }
        }
    }
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        if !name.ends_with("Body") {
            continue;
        }
        let object = match schema.get_mut("allOf").and_then(Value::as_array_mut) {
            Some(parts) => parts.iter_mut().find(|part| part.get("properties").is_some()),
            None => Some(schema),
        };
        let Some(object) = object.and_then(Value::as_object_mut) else {
            continue;
        };
        let required: Vec<Value> = object
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (field, property) in properties.iter_mut() {
            let free_text = property
                .get("type")
                .is_some_and(|kind| kind == "string" || kind == &serde_json::json!(["string", "null"]))
                && ["format", "enum", "pattern"]
                    .iter()
                    .all(|key| property.get(key).is_none());
            if required.contains(&Value::from(field.as_str())) || free_text || property.get("anyOf").is_some()
            {
                continue;
            }
            *property = or_blank(property.take());
        }
    }
}

/// utoipa 5.5 writes a link's fields in snake case (`operation_id`); OpenAPI spells
/// them `operationId`, `operationRef` and `requestBody`, and tools ignore the others.
fn fix_link_names(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses").and_then(Value::as_object_mut))
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links").and_then(Value::as_object_mut))
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        for (snake, camel) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(snake) {
                link.insert(camel.to_owned(), value);
            }
        }
    }
}

/// The security scheme of organiser and admin tokens.
pub const BEARER: &str = "bearer";

/// `GET /api/v1/openapi.json`
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "documentation",
    summary = "This OpenAPI 3.1 document",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)),
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

/// `GET /api/v1/docs`
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    tag = "documentation",
    summary = "The API documentation as a web page (offline, rendered from this document)",
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String)),
)]
pub async fn docs_page() -> HttpResponse {
    static PAGE: LazyLock<String> = LazyLock::new(|| {
        let document: Value = serde_json::from_str(&DOCUMENT).expect("the document is JSON");
        render_page(&document)
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(PAGE.as_str())
}

/// A documented error answer, as a response object.
fn problem_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    )
}

fn with_header(response: ResponseBuilder, name: &str, description: &str) -> ResponseBuilder {
    response.header(
        name,
        HeaderBuilder::new()
            .schema(String::schema())
            .description(Some(description))
            .build(),
    )
}

/// Adds the security scheme and the error answers operations share (see the module doc).
pub struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`rallypoint token create --role organiser|admin`); \
                         no or an unknown token is 401, a token of a lesser role 403",
                    ))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("GET", item.get.as_mut()),
                ("POST", item.post.as_mut()),
                ("PUT", item.put.as_mut()),
                ("PATCH", item.patch.as_mut()),
                ("DELETE", item.delete.as_mut()),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let tags = operation.tags.clone().unwrap_or_default();
                if !path.starts_with(super::API_PREFIX) || tags.iter().any(|t| t == "documentation") {
                    continue;
                }
                let mut shared: Vec<(&str, RefOr<Response>)> = Vec::new();
                let params = operation.parameters.as_deref().unwrap_or_default();
                let has = |location: utoipa::openapi::path::ParameterIn| {
                    params.iter().any(|p| p.parameter_in == location)
                };
                if operation.request_body.is_some() {
                    shared.push((
                        "400",
                        problem_response("`malformed-request`: the body is not a JSON object").into(),
                    ));
                    shared.push((
                        "413",
                        problem_response(
                            "`payload-too-large`: the body is larger than `server.max_body_bytes`",
                        )
                        .into(),
                    ));
                    shared.push((
                        "415",
                        problem_response("`unsupported-media-type`: send application/json (or a form)")
                            .into(),
                    ));
                }
                if operation.request_body.is_some() || has(utoipa::openapi::path::ParameterIn::Query) {
                    shared.push((
                        "422",
                        problem_response("`validation-failed`: `errors` names each field and what is wrong")
                            .into(),
                    ));
                }
                if operation.security.is_some() {
                    shared.push((
                        "401",
                        with_header(
                            problem_response("`unauthorized`: no bearer token, or an unknown one"),
                            "WWW-Authenticate",
                            "`Bearer`",
                        )
                        .into(),
                    ));
                    shared.push((
                        "403",
                        problem_response("`forbidden`: the token's role does not allow this").into(),
                    ));
                }
                if has(utoipa::openapi::path::ParameterIn::Path) {
                    shared.push((
                        "404",
                        problem_response("`not-found`: no such event, visit, registration or link").into(),
                    ));
                }
                let full_path = path.as_str();
                if super::limits::is_rate_limited(method, full_path) {
                    shared.push((
                        "429",
                        with_header(
                            problem_response("`rate-limited`: this client made too many public writes"),
                            "Retry-After",
                            "seconds to wait",
                        )
                        .into(),
                    ));
                }
                shared.push((
                    "500",
                    problem_response("`internal`: our fault; no detail is shown").into(),
                ));
                shared.push((
                    "503",
                    with_header(
                        problem_response("`service-unavailable`: the database is busy or unreachable"),
                        "Retry-After",
                        "seconds to wait",
                    )
                    .into(),
                ));
                for (status, response) in shared {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert(response);
                }
            }
        }
    }
}

// --- Request bodies (the document's description of what `Fields` reads) -------------

fn slug() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[a-z0-9][a-z0-9-]*$"))
        .max_length(Some(64))
        .description(Some("A slug: lower-case letters, digits and dashes"))
        .build()
}

/// A ranking of visits: a list of slugs; one slug alone is a list of one (as a form sends
/// it), and null or a blank string an empty list.
fn ranking() -> Schema {
    AnyOfBuilder::new()
        // Blank entries are dropped: a form's unselected choice boxes.
        .item(ArrayBuilder::new().items(AnyOfBuilder::new().item(slug()).item(blank())))
        .item(slug())
        .item(blank())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "Site-visit slugs of this event, best first, each once, at most the event's \
             `max_preferences`; one slug alone is a list of one, null or blank none, \
             blank entries are left out",
        ))
        .into()
}

/// A visit to move to: its slug, or null (or blank) for none.
fn move_target() -> Schema {
    AnyOfBuilder::new()
        .item(slug())
        .item(blank())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some("The visit's slug; null (or blank) takes the seat away"))
        .into()
}

/// An ISO 3166-1 alpha-2 code: one of the country table's (also accepted lower-case).
pub struct CountryCode;

impl PartialSchema for CountryCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(all_countries().iter().map(|country| country.code)))
            .description(Some(
                "ISO 3166-1 alpha-2 code; lower case is accepted too, and stored upper-case",
            ))
            .examples([serde_json::json!("BE")])
            .into()
    }
}

impl ToSchema for CountryCode {}

/// An IANA time zone, as the time-zone database this build carries names them.
fn time_zone() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
        .description(Some("An IANA time zone, e.g. Europe/Brussels"))
        .examples([serde_json::json!("Europe/Brussels")])
        .build()
}

/// `consent` can only be given.
fn consent() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .description(Some("Must be true: registering needs the person's consent"))
        .build()
}

/// `POST /api/v1/events/{event}/registrations`. Also accepted as a urlencoded form
/// (repeated `preferences` keep their order; a checked box is true). Names, organisation
/// and job title are one line each (no control character but tab).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f]*$"
    )]
    pub first_name: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f]*$"
    )]
    pub last_name: String,
    #[schema(format = Email, max_length = 254, example = "irena@example.pl")]
    pub email: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f]*$"
    )]
    pub organisation: String,
    #[schema(value_type = CountryCode)]
    pub country: String,
    #[schema(schema_with = ranking)]
    pub preferences: Option<Vec<String>>,
    #[schema(schema_with = consent)]
    pub consent: bool,
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f]*$"
    )]
    pub job_title: Option<String>,
    #[schema(max_length = 500)]
    pub dietary: Option<String>,
}

/// `PATCH /api/v1/manage/{token}`: the new ranking; an empty list withdraws every choice.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceChangeBody {
    #[schema(schema_with = ranking)]
    pub preferences: Vec<String>,
}

/// `PUT …/registrations/{id}/site-visit`: the visit to seat the person in, or null to
/// take their seat away.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    #[schema(schema_with = move_target, required)]
    pub site_visit: Option<String>,
}

/// `PATCH …/site-visits/{visit}`: `capacity`, `frozen` or both (null counts as absent).
pub struct VisitUpdateBody;

impl PartialSchema for VisitUpdateBody {
    fn schema() -> RefOr<Schema> {
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

impl ToSchema for VisitUpdateBody {}

/// `POST …/allocation`.
#[derive(Deserialize, ToSchema)]
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

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AssignmentMode)]
pub enum AssignmentModeDoc {
    FirstCome,
    Preferences,
}

/// `POST /api/v1/events`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEventBody {
    #[schema(schema_with = slug)]
    pub slug: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(max_length = 300)]
    pub venue: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub contact_email: Option<String>,
    #[schema(schema_with = time_zone)]
    pub timezone: String,
    pub starts_on: chrono::NaiveDate,
    /// Not before `starts_on`.
    pub ends_on: chrono::NaiveDate,
    #[schema(inline)]
    pub assignment_mode: Option<AssignmentModeDoc>,
    pub registration_opens_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// After `registration_opens_at`.
    pub registration_closes_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    #[schema(minimum = 1, maximum = 20, default = 3)]
    pub max_preferences: Option<i32>,
    /// Event-wide places; past them newcomers join the waiting list.
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub capacity: Option<i32>,
}

/// `POST /api/v1/events/{event}/site-visits`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSiteVisitBody {
    #[schema(schema_with = slug)]
    pub slug: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(max_length = 300)]
    pub location: Option<String>,
    #[schema(max_length = 300)]
    pub meeting_point: Option<String>,
    pub starts_at: chrono::DateTime<chrono::FixedOffset>,
    /// After `starts_at`.
    pub ends_at: chrono::DateTime<chrono::FixedOffset>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub capacity: i32,
    #[schema(minimum = 0, maximum = 10_000)]
    pub position: Option<i32>,
}

// --- Answers built as JSON values elsewhere ----------------------------------------

/// What `DELETE …/registrations/{id}` answers: the registration as cancelled, or, with
/// `erase=true`, the erasure.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum StaffDeletion {
    Cancelled(Box<RegistrationView>),
    Erased(Erasure),
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CountsBy)]
pub enum CountsByParam {
    Country,
    SiteVisit,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CountsFormat {
    Csv,
    Json,
    Xlsx,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttendeesFormat {
    Csv,
    Xlsx,
}

/// A by-country line (`export::json`); `country` is `TOTAL` on the total line.
#[derive(Serialize, ToSchema)]
pub struct CountryCountsLine {
    pub country: String,
    /// Empty on the total line.
    pub country_name: String,
    pub registered: i64,
    pub assigned: i64,
    pub waitlisted: i64,
    /// Seats this country's people hold, per visit slug.
    pub site_visits: BTreeMap<String, i64>,
}

/// Counts by country (`format=json`).
#[derive(Serialize, ToSchema)]
pub struct CountsByCountry {
    pub event: String,
    #[schema(pattern = "^country$")]
    pub by: String,
    /// Visit slugs in display order.
    pub site_visits: Vec<String>,
    pub rows: Vec<CountryCountsLine>,
    pub total: CountryCountsLine,
}

/// A by-visit line (`export::json`); `site_visit` is `TOTAL` on the total line.
#[derive(Serialize, ToSchema)]
pub struct VisitCountsLine {
    pub site_visit: String,
    pub name: String,
    pub capacity: i64,
    pub assigned: i64,
    pub waitlisted: i64,
    pub seats_left: i64,
}

/// Counts by site visit (`format=json`).
#[derive(Serialize, ToSchema)]
pub struct CountsBySiteVisit {
    pub event: String,
    #[schema(pattern = "^site_visit$")]
    pub by: String,
    pub rows: Vec<VisitCountsLine>,
    pub total: VisitCountsLine,
}

/// The counts as JSON, by country or by site visit.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum CountsDocument {
    ByCountry(CountsByCountry),
    BySiteVisit(CountsBySiteVisit),
}

// --- The page ------------------------------------------------------------------------

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A schema in a line: its reference's name, or its type with the notable constraints.
fn describe(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema.get(combinator).and_then(Value::as_array) {
            let joiner = if combinator == "allOf" { " &amp; " } else { " | " };
            return parts.iter().map(describe).collect::<Vec<_>>().join(joiner);
        }
    }
    let mut text = match schema.get("type") {
        Some(Value::String(kind)) => escape(kind),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .map(escape)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".into(),
    };
    if let Some(items) = schema.get("items") {
        text = format!("{text} of {}", describe(items));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(|v| escape(&v.to_string())).collect();
        if values.len() <= 12 {
            text = format!("{text}: {}", values.join(", "));
        } else {
            text = format!("{text}: one of {} values", values.len());
        }
    }
    for key in [
        "format",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "default",
    ] {
        if let Some(value) = schema.get(key) {
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            let _ = write!(text, ", {key} <code>{}</code>", escape(&value));
        }
    }
    text
}

fn text_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The documentation page: every operation by tag, with its parameters, body and
/// answers, then every schema with its properties. No script, nothing fetched.
fn render_page(document: &Value) -> String {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>rallypoint API</title><style>\
         body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}\
         code,.path{font-family:ui-monospace,monospace}table{border-collapse:collapse;width:100%;margin:.5rem 0}\
         td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}\
         .op{border-top:2px solid #333;margin-top:1.5rem}.method{font-weight:bold;text-transform:uppercase}\
         </style></head><body>\n",
    );
    let info = &document["info"];
    let _ = writeln!(
        html,
        "<h1>{} API <small>{}</small></h1><p>{}</p><p>OpenAPI {}: <a href=\"/api/v1/openapi.json\">openapi.json</a></p>",
        escape(text_of(info, "title")),
        escape(text_of(info, "version")),
        escape(text_of(info, "description")),
        escape(text_of(document, "openapi")),
    );
    let empty = serde_json::Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    let mut by_tag: BTreeMap<String, Vec<(String, String, &Value)>> = BTreeMap::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(operation) = item.get(method) {
                let tag = operation["tags"][0].as_str().unwrap_or("other").to_owned();
                by_tag
                    .entry(tag)
                    .or_default()
                    .push((method.to_owned(), path.clone(), operation));
            }
        }
    }
    html.push_str("<h2>Operations</h2>\n");
    for tag in document["tags"].as_array().into_iter().flatten() {
        let name = text_of(tag, "name");
        let Some(operations) = by_tag.get(name) else {
            continue;
        };
        let _ = writeln!(
            html,
            "<h3 id=\"tag-{0}\">{0}</h3><p>{1}</p>",
            escape(name),
            escape(text_of(tag, "description"))
        );
        for (method, path, operation) in operations {
            render_operation(&mut html, method, path, operation);
        }
    }
    html.push_str("<h2>Schemas</h2>\n");
    let schemas = document["components"]["schemas"].as_object().unwrap_or(&empty);
    for (name, schema) in schemas {
        let _ = writeln!(
            html,
            "<h3 id=\"schema-{0}\">{0}</h3><p>{1}</p>",
            escape(name),
            escape(text_of(schema, "description"))
        );
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match schema.get("properties").and_then(Value::as_object) {
            Some(properties) => {
                html.push_str("<table><tr><th>field</th><th>schema</th><th>description</th></tr>\n");
                for (field, property) in properties {
                    let _ = writeln!(
                        html,
                        "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(field),
                        if required.contains(&field.as_str()) {
                            " (required)"
                        } else {
                            ""
                        },
                        describe(property),
                        escape(text_of(property, "description"))
                    );
                }
                html.push_str("</table>\n");
            }
            None => {
                let _ = writeln!(html, "<p>{}</p>", describe(schema));
            }
        }
    }
    html.push_str("</body></html>\n");
    html
}

fn render_operation(html: &mut String, method: &str, path: &str, operation: &Value) {
    let _ = writeln!(
        html,
        "<div class=\"op\" id=\"{}\"><p><span class=\"method\">{}</span> <span class=\"path\">{}</span>{}</p><p>{}</p>",
        escape(text_of(operation, "operationId")),
        escape(method),
        escape(path),
        if operation.get("security").is_some() { " — bearer token" } else { "" },
        escape(text_of(operation, "summary")),
    );
    if let Some(parameters) = operation.get("parameters").and_then(Value::as_array) {
        html.push_str("<table><tr><th>parameter</th><th>in</th><th>schema</th><th>description</th></tr>\n");
        for parameter in parameters {
            let _ = writeln!(
                html,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(text_of(parameter, "name")),
                if parameter["required"] == Value::Bool(true) {
                    " (required)"
                } else {
                    ""
                },
                escape(text_of(parameter, "in")),
                describe(&parameter["schema"]),
                escape(text_of(parameter, "description")),
            );
        }
        html.push_str("</table>\n");
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = writeln!(
                html,
                "<p>Body (<code>{}</code>): {}</p>",
                escape(media),
                describe(&body["schema"])
            );
        }
    }
    html.push_str("<table><tr><th>status</th><th>answer</th><th>content</th></tr>\n");
    for (status, response) in operation["responses"].as_object().into_iter().flatten() {
        let content: Vec<String> = response["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(media, body)| format!("<code>{}</code> {}", escape(media), describe(&body["schema"])))
            .collect();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(status),
            escape(text_of(response, "description")),
            content.join("<br>")
        );
    }
    html.push_str("</table></div>\n");
}
