//! Reading requests: bodies (JSON or urlencoded form, size-limited) into one JSON object,
//! and bearer tokens into a principal with a role — as actix extractors, so that a
//! handler starts with what it needs: [`Organiser`] / [`Admin`] for a read, and
//! [`Write`] for a write, which checks in a fixed order: the caller (401, 403), then the
//! body (415, 413, 400), then its `Idempotency-Key` (422).

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde_json::{Map, Value};

use super::problem::ApiError;
use super::AppState;
use crate::domain::access::{self, Principal, Role};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::now;
use crate::domain::DomainError;
use crate::i18n::Lang;

enum BodyKind {
    Json,
    Form,
}

/// The shared state, which every app built by `startup` carries.
fn app_state(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .expect("the app carries its state")
        .clone()
}

/// Who may call an endpoint, and the name their `Idempotency-Key`s are kept under.
pub trait Caller: Sized + 'static {
    fn identify(
        req: HttpRequest,
        state: web::Data<AppState>,
    ) -> LocalBoxFuture<'static, Result<Self, ApiError>>;
    /// Keys of different callers never meet: the same key from two callers is two keys.
    fn idempotency_scope(&self) -> &str;
    /// The shortest `Idempotency-Key` this caller may send.
    const MIN_KEY_LENGTH: usize = 1;
}

/// A role a bearer token must have (or include) to call an endpoint.
pub trait RequiredRole: 'static {
    const ROLE: Role;
}

pub struct OrganiserRole;
impl RequiredRole for OrganiserRole {
    const ROLE: Role = Role::Organiser;
}

pub struct AdminRole;
impl RequiredRole for AdminRole {
    const ROLE: Role = Role::Admin;
}

/// The caller, by a bearer token whose role includes `R`: 401 without a valid token,
/// 403 with a token of a lesser role.
pub struct Staff<R>(pub Principal, PhantomData<R>);

pub type Organiser = Staff<OrganiserRole>;
pub type Admin = Staff<AdminRole>;

impl<R: RequiredRole> Staff<R> {
    pub fn principal(self) -> Principal {
        self.0
    }
}

impl<R: RequiredRole> Caller for Staff<R> {
    fn identify(
        req: HttpRequest,
        state: web::Data<AppState>,
    ) -> LocalBoxFuture<'static, Result<Self, ApiError>> {
        Box::pin(async move {
            let principal = require_role(&req, &state, R::ROLE).await?;
            Ok(Staff(principal, PhantomData))
        })
    }

    fn idempotency_scope(&self) -> &str {
        &self.0.token_id
    }
}

impl<R: RequiredRole> FromRequest for Staff<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Self::identify(req.clone(), app_state(req))
    }
}

/// Anyone: public endpoints. Their `Idempotency-Key`s are kept per client address, so
/// that one client can never be answered with another's stored answer (it holds a
/// manage link); and they must be long enough to be secret (a random UUID), since a
/// replay goes to whoever at that address sends the same key and the same body.
pub struct Public {
    scope: String,
}

impl Caller for Public {
    fn identify(
        req: HttpRequest,
        state: web::Data<AppState>,
    ) -> LocalBoxFuture<'static, Result<Self, ApiError>> {
        let client = state
            .limits
            .client(&req)
            .map_or_else(|| "unknown".to_owned(), |address| address.to_string());
        Box::pin(async move {
            Ok(Public {
                scope: format!("public {client}"),
            })
        })
    }

    fn idempotency_scope(&self) -> &str {
        &self.scope
    }

    const MIN_KEY_LENGTH: usize = 16;
}

/// A write request of caller `C`: who, the body as one object, and the request's
/// `Idempotency-Key` scoped to its method, path and caller (`None` without the header).
pub struct Write<C> {
    pub caller: C,
    pub body: Map<String, Value>,
    pub key: Option<IdempotencyKey>,
}

impl<C: Caller> FromRequest for Write<C> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let state = app_state(&req);
            // One after the other, never at once: a caller who may not write gets 401 or
            // 403 whatever they sent, and their body is not read.
            let caller = C::identify(req.clone(), state.clone()).await?;
            let payload = payload
                .await
                .map_err(|e| ApiError::Malformed(format!("the body could not be read: {e}")))?;
            let body = read_object(&req, payload, state.max_body_bytes).await?;
            let key = idempotency_key(&req, caller.idempotency_scope(), C::MIN_KEY_LENGTH, &body)?;
            Ok(Write { caller, body, key })
        })
    }
}

/// The body as a JSON object. Forms become objects too: a repeated key becomes a list in
/// the order sent (`preferences=a&preferences=b`), `key[]` counts as `key`, and
/// `answers[meal]=x` is `{"answers": {"meal": "x"}}` (the only nested object a form
/// sends: docs/questions.md).
pub async fn read_object(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Map<String, Value>, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let kind = match mime.as_str() {
        "application/json" => BodyKind::Json,
        "application/x-www-form-urlencoded" => BodyKind::Form,
        "" => {
            return Err(ApiError::UnsupportedMediaType(
                "send Content-Type: application/json or application/x-www-form-urlencoded".into(),
            ))
        }
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "`{other}` is not accepted; send application/json or application/x-www-form-urlencoded"
            )))
        }
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let body = payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))?
        .map_err(|e| ApiError::Malformed(format!("the body could not be read: {e}")))?;
    match kind {
        BodyKind::Json => match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ApiError::Malformed("the body must be a JSON object".into())),
            Err(e) => Err(ApiError::Malformed(format!("the body is not valid JSON: {e}"))),
        },
        BodyKind::Form => Ok(form_to_object(&body)),
    }
}

pub fn form_to_object(body: &[u8]) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        let key = key.strip_suffix("[]").unwrap_or(&key).to_owned();
        let value = Value::String(value.into_owned());
        let answer = key
            .strip_prefix("answers[")
            .and_then(|rest| rest.strip_suffix(']'))
            .filter(|id| !id.is_empty() && !id.contains(['[', ']']));
        let target = match answer {
            Some(id) => {
                let answers = map.entry("answers").or_insert_with(|| Value::Object(Map::new()));
                match answers {
                    Value::Object(answers) => Some((answers, id.to_owned())),
                    // `answers=x` sent too: the bracketed field stays as it is, and is
                    // reported as unknown.
                    _ => None,
                }
            }
            None => None,
        };
        let (target, key) = match target {
            Some((answers, id)) => (answers, id),
            None => (&mut map, key),
        };
        append(target, key, value);
    }
    map
}

/// A form value under `key`: the first is a string, later ones make a list.
fn append(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        None => {
            map.insert(key, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// The caller's principal if the bearer token is valid and its role includes `role`:
/// 401 without a valid token, 403 with a token of a lesser role.
pub async fn require_role(req: &HttpRequest, state: &AppState, role: Role) -> Result<Principal, ApiError> {
    let secret = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_credentials)
        .ok_or(ApiError::Unauthorized)?
        .to_owned();
    let principal = state
        .db
        .read_statement(move |conn| access::authenticate(conn, &secret, now()))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if principal.role.includes(role) {
        Ok(principal)
    } else {
        Err(ApiError::Forbidden(role.as_str()))
    }
}

/// The credentials of an `Authorization: Bearer …` value; the scheme is matched without
/// regard to case (RFC 9110, section 11.1).
pub fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    let credentials = credentials.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty()).then_some(credentials)
}

/// The language the client prefers among ours (`Accept-Language`), English otherwise.
pub fn accept_language(req: &HttpRequest) -> Lang {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default()
}

/// The query string as an object (repeated keys become lists), for [`Fields`].
///
/// [`Fields`]: crate::domain::input::Fields
pub fn query_object(req: &HttpRequest) -> Map<String, Value> {
    form_to_object(req.query_string().as_bytes())
}

/// A log's page as its query asks for it: `status` (one of `statuses`), `limit` (1–500,
/// 100 by default) and `offset` (0 by default), each refused field by field.
pub struct StatusPage {
    pub status: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

impl StatusPage {
    pub fn read(req: &HttpRequest, statuses: &[&str]) -> Result<Self, ApiError> {
        let mut fields = crate::domain::input::Fields::new(query_object(req));
        let status = fields.optional_text("status", 16);
        if let Some(status) = &status {
            if !statuses.contains(&status.as_str()) {
                fields.error("status", format!("must be one of {}", statuses.join(", ")));
            }
        }
        let limit = fields.optional_int("limit", 1, 500).unwrap_or(100);
        let offset = fields.optional_int("offset", 0, i64::from(i32::MAX)).unwrap_or(0);
        fields.finish(|| Some(()))?;
        Ok(Self {
            status,
            limit,
            offset,
        })
    }
}

/// The request's `Idempotency-Key`, scoped to its method, path and caller, with a digest
/// of its body; `None` without the header.
pub fn idempotency_key(
    req: &HttpRequest,
    caller: &str,
    min_length: usize,
    body: &Map<String, Value>,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(header) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = header.to_str().unwrap_or("\u{0}");
    if key.len() < min_length {
        return Err(DomainError::invalid(
            "Idempotency-Key",
            format!("must be at least {min_length} characters here: send a random UUID"),
        )
        .into());
    }
    let scope = format!("{} {} {caller}", req.method(), req.path());
    Ok(Some(IdempotencyKey::new(
        key,
        scope,
        &Value::Object(body.clone()),
    )?))
}

/// A `{param}` of the path, which the router guarantees is present.
pub fn path_param(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::form_to_object;
    use crate::domain::registration::{NewRegistration, PreferenceRules};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn rules() -> Vec<String> {
        vec!["aperam-chatelet".into(), "biopark-charleroi".into()]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Arbitrary bytes, read as a form or as JSON, never panic the parser: they
        /// become a registration or field errors.
        #[test]
        fn arbitrary_bodies_never_panic_the_registration_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let slugs = rules();
            let rules = PreferenceRules { visit_slugs: &slugs, max_preferences: 3 };
            let _ = NewRegistration::parse(form_to_object(&bytes), &rules);
            if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes) {
                let _ = NewRegistration::parse(map, &rules);
            }
        }

        /// Structured but hostile JSON (wrong types, huge and odd strings) never panics.
        #[test]
        fn hostile_json_fields_never_panic(
            values in proptest::collection::vec(
                prop_oneof![
                    any::<String>().prop_map(Value::String),
                    any::<i64>().prop_map(|n| json!(n)),
                    any::<bool>().prop_map(Value::Bool),
                    Just(Value::Null),
                    proptest::collection::vec(any::<String>(), 0..5).prop_map(|v| json!(v)),
                ],
                9,
            )
        ) {
            let fields = ["first_name", "last_name", "email", "organisation", "country", "preferences",
                          "consent", "job_title", "dietary"];
            let map = fields.iter().zip(values).map(|(k, v)| (k.to_string(), v)).collect();
            let slugs = rules();
            let _ = NewRegistration::parse(map, &PreferenceRules { visit_slugs: &slugs, max_preferences: 3 });
        }
    }

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR  abc "] {
            assert_eq!(super::bearer_credentials(value), Some("abc"), "{value}");
        }
        for value in ["Basic abc", "Bearer", "Bearer   ", "Bearerabc", ""] {
            assert_eq!(super::bearer_credentials(value), None, "{value}");
        }
    }

    #[test]
    fn repeated_form_fields_keep_their_order() {
        let map =
            form_to_object(b"first_name=Ana&preferences=b&preferences%5B%5D=a&preferences=c&consent=on");
        assert_eq!(map["preferences"], json!(["b", "a", "c"]));
        assert_eq!(map["first_name"], json!("Ana"));
        assert_eq!(map["consent"], json!("on"));
    }
}
