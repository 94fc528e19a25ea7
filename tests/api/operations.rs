//! Issue 8 (part): request ids and Prometheus metrics.

use serde_json::json;

use crate::helpers::{call, concurrently, participant, Backend, Job, Reply, TestApp, DEMO_EVENT};

fn post_with_key(
    agent: &ureq::Agent,
    url: &str,
    key: &str,
    body: &serde_json::Value,
    token: Option<&str>,
) -> Reply {
    let mut request = agent.post(url).set("Idempotency-Key", key);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    call(request, Some(("application/json", &body.to_string())))
}

crate::on_both_backends!(
    metrics_count_requests_seats_and_the_outbox,
    every_answer_carries_a_request_id,
    a_retried_registration_with_its_key_writes_once,
    organiser_writes_are_idempotent_too,
    public_writes_are_rate_limited_per_client,
);

fn metrics_count_requests_seats_and_the_outbox(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.mail.worker = false);
    for n in 0..3 {
        assert_eq!(
            app.register(DEMO_EVENT, &participant(n, &["aperam-chatelet"]))
                .status,
            201
        );
    }
    app.get("/api/v1/events/no-such-event");
    let reply = call(ureq::get(&app.url("/metrics")), None);
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type.starts_with("text/plain"),
        "{}",
        reply.content_type
    );
    let text = reply.body;
    assert!(
        text.contains(
            r#"rallypoint_http_requests_total{method="POST",route="/api/v1/events/{event}/registrations",status="201"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/events/{event}",status="404"} 1"#),
        "{text}"
    );
    assert!(text.contains("rallypoint_registrations_total 3"), "{text}");
    assert!(
        text.contains(
            r#"rallypoint_site_visit_seats_taken{event="cmr-charleroi-2024",site_visit="aperam-chatelet"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"rallypoint_outbox_emails{status="pending"} 3"#),
        "{text}"
    );
    assert!(
        text.contains("rallypoint_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        !text.contains("/manage/"),
        "no raw paths, so no manage tokens, in labels"
    );
}

fn every_answer_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend);
    let given = call(
        ureq::get(&app.url("/healthz")).set("X-Request-Id", "trace-42"),
        None,
    );
    assert_eq!(given.request_id.as_deref(), Some("trace-42"));
    let made = call(ureq::get(&app.url("/api/v1/events/nope")), None);
    let id = made.request_id.expect("an id is made when none is given");
    assert_eq!(id.len(), 36);
    let unsafe_id = call(
        ureq::get(&app.url("/healthz")).set("X-Request-Id", "bad id!"),
        None,
    );
    assert_ne!(unsafe_id.request_id.as_deref(), Some("bad id!"));
}

fn a_retried_registration_with_its_key_writes_once(backend: Backend) {
    let app = TestApp::spawn(backend);
    let url = app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations"));
    let body = participant(1, &["aperam-chatelet"]);
    let agent = crate::helpers::agent();
    let first = post_with_key(&agent, &url, "wifi-retry-1", &body, None);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = post_with_key(&agent, &url, "wifi-retry-1", &body, None);
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.json()["manage_url"], first.json()["manage_url"]);
    assert_eq!(again.location, first.location);
    let mut other = body.clone();
    other["first_name"] = json!("Someone else");
    post_with_key(&agent, &url, "wifi-retry-1", &other, None).problem(422, "validation-failed");
    post_with_key(&agent, &url, &"k".repeat(300), &other, None).problem(422, "validation-failed");
    // Ten copies of one request racing: one registration, one answer for all.
    let jobs: Vec<Job<Reply>> = (0..10)
        .map(|_| {
            let (url, body) = (url.clone(), participant(2, &["aperam-chatelet"]));
            Box::new(move |agent: &ureq::Agent| post_with_key(agent, &url, "race-2", &body, None))
                as Job<Reply>
        })
        .collect();
    let replies = concurrently(10, jobs);
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        replies.iter().all(|r| r.status == 201),
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_eq!(ids.len(), 1);
    assert_eq!(
        app.event(DEMO_EVENT)["site_visits"][0]["assigned"],
        2,
        "two people, two seats"
    );
}

fn organiser_writes_are_idempotent_too(backend: Backend) {
    let app = TestApp::spawn(backend);
    let person = app
        .register(DEMO_EVENT, &participant(1, &["aperam-chatelet"]))
        .json();
    let path = format!(
        "/api/v1/events/{DEMO_EVENT}/registrations/{}/site-visit",
        person["id"].as_str().unwrap()
    );
    let agent = crate::helpers::agent();
    let request = |key: &str, visit: &str| {
        call(
            agent
                .put(&app.url(&path))
                .set("Authorization", &format!("Bearer {}", app.organiser))
                .set("Idempotency-Key", key),
            Some(("application/json", &json!({"site_visit": visit}).to_string())),
        )
    };
    let first = request("move-1", "biopark-charleroi");
    assert_eq!(first.status, 200, "{}", first.body);
    let again = request("move-1", "biopark-charleroi");
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), first.json());
    request("move-1", "aperam-chatelet").problem(422, "validation-failed");
    let audit = call(
        agent
            .get(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/audit")))
            .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    )
    .json();
    assert_eq!(
        audit["entries"].as_array().unwrap().len(),
        1,
        "the retry wrote nothing"
    );
}

fn public_writes_are_rate_limited_per_client(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.limits.public_writes_per_minute = 60;
        settings.limits.public_writes_burst = 3;
    });
    for n in 0..3 {
        assert_eq!(app.register(DEMO_EVENT, &participant(n, &[])).status, 201);
    }
    let limited = app.register(DEMO_EVENT, &participant(3, &[]));
    limited.problem(429, "rate-limited");
    assert_eq!(limited.retry_after.as_deref(), Some("1"));
    assert_eq!(
        app.get(&format!("/api/v1/events/{DEMO_EVENT}")).status,
        200,
        "reads are not limited"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        app.register(DEMO_EVENT, &participant(3, &[])).status,
        201,
        "the bucket refills"
    );
}
