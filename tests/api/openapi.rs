//! Issue 8 (part): the OpenAPI document the server serves describes every route the
//! router has, every error as a problem document, and what the server really answers.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{call, participant, send, Backend, Reply, TestApp, DEMO_EVENT};

crate::on_both_backends!(
    real_answers_conform_to_their_documented_schemas,
    ready_when_migrated
);

fn document(app: &TestApp) -> Value {
    let reply = app.get("/api/v1/openapi.json");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.content_type.starts_with("application/json"),
        "{}",
        reply.content_type
    );
    reply.json()
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// (method, path, operation) of every operation in the document.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                out.push((method.to_owned(), path.clone(), operation));
            }
        }
    }
    out
}

fn is_problem_response(response: &Value) -> bool {
    response["content"]["application/problem+json"]["schema"]["$ref"] == "#/components/schemas/Problem"
}

#[test]
fn the_document_is_openapi_3_1_and_covers_every_route() {
    let app = TestApp::spawn(Backend::Sqlite);
    let doc = document(&app);
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "{version}");

    // Both ways: every route the router registers under /api/v1 is documented, and
    // nothing documented under /api/v1 is missing from the router.
    let routed: BTreeSet<(String, String)> = rallypoint::http::api_v1_endpoints()
        .into_iter()
        .map(|(method, path)| (method.as_str().to_ascii_lowercase(), path))
        .collect();
    assert!(routed.len() >= 20, "{routed:?}");
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .filter(|(_, path)| path.starts_with("/api/v1/"))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without documentation: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");
    // Clients generate a function per operationId: each names one operation.
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
        assert!(
            ids.insert(id.clone()),
            "operationId {id} of {method} {path} is used twice"
        );
    }
    for probe in ["/healthz", "/readyz", "/metrics"] {
        assert!(
            doc["paths"][probe]["get"].is_object(),
            "{probe} is not documented"
        );
    }

    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail", "instance", "errors"] {
        assert!(
            problem["properties"][field].is_object(),
            "Problem lacks {field}: {problem}"
        );
    }
    let kinds = problem["properties"]["type"]["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .map(|name| doc["components"]["schemas"][name]["enum"].clone())
        .expect("Problem.type refers to an enum");
    for kind in [
        "validation-failed",
        "malformed-request",
        "duplicate-registration",
        "registration-closed",
        "capacity-exceeded",
        "not-found",
        "unauthorized",
        "forbidden",
        "payload-too-large",
        "unsupported-media-type",
        "rate-limited",
        "internal",
    ] {
        assert!(
            kinds.as_array().unwrap().contains(&json!(kind)),
            "{kind} missing from {kinds}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "{}",
        doc["components"]["securitySchemes"]
    );

    for (method, path, operation) in operations(&doc) {
        let name = format!("{method} {path}");
        let responses = operation["responses"].as_object().expect("responses");
        // Liveness and this document answer from memory: they have no error to describe.
        let infallible = operation["tags"][0] == "documentation" || path == "/healthz";
        if !infallible {
            assert!(
                responses
                    .iter()
                    .any(|(status, r)| status.starts_with(['4', '5']) && is_problem_response(r)),
                "{name} documents no problem document"
            );
        }
        for (status, response) in responses {
            if status.starts_with(['4', '5']) {
                assert!(
                    is_problem_response(response),
                    "{name} {status} is not a problem document"
                );
            }
        }
        if operation.get("security").is_some() {
            for status in ["401", "403"] {
                assert!(responses.contains_key(status), "{name} lacks {status}");
            }
        }
        if operation.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(responses.contains_key(status), "{name} lacks {status}");
            }
        }
        if path.contains('{') {
            assert!(responses.contains_key("404"), "{name} lacks 404");
        }
        let writes = ["post", "put", "patch", "delete"].contains(&method.as_str());
        if writes && path.starts_with("/api/v1/") {
            // Every write with a body takes a key, but the manage link's own change and
            // check-in scans (applied once by their nonce).
            let keyed_write = operation.get("requestBody").is_some()
                && !path.starts_with("/api/v1/manage/")
                && !path.contains("/checkins");
            let takes_key = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
            if keyed_write {
                assert!(takes_key, "{name} does not document Idempotency-Key");
            }
        }
    }
    let register = &doc["paths"]["/api/v1/events/{event}/registrations"]["post"];
    assert!(
        register["responses"]["429"]["headers"]["Retry-After"].is_object(),
        "{register}"
    );
    assert!(
        register["responses"]["201"]["headers"]["Location"].is_object(),
        "{register}"
    );
    assert!(
        register["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Idempotency-Key"),
        "{register}"
    );
    assert!(doc["paths"]["/api/v1/events/{event}"]["get"]["responses"]
        .get("429")
        .is_none());
}

#[test]
fn the_docs_page_lists_every_operation_offline() {
    let app = TestApp::spawn(Backend::Sqlite);
    let doc = document(&app);
    let reply = app.get("/api/v1/docs");
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type.starts_with("text/html"),
        "{}",
        reply.content_type
    );
    let page = reply.body;
    for (method, path, _) in operations(&doc) {
        let path = path.replace('&', "&amp;");
        assert!(
            page.contains(&format!(
                "<span class=\"method\">{method}</span> <span class=\"path\">{path}</span>"
            )),
            "{method} {path} missing from the page"
        );
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            page.contains(&format!("id=\"schema-{name}\"")),
            "schema {name} missing"
        );
    }
    assert!(!page.contains("<script"), "the page runs no script");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page fetches nothing"
    );
}

/// Every property a request body documents is one the server reads: a body with all of
/// them, each of a wrong kind, is refused for their values, never as unknown fields.
#[test]
fn every_documented_body_field_is_known_to_the_server() {
    let app = TestApp::spawn(Backend::Sqlite);
    let doc = document(&app);
    let registered = app.register(DEMO_EVENT, &participant(1, &["aperam-chatelet"]));
    assert_eq!(registered.status, 201, "{}", registered.body);
    let registered = registered.json();
    let manage = registered["manage_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let id = registered["id"].as_str().unwrap().to_owned();
    let mut checked = 0;
    for (method, path, operation) in operations(&doc) {
        let Some(schema) = operation["requestBody"]["content"]["application/json"]["schema"].as_object()
        else {
            continue;
        };
        let schema = resolve(&doc, &Value::Object(schema.clone()));
        // The object's own schema, or the part of an `allOf` that lists the fields.
        let schema = schema["allOf"]
            .as_array()
            .and_then(|parts| parts.iter().find(|p| p["additionalProperties"] == false))
            .cloned()
            .unwrap_or(schema);
        let properties = schema["properties"]
            .as_object()
            .expect("a body schema has properties");
        assert_eq!(
            schema["additionalProperties"], false,
            "{method} {path}: unknown fields are refused"
        );
        let body: serde_json::Map<String, Value> = properties
            .keys()
            .map(|k| (k.clone(), json!({"wrong": "kind"})))
            .collect();
        let url = path
            .replace("{event}", DEMO_EVENT)
            .replace("{visit}", "aperam-chatelet")
            .replace("{id}", &id)
            .replace("{token}", &manage);
        let request = ureq::request(&method.to_ascii_uppercase(), &app.url(&url));
        let reply = send(
            request,
            "application/json",
            &Value::Object(body).to_string(),
            Some(&app.admin),
        );
        let problem = reply.problem(422, "validation-failed");
        for (field, messages) in problem["errors"].as_object().unwrap() {
            // A nested object's field `wrong` is this probe's own key inside it.
            let (top, inner) = field.split_once('.').unwrap_or((field, ""));
            assert!(
                inner == "wrong" || !messages.to_string().contains("not a known field"),
                "{method} {path}: documented field {field} is unknown to the server: {problem}"
            );
            assert!(
                properties.contains_key(top),
                "{method} {path}: {field} is not documented"
            );
        }
        checked += 1;
    }
    assert!(checked >= 7, "{checked} bodies checked");
}

/// Calls a handful of operations, each answer checked against the schema the document
/// gives for its status and content type.
fn real_answers_conform_to_their_documented_schemas(backend: Backend) {
    let app = TestApp::spawn(backend);
    let doc = document(&app);
    let check = |method: &str, route: &str, reply: &Reply| {
        let operation = &doc["paths"][route][method];
        assert!(operation.is_object(), "{method} {route} is not documented");
        let response = &operation["responses"][reply.status.to_string()];
        assert!(
            response.is_object(),
            "{method} {route}: status {} is not documented: {}",
            reply.status,
            reply.body
        );
        let media = reply.content_type.split(';').next().unwrap().trim();
        let schema = response["content"]
            .as_object()
            .and_then(|content| {
                content
                    .iter()
                    .find(|(m, _)| m.split(';').next().unwrap().trim() == media)
            })
            .map(|(_, c)| c["schema"].clone())
            .unwrap_or_else(|| panic!("{method} {route} {}: {media} is not documented", reply.status));
        if let Err(error) = validate(&doc, &schema, &reply.json(), "$") {
            panic!("{method} {route} {}: {error}\n{}", reply.status, reply.body);
        }
    };
    let admin = Some(app.admin.as_str());
    let get = |path: &str, token: Option<&str>| {
        let mut request = ureq::get(&app.url(path));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        call(request, None)
    };

    check("get", "/healthz", &app.get("/healthz"));
    let ready = app.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    check("get", "/readyz", &ready);
    check(
        "get",
        "/api/v1/events/{event}",
        &app.get(&format!("/api/v1/events/{DEMO_EVENT}")),
    );
    check(
        "get",
        "/api/v1/events/{event}",
        &app.get("/api/v1/events/no-such-event"),
    );

    let route = "/api/v1/events/{event}/registrations";
    let registered = app.register(
        DEMO_EVENT,
        &participant(1, &["aperam-chatelet", "biopark-charleroi"]),
    );
    assert_eq!(registered.status, 201, "{}", registered.body);
    check("post", route, &registered);
    let without_visit = app.register(DEMO_EVENT, &participant(2, &[]));
    assert_eq!(without_visit.status, 201, "{}", without_visit.body);
    assert!(without_visit.json()["site_visit"].is_null());
    check("post", route, &without_visit);
    let invalid = app.register(DEMO_EVENT, &json!({"email": "nope"}));
    invalid.problem(422, "validation-failed");
    check("post", route, &invalid);
    // An address already registered is answered like a new registration (invariant 13).
    let duplicate = app.register(DEMO_EVENT, &participant(1, &[]));
    assert_eq!(duplicate.status, 201, "{}", duplicate.body);
    check("post", route, &duplicate);
    let unsupported = send(
        ureq::post(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations"))),
        "text/plain",
        "hi",
        None,
    );
    unsupported.problem(415, "unsupported-media-type");
    check("post", route, &unsupported);

    let manage = registered.location.clone().expect("Location");
    check("get", "/api/v1/manage/{token}", &app.get(&manage));
    check(
        "get",
        "/api/v1/manage/{token}",
        &app.get("/api/v1/manage/not-a-token"),
    );

    let list = format!("/api/v1/events/{DEMO_EVENT}/registrations");
    check("get", route, &get(&list, admin));
    check("get", route, &get(&format!("{list}?status=bogus"), admin));
    check("get", route, &get(&list, None));
    check("get", route, &get(&list, Some("rpa_not-a-token")));
    let roster = format!("/api/v1/events/{DEMO_EVENT}/site-visits/aperam-chatelet/roster");
    check(
        "get",
        "/api/v1/events/{event}/site-visits/{visit}/roster",
        &get(&roster, admin),
    );
    check(
        "get",
        "/api/v1/events/{event}/audit",
        &get(&format!("/api/v1/events/{DEMO_EVENT}/audit"), admin),
    );
    check("get", "/api/v1/emails", &get("/api/v1/emails", admin));
    for by in ["country", "site_visit"] {
        let counts = format!("/api/v1/events/{DEMO_EVENT}/exports/counts?by={by}&format=json");
        check(
            "get",
            "/api/v1/events/{event}/exports/counts",
            &get(&counts, admin),
        );
    }
    let allocation = app.post_json(
        &format!("/api/v1/events/{DEMO_EVENT}/allocation"),
        &json!({}),
        admin,
    );
    check("post", "/api/v1/events/{event}/allocation", &allocation);
    let created = app.post_json(
        "/api/v1/events",
        &json!({"slug": "openapi-2030", "name": "OpenAPI", "timezone": "Europe/Brussels",
                "starts_on": "2030-06-01", "ends_on": "2030-06-02"}),
        admin,
    );
    assert_eq!(created.status, 201, "{}", created.body);
    check("post", "/api/v1/events", &created);
    check("get", "/api/v1/tokens", &get("/api/v1/tokens", admin));
    let token = app.post_json(
        "/api/v1/tokens",
        &json!({"name": "OpenAPI", "role": "organiser", "expires_in_days": 7}),
        admin,
    );
    assert_eq!(token.status, 201, "{}", token.body);
    check("post", "/api/v1/tokens", &token);
    let revoke = |id: &str| {
        let request = ureq::delete(&app.url(&format!("/api/v1/tokens/{id}")));
        call(
            request.set("Authorization", &format!("Bearer {}", app.admin)),
            None,
        )
    };
    let revoked = revoke(token.json()["id"].as_str().unwrap());
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    check("delete", "/api/v1/tokens/{id}", &revoked);
    check("delete", "/api/v1/tokens/{id}", &revoke("no-such-token"));
    let forbidden = app.post_json("/api/v1/events", &json!({}), Some(&app.organiser));
    forbidden.problem(403, "forbidden");
    check("post", "/api/v1/events", &forbidden);

    // A webhook endpoint at a public address literal (no name to resolve), for a type
    // nothing here makes: no delivery is attempted.
    let hook = app.post_json(
        "/api/v1/webhooks",
        &json!({"url": "https://192.0.43.10/hook", "events": ["offer.made"], "event": DEMO_EVENT}),
        admin,
    );
    assert_eq!(hook.status, 201, "{}", hook.body);
    check("post", "/api/v1/webhooks", &hook);
    let refused = app.post_json(
        "/api/v1/webhooks",
        &json!({"url": "http://127.0.0.1/", "events": ["*"]}),
        admin,
    );
    refused.problem(422, "validation-failed");
    check("post", "/api/v1/webhooks", &refused);
    let id = hook.json()["id"].as_str().unwrap().to_owned();
    check("get", "/api/v1/webhooks", &get("/api/v1/webhooks", admin));
    check(
        "get",
        "/api/v1/webhooks/{id}",
        &get(&format!("/api/v1/webhooks/{id}"), admin),
    );
    check(
        "get",
        "/api/v1/webhooks/{id}",
        &get("/api/v1/webhooks/nope", admin),
    );
    let deliveries = format!("/api/v1/webhooks/{id}/deliveries");
    check(
        "get",
        "/api/v1/webhooks/{id}/deliveries",
        &get(&deliveries, admin),
    );
    check(
        "get",
        "/api/v1/webhooks/{id}/deliveries",
        &get(&format!("{deliveries}?status=lost"), admin),
    );
    let rotated = app.post_json(&format!("/api/v1/webhooks/{id}/rotate"), &json!({}), admin);
    check("post", "/api/v1/webhooks/{id}/rotate", &rotated);
    let redeliver = call(
        ureq::post(&app.url(&format!("{deliveries}/nope/redeliver")))
            .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    check(
        "post",
        "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver",
        &redeliver,
    );
    let deleted = call(
        ureq::delete(&app.url(&format!("/api/v1/webhooks/{id}")))
            .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(doc["paths"]["/api/v1/webhooks/{id}"]["delete"]["responses"]["204"].is_object());
    check(
        "get",
        "/api/v1/webhooks/{id}",
        &get(&format!("/api/v1/webhooks/{id}"), admin),
    );
}

/// `schema` with a top-level `$ref` followed.
fn resolve(doc: &Value, schema: &Value) -> Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .expect("a local reference");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema.clone(),
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// The subset of JSON Schema the document uses: `$ref`, `type` (one or a list),
/// `enum`, `properties`, `required`, `additionalProperties`, `items`, `allOf`, `oneOf`,
/// `anyOf`, `minimum`, `maximum`, and the `date`/`date-time` formats.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            validate(doc, part, value, at)?;
        }
    }
    for combinator in ["oneOf", "anyOf"] {
        if let Some(parts) = schema[combinator].as_array() {
            let matching = parts
                .iter()
                .filter(|p| validate(doc, p, value, at).is_ok())
                .count();
            let ok = if combinator == "oneOf" {
                matching == 1
            } else {
                matching >= 1
            };
            if !ok {
                return Err(format!("{at}: {matching} branches of {combinator} match {value}"));
            }
        }
    }
    match &schema["type"] {
        Value::String(kind) if !type_matches(kind, value) => {
            return Err(format!("{at}: {value} is not {kind}"))
        }
        Value::Array(kinds)
            if !kinds
                .iter()
                .any(|k| type_matches(k.as_str().unwrap_or(""), value)) =>
        {
            return Err(format!("{at}: {value} is none of {kinds:?}"))
        }
        _ => {}
    }
    if let Some(values) = schema["enum"].as_array() {
        if !values.contains(value) {
            return Err(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    if let (Some(n), Some(min)) = (value.as_f64(), schema["minimum"].as_f64()) {
        if n < min {
            return Err(format!("{at}: {n} < {min}"));
        }
    }
    if let (Some(n), Some(max)) = (value.as_f64(), schema["maximum"].as_f64()) {
        if n > max {
            return Err(format!("{at}: {n} > {max}"));
        }
    }
    if let Some(text) = value.as_str() {
        let valid = match schema["format"].as_str() {
            Some("date-time") => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            Some("date") => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
            _ => true,
        };
        if !valid {
            return Err(format!("{at}: {text} is not a {}", schema["format"]));
        }
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !object.contains_key(name) {
                return Err(format!("{at}: required {name} is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, item) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => validate(doc, property, item, &format!("{at}.{name}"))?,
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => return Err(format!("{at}: {name} is not documented")),
                    extra @ Value::Object(_) => validate(doc, extra, item, &format!("{at}.{name}"))?,
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (index, item) in items.iter().enumerate() {
            validate(doc, schema, item, &format!("{at}[{index}]"))?;
        }
    }
    Ok(())
}

#[test]
fn the_validator_catches_what_it_should() {
    let doc = json!({"components": {"schemas": {
        "Thing": {"type": "object", "required": ["id"], "additionalProperties": false,
                  "properties": {"id": {"type": "string"}, "n": {"type": ["integer", "null"], "minimum": 0},
                                 "at": {"type": "string", "format": "date-time"}}}
    }}});
    let thing = json!({"$ref": "#/components/schemas/Thing"});
    assert!(validate(&doc, &thing, &json!({"id": "a", "n": null}), "$").is_ok());
    assert!(validate(
        &doc,
        &thing,
        &json!({"id": "a", "at": "2024-12-05T13:30:00+01:00"}),
        "$"
    )
    .is_ok());
    assert!(validate(&doc, &thing, &json!({"n": 1}), "$").is_err());
    assert!(validate(&doc, &thing, &json!({"id": 1}), "$").is_err());
    assert!(validate(&doc, &thing, &json!({"id": "a", "n": -1}), "$").is_err());
    assert!(validate(&doc, &thing, &json!({"id": "a", "extra": 1}), "$").is_err());
    assert!(validate(&doc, &thing, &json!({"id": "a", "at": "yesterday"}), "$").is_err());
}

fn ready_when_migrated(backend: Backend) {
    let app = TestApp::spawn(backend);
    let reply = app.get("/readyz");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["status"], "ready");
}

#[test]
fn other_methods_on_a_known_path_are_405_with_allow() {
    let app = TestApp::spawn(Backend::Sqlite);
    for (method, path, allow) in [
        ("TRACE", "/healthz".to_owned(), "GET"),
        ("DELETE", "/api/v1/events".to_owned(), "POST"),
        (
            "PUT",
            "/api/v1/manage/some-token".to_owned(),
            "GET, PATCH, DELETE",
        ),
        ("POST", "/api/v1/openapi.json".to_owned(), "GET"),
        (
            "PATCH",
            format!("/api/v1/events/{DEMO_EVENT}/registrations"),
            "POST, GET",
        ),
    ] {
        let response = match ureq::request(method, &app.url(&path)).call() {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(other) => panic!("{method} {path}: {other}"),
        };
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(response.content_type(), "application/problem+json");
        let body: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
        assert_eq!(body["type"], "method-not-allowed", "{body}");
        assert_eq!(body["status"], 405, "{body}");
    }
    app.get("/api/v1/no-such-thing").problem(404, "not-found");
    app.get("/nowhere").problem(404, "not-found");
}
