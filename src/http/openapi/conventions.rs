//! The security scheme and the error answers that operations of a kind share (401/403
//! with a token, 400/413/415/422 with a body, 404 with a path parameter, 429 on
//! rate-limited routes, 500/503 everywhere the database is touched), added from the
//! operation itself so that no handler can forget one.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::Required;
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, PartialSchema};

use super::BEARER;
use crate::http::extract::{Caller, Public};
use crate::http::problem::PROBLEM_JSON;

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

/// The `Idempotency-Key` header of a write.
/// `min_length`: public endpoints take only keys long enough to be secret (see
/// `http::extract::Public`).
fn idempotency_key(min_length: usize) -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes a retry safe: the same key and body within 24 h get the first answer again \
             and write nothing; the same key with another body is 422. Keys are kept per \
             caller: per token, or on public endpoints per client address",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(min_length))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$")),
        ))
        .build()
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
                        "An API token (`rallypoint token create --role steward|organiser|admin`); \
                         no token, or an unknown, revoked or expired one, is 401; a token of a \
                         lesser role 403",
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
                if !path.starts_with(crate::http::API_PREFIX) || tags.iter().any(|t| t == "documentation") {
                    continue;
                }
                // Every write with a body reads its caller, body and key through
                // `http::extract::Write`; the manage link's own change is idempotent as
                // it is (it sets a ranking) and takes no key, and a check-in scan is
                // applied once by its nonce.
                let keyless = tags.iter().any(|t| t == "participant" || t == "checkin");
                if operation.request_body.is_some() && !keyless {
                    operation
                        .parameters
                        .get_or_insert_with(Vec::new)
                        .push(idempotency_key(if tags.iter().any(|t| t == "public") {
                            <Public as Caller>::MIN_KEY_LENGTH
                        } else {
                            1
                        }));
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
                if method != "GET" {
                    shared.push((
                        "403",
                        problem_response(
                            "`forbidden`: a browser's write from another site (its `Origin` is not this \
                             site's), or the token's role does not allow this",
                        )
                        .into(),
                    ));
                }
                if operation.security.is_some() {
                    shared.push((
                        "401",
                        with_header(
                            problem_response(
                                "`unauthorized`: no bearer token, or an unknown, revoked or expired one",
                            ),
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
                        problem_response("`not-found`: no such event, visit, registration, link or token")
                            .into(),
                    ));
                }
                let full_path = path.as_str();
                if crate::http::limits::is_rate_limited(method, full_path) {
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
