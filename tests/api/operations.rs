//! Issue 8 (part): request ids and Prometheus metrics.

use crate::helpers::{call, participant, Backend, TestApp, DEMO_EVENT};

crate::on_both_backends!(
    metrics_count_requests_seats_and_the_outbox,
    every_answer_carries_a_request_id
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
