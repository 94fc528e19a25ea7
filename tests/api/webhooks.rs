//! Issue 19, part 4: signed webhooks. Each test starts a real receiver on a loopback port
//! (`receiver`), registers it as an endpoint through the admin API, makes changes through
//! the API and reads what the receiver got: signatures that verify with the documented
//! recipe (old and new secret during a rotation), every event once and in order per
//! registration after the receiver was down, a 410 that disables, redelivery, private
//! addresses refused, erasure, and registrations that never wait for a receiver.

use data_encoding::BASE64;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use rallypoint::db::schema::webhook_deliveries;
use rallypoint::db::DbError;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{call, send, Backend, Reply, Server, TestApp, DEMO_EVENT};
use crate::receiver::{wait_until, Mode, Received, Receiver};

crate::on_both_backends!(
    deliveries_are_signed_as_documented_and_rotation_signs_with_both_secrets,
    a_receiver_down_for_a_while_then_gets_every_event_once_in_order,
    a_410_answer_disables_the_endpoint,
    a_failed_or_delivered_delivery_can_be_redelivered,
    private_addresses_and_other_schemes_are_refused_unless_allowed,
    erasure_removes_the_person_from_pending_deliveries_and_the_log,
    registrations_never_wait_for_a_hanging_receiver,
    check_in_scans_and_group_messages_are_told_with_ids_only,
    a_disabled_endpoint_is_enabled_again_and_its_failures_redelivered,
    settled_deliveries_leave_the_log_after_the_retention_days,
);

/// The documented recipe (docs/webhooks.md, "Verifying a delivery"), step by step: the
/// key is the base64 after `whsec_`; the signed content is `{webhook-id}.{webhook-timestamp}.{body}`;
/// the signature is the base64 of its HMAC-SHA256; the delivery is genuine when one of the
/// space-separated `v1,<signature>` of `webhook-signature` is that signature.
fn verifies(secret: &str, request: &Received) -> bool {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret").as_bytes())
        .expect("the secret is base64");
    let signed = format!(
        "{}.{}.{}",
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.body
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = BASE64.encode(&mac.finalize().into_bytes());
    request
        .header("webhook-signature")
        .split(' ')
        .any(|signature| signature.strip_prefix("v1,") == Some(expected.as_str()))
}

/// A test app that may send webhooks to loopback, with quick polls and retries.
fn app_for_hooks(backend: Backend, adjust: impl FnOnce(&mut rallypoint::settings::Settings)) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        let hooks = &mut settings.webhooks;
        hooks.allow_private_addresses = true;
        hooks.poll_interval_ms = 20;
        hooks.retry_base_ms = 20;
        hooks.retry_max_ms = 100;
        hooks.max_attempts = 1000;
        hooks.timeout_ms = 5000;
        hooks.lease_seconds = 30;
        adjust(settings);
    })
}

fn admin_request(app: &TestApp, method: &str, path: &str) -> Reply {
    call(
        ureq::request(method, &app.url(path)).set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    )
}

/// Registers an endpoint: (id, secret).
fn create_endpoint(app: &TestApp, body: Value) -> (String, String) {
    let reply = app.post_json("/api/v1/webhooks", &body, Some(&app.admin));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = reply.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.location.as_deref(),
        Some(format!("/api/v1/webhooks/{id}").as_str())
    );
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (id, secret)
}

/// The endpoint's whole delivery log, oldest first.
fn log(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let reply = admin_request(
        app,
        "GET",
        &format!("/api/v1/webhooks/{endpoint}/deliveries?limit=500"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut deliveries = reply.json()["deliveries"].as_array().unwrap().clone();
    deliveries.reverse();
    deliveries
}

fn wait_for_log(app: &TestApp, endpoint: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_until(what, || done(&log(app, endpoint)));
    log(app, endpoint)
}

fn all_delivered(count: usize) -> impl Fn(&[Value]) -> bool {
    move |log: &[Value]| log.len() == count && log.iter().all(|d| d["status"] == "delivered")
}

fn register(app: &TestApp, event: &str, n: usize, preferences: &[&str]) -> (String, String) {
    let mut body = crate::helpers::participant(n, preferences);
    body["email"] = json!(format!("hooked{n}@example.org"));
    let reply = app.register(event, &body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    let answer = reply.json();
    let token = answer["manage_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    (answer["id"].as_str().unwrap().to_owned(), token)
}

fn types_of(requests: &[Received]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect()
}

fn deliveries_are_signed_as_documented_and_rotation_signs_with_both_secrets(backend: Backend) {
    let app = app_for_hooks(backend, |_| {});
    app.create_event("sig", json!({}), &[("a", 5)]);
    let all = Receiver::start(Mode::Status(204));
    let named = Receiver::start(Mode::Status(200));
    let (all_id, all_secret) = create_endpoint(&app, json!({"url": all.url("/hooks?k=1"), "events": ["*"]}));
    let (_, named_secret) = create_endpoint(
        &app,
        json!({"url": named.url("/named"), "events": ["registration.created"], "event": "sig",
               "personal_data": true}),
    );
    let listed = admin_request(&app, "GET", "/api/v1/webhooks");
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert!(
        !listed.body.contains("whsec_") && !listed.body.contains("secret\""),
        "{}",
        listed.body
    );
    assert_eq!(listed.json()["webhooks"].as_array().unwrap().len(), 2);

    let (id, _) = register(&app, "sig", 1, &["a"]);
    let received = all.wait_for(2);
    assert_eq!(types_of(&received), ["registration.created", "seat.assigned"]);
    for request in &received {
        assert_eq!(request.path, "/hooks?k=1");
        assert!(verifies(&all_secret, request), "{request:?}");
        assert!(
            !verifies(&named_secret, request),
            "another endpoint's secret verifies"
        );
        assert_eq!(request.header("content-type"), "application/json");
        let body = request.json();
        assert_eq!(body["id"], request.header("webhook-id"), "{body}");
        let sent_at: i64 = request.header("webhook-timestamp").parse().unwrap();
        assert!(
            (chrono::Utc::now().timestamp() - sent_at).abs() < 300,
            "{sent_at}"
        );
        assert_eq!(body["event"], "sig");
        assert_eq!(body["data"]["registration"]["id"], id.as_str(), "{body}");
        // Without `personal_data`: ids, statuses and seats, no one's name or address.
        for personal in ["hooked1", "Participant1", "Test Org", "\"BE\"", "person"] {
            assert!(!request.body.contains(personal), "{personal} in {}", request.body);
        }
        // A body changed in transit no longer verifies.
        let mut forged = request.clone();
        forged.body = forged
            .body
            .replace("seat.assigned", "seat.lost")
            .replace("registration.created", "registration.cancelled");
        assert!(!verifies(&all_secret, &forged));
    }
    assert_eq!(received[1].json()["data"]["site_visit"], "a");
    let named_received = named.wait_for(1);
    assert!(verifies(&named_secret, &named_received[0]));
    let person = &named_received[0].json()["data"]["registration"]["person"];
    assert_eq!(person["email"], "hooked1@example.org", "{person}");
    assert_eq!(person["first_name"], "Participant1");
    assert!(person.get("dietary").is_none(), "{person}");

    // A registration in another event reaches the endpoint of every event only.
    register(&app, DEMO_EVENT, 2, &["aperam-chatelet"]);
    all.wait_for(4);

    // Rotation: the new secret is shown once; both sign until the old one expires.
    let rotated = app.post_json(
        &format!("/api/v1/webhooks/{all_id}/rotate"),
        &json!({}),
        Some(&app.admin),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let rotated = rotated.json();
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, all_secret);
    assert!(rotated["previous_secret_expires_at"].is_string(), "{rotated}");
    let shown = admin_request(&app, "GET", &format!("/api/v1/webhooks/{all_id}"));
    assert!(!shown.body.contains("whsec_"), "{}", shown.body);
    register(&app, "sig", 3, &["a"]);
    let after = all.wait_for(6);
    for request in &after[4..] {
        assert_eq!(
            request.header("webhook-signature").split(' ').count(),
            2,
            "{request:?}"
        );
        assert!(verifies(&new_secret, request), "the new secret");
        assert!(
            verifies(&all_secret, request),
            "the old secret, during the overlap"
        );
    }
    assert_eq!(log(&app, &all_id).len(), 6);
}

fn a_receiver_down_for_a_while_then_gets_every_event_once_in_order(backend: Backend) {
    let app = app_for_hooks(backend, |_| {});
    app.create_event("down", json!({}), &[("a", 2)]);
    let mut receiver = Receiver::start(Mode::Status(200));
    receiver.down();
    let (endpoint, _) = create_endpoint(&app, json!({"url": receiver.url("/"), "events": ["*"]}));
    let people: Vec<(String, String)> = (1..=4).map(|n| register(&app, "down", n, &["a"])).collect();
    // The first cancels: the third is seated. The second ranks nothing any more: the
    // fourth is seated.
    let cancelled = call(
        ureq::delete(&app.url(&format!("/api/v1/manage/{}", people[0].1))),
        None,
    );
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let changed = send(
        ureq::patch(&app.url(&format!("/api/v1/manage/{}", people[1].1))),
        "application/json",
        &json!({"preferences": []}).to_string(),
        None,
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    // The receiver is down: attempts fail and are retried.
    wait_for_log(&app, &endpoint, "failed attempts", |log| {
        log.iter()
            .any(|d| d["attempts"].as_i64() >= Some(3) && d["last_error"].is_string())
    });
    assert!(receiver.received().is_empty());
    receiver.up();
    let delivered = wait_for_log(&app, &endpoint, "every delivery", all_delivered(12));
    let received = receiver.received();
    assert_eq!(
        received.len(),
        12,
        "each delivery once: {:?}",
        types_of(&received)
    );
    let mut ids: Vec<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    let expected: [(usize, &[&str]); 4] = [
        (
            0,
            &[
                "registration.created",
                "seat.assigned",
                "registration.cancelled",
                "seat.lost",
            ],
        ),
        (
            1,
            &[
                "registration.created",
                "seat.assigned",
                "registration.changed",
                "seat.lost",
            ],
        ),
        (2, &["registration.created", "seat.assigned"]),
        (3, &["registration.created", "seat.assigned"]),
    ];
    for (person, types) in expected {
        let id = people[person].0.as_str();
        let theirs: Vec<Received> = received
            .iter()
            .filter(|r| r.json()["data"]["registration"]["id"] == id)
            .cloned()
            .collect();
        assert_eq!(types_of(&theirs), types, "person {person}, in the order received");
        let logged: Vec<&Value> = delivered.iter().filter(|d| d["registration_id"] == id).collect();
        let logged_ids: Vec<&str> = logged.iter().map(|d| d["id"].as_str().unwrap()).collect();
        let received_ids: Vec<&str> = theirs.iter().map(|r| r.header("webhook-id")).collect();
        assert_eq!(
            received_ids, logged_ids,
            "person {person}: received in commit order"
        );
    }
    let third = &received
        .iter()
        .find(|r| {
            r.json()["type"] == "seat.assigned"
                && r.json()["data"]["registration"]["id"] == people[2].0.as_str()
        })
        .unwrap()
        .json();
    assert_eq!(third["data"]["reason"], "promoted", "{third}");
    assert!(delivered.iter().any(|d| d["attempts"].as_i64() >= Some(3)));
}

fn a_410_answer_disables_the_endpoint(backend: Backend) {
    let app = app_for_hooks(backend, |_| {});
    let receiver = Receiver::start(Mode::Status(410));
    let (endpoint, _) = create_endpoint(
        &app,
        json!({"url": receiver.url("/gone"), "events": ["registration.created", "registration.cancelled"]}),
    );
    register(&app, DEMO_EVENT, 1, &["aperam-chatelet"]);
    wait_until("the endpoint disabled", || {
        admin_request(&app, "GET", &format!("/api/v1/webhooks/{endpoint}")).json()["status"] == "disabled"
    });
    let shown = admin_request(&app, "GET", &format!("/api/v1/webhooks/{endpoint}")).json();
    assert!(
        shown["disabled_reason"].as_str().unwrap().contains("410"),
        "{shown}"
    );
    let logged = log(&app, &endpoint);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["status"], "failed");
    assert_eq!(logged[0]["response_status"], 410);
    // Nothing more is recorded or sent for it.
    receiver.set_mode(Mode::Status(200));
    register(&app, DEMO_EVENT, 2, &["aperam-chatelet"]);
    let reply = app.register(DEMO_EVENT, &crate::helpers::participant(3, &[]));
    assert_eq!(reply.status, 201);
    assert_eq!(log(&app, &endpoint).len(), 1);
    assert_eq!(receiver.received().len(), 1);
    let again = admin_request(
        &app,
        "POST",
        &format!(
            "/api/v1/webhooks/{endpoint}/deliveries/{}/redeliver",
            logged[0]["id"].as_str().unwrap()
        ),
    );
    let problem = again.problem(422, "validation-failed");
    assert!(
        problem["errors"]["delivery"][0]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{problem}"
    );
}

fn a_failed_or_delivered_delivery_can_be_redelivered(backend: Backend) {
    let app = app_for_hooks(backend, |settings| settings.webhooks.max_attempts = 2);
    let receiver = Receiver::start(Mode::Status(500));
    let (endpoint, secret) = create_endpoint(
        &app,
        json!({"url": receiver.url("/"), "events": ["registration.created"]}),
    );
    register(&app, DEMO_EVENT, 1, &["aperam-chatelet"]);
    let failed = wait_for_log(&app, &endpoint, "a failed delivery", |log| {
        log.len() == 1 && log[0]["status"] == "failed"
    });
    assert_eq!(failed[0]["attempts"], 2);
    assert_eq!(failed[0]["response_status"], 500);
    assert!(
        failed[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{failed:?}"
    );
    assert_eq!(receiver.received().len(), 2);
    let delivery = failed[0]["id"].as_str().unwrap().to_owned();
    let redeliver = format!("/api/v1/webhooks/{endpoint}/deliveries/{delivery}/redeliver");

    receiver.set_mode(Mode::Status(200));
    let queued = admin_request(&app, "POST", &redeliver);
    assert_eq!(queued.status, 200, "{}", queued.body);
    assert_eq!(queued.json()["attempts"], 0);
    wait_for_log(&app, &endpoint, "the redelivery", all_delivered(1));
    // And a delivered one, again: same id and body, a fresh signature.
    let queued = admin_request(&app, "POST", &redeliver);
    assert_eq!(queued.status, 200, "{}", queued.body);
    let received = receiver.wait_for(4);
    assert_eq!(received.len(), 4);
    assert!(received
        .iter()
        .all(|r| r.header("webhook-id") == delivery && verifies(&secret, r)));
    assert!(received.iter().all(|r| r.body == received[0].body));
    wait_for_log(&app, &endpoint, "the second redelivery", all_delivered(1));
    assert_eq!(receiver.received().len(), 4);

    let unknown = admin_request(
        &app,
        "POST",
        &format!("/api/v1/webhooks/{endpoint}/deliveries/nope/redeliver"),
    );
    unknown.problem(404, "not-found");
    let unknown = admin_request(
        &app,
        "POST",
        &format!("/api/v1/webhooks/nope/deliveries/{delivery}/redeliver"),
    );
    unknown.problem(404, "not-found");
    let organiser = call(
        ureq::post(&app.url(&redeliver)).set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    );
    organiser.problem(403, "forbidden");
}

fn private_addresses_and_other_schemes_are_refused_unless_allowed(backend: Backend) {
    let app = TestApp::spawn(backend);
    let receiver = Receiver::start(Mode::Status(200));
    for url in [
        receiver.url("/"),
        "http://localhost/hook".to_owned(),
        "http://[::1]:8080/".to_owned(),
        "https://10.1.2.3/".to_owned(),
        "https://192.168.0.10/".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://100.64.0.1/".to_owned(),
        "https://[fd00::1]/".to_owned(),
        "http://0.0.0.0/".to_owned(),
        "http://[::ffff:127.0.0.1]/".to_owned(),
    ] {
        let reply = app.post_json(
            "/api/v1/webhooks",
            &json!({"url": url, "events": ["*"]}),
            Some(&app.admin),
        );
        let problem = reply.problem(422, "validation-failed");
        let message = problem["errors"]["url"][0].as_str().unwrap();
        assert!(message.contains("not a public address"), "{url}: {problem}");
    }
    for url in [
        "ftp://example.org/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://example.org",
    ] {
        let reply = app.post_json(
            "/api/v1/webhooks",
            &json!({"url": url, "events": ["*"]}),
            Some(&app.admin),
        );
        let problem = reply.problem(422, "validation-failed");
        assert!(
            problem["errors"]["url"][0].as_str().unwrap().contains("http"),
            "{url}: {problem}"
        );
    }
    let reply = app.post_json(
        "/api/v1/webhooks",
        &json!({"url": "ftp://x", "events": ["seat.taken"], "event": "nowhere", "extra": 1}),
        Some(&app.admin),
    );
    let problem = reply.problem(422, "validation-failed");
    let fields: Vec<&String> = problem["errors"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["events", "extra", "url"], "{problem}");
    let unknown_event = app.post_json(
        "/api/v1/webhooks",
        &json!({"url": "https://1.1.1.1/", "events": ["*"], "event": "nowhere"}),
        Some(&app.admin),
    );
    unknown_event.problem(422, "validation-failed");
    let organiser = app.post_json(
        "/api/v1/webhooks",
        &json!({"url": "https://1.1.1.1/", "events": ["*"]}),
        Some(&app.organiser),
    );
    organiser.problem(403, "forbidden");
    let listed = admin_request(&app, "GET", "/api/v1/webhooks").json();
    assert_eq!(listed["webhooks"], json!([]), "nothing was stored");

    // Allowed by the setting: registered. Then the setting is turned off again (a restart):
    // a delivery to that address is refused when it is attempted, not sent.
    let TestApp {
        server,
        admin,
        organiser,
        db,
        backend,
    } = app;
    let mut settings = server.settings.clone();
    server.stop();
    settings.webhooks.allow_private_addresses = true;
    settings.webhooks.poll_interval_ms = 20;
    settings.webhooks.retry_base_ms = 20;
    settings.webhooks.retry_max_ms = 100;
    let app = TestApp {
        server: Server::start(settings.clone()),
        admin,
        organiser,
        db,
        backend,
    };
    let (endpoint, _) = create_endpoint(&app, json!({"url": receiver.url("/"), "events": ["*"]}));
    let TestApp {
        server,
        admin,
        organiser,
        db,
        backend,
    } = app;
    server.stop();
    settings.webhooks.allow_private_addresses = false;
    let app = TestApp {
        server: Server::start(settings),
        admin,
        organiser,
        db,
        backend,
    };
    register(&app, DEMO_EVENT, 1, &["aperam-chatelet"]);
    let refused = wait_for_log(&app, &endpoint, "a refused attempt", |log| {
        log.iter().any(|d| d["attempts"].as_i64() >= Some(2))
    });
    let error = refused[0]["last_error"].as_str().unwrap();
    assert!(error.contains("not a public address"), "{error}");
    assert_ne!(refused[0]["status"], "delivered");
    assert!(receiver.received().is_empty());
}

fn erasure_removes_the_person_from_pending_deliveries_and_the_log(backend: Backend) {
    let app = app_for_hooks(backend, |_| {});
    app.create_event("forget", json!({}), &[("a", 5)]);
    let up = Receiver::start(Mode::Status(200));
    let mut down = Receiver::start(Mode::Status(200));
    down.down();
    let (delivered_to, _) = create_endpoint(
        &app,
        json!({"url": up.url("/"), "events": ["*"], "personal_data": true}),
    );
    let (pending_for, _) = create_endpoint(
        &app,
        json!({"url": down.url("/"), "events": ["*"], "personal_data": true}),
    );
    let person = json!({
        "first_name": "Zephyrine", "last_name": "Quillfeather", "email": "zephyrine.quill@example.org",
        "organisation": "Quillworks", "country": "IT", "preferences": ["a"], "consent": true
    });
    let reply = app.register("forget", &person);
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let other = register(&app, "forget", 2, &["a"]).0;
    wait_for_log(&app, &delivered_to, "the deliveries", all_delivered(4));
    assert!(up.received().iter().any(|r| r.body.contains("Zephyrine")));
    assert_eq!(log(&app, &pending_for).len(), 4);

    let erased = admin_request(
        &app,
        "DELETE",
        &format!("/api/v1/events/forget/registrations/{id}?erase=true"),
    );
    assert_eq!(erased.status, 200, "{}", erased.body);

    // Delivered: the bookkeeping stays, the payload is gone.
    let delivered = wait_for_log(&app, &delivered_to, "the erasure's delivery", |log| {
        log.len() == 5 && log.iter().all(|d| d["status"] == "delivered")
    });
    let theirs: Vec<&Value> = delivered
        .iter()
        .filter(|d| d["registration_id"] == id.as_str())
        .collect();
    assert_eq!(theirs.len(), 3, "created, seat, erased: {delivered:?}");
    assert_eq!(theirs[0]["payload"], json!({}));
    assert_eq!(theirs[1]["payload"], json!({}));
    assert_eq!(theirs[2]["type"], "registration.erased");
    assert_eq!(theirs[2]["payload"]["data"]["reason"], "erasure");
    let erasure_news = up.received().last().unwrap().json();
    assert_eq!(erasure_news["type"], "registration.erased");
    assert_eq!(erasure_news["data"]["registration"]["id"], id.as_str());
    // Not delivered: gone (the news of the erasure itself waits).
    let pending = log(&app, &pending_for);
    let theirs: Vec<&Value> = pending
        .iter()
        .filter(|d| d["registration_id"] == id.as_str())
        .collect();
    assert_eq!(theirs.len(), 1, "{pending:?}");
    assert_eq!(theirs[0]["type"], "registration.erased");
    assert_eq!(
        pending
            .iter()
            .filter(|d| d["registration_id"] == other.as_str())
            .count(),
        2
    );
    let redelivered = admin_request(
        &app,
        "POST",
        &format!(
            "/api/v1/webhooks/{delivered_to}/deliveries/{}/redeliver",
            delivered[0]["id"].as_str().unwrap()
        ),
    );
    redelivered.problem(422, "validation-failed");
    // No byte of the person in the stored payloads or errors.
    let leftovers: i64 = app
        .server
        .db
        .read_blocking(|conn| {
            webhook_deliveries::table
                .filter(
                    webhook_deliveries::payload
                        .like("%Zephyrine%")
                        .or(webhook_deliveries::payload.like("%zephyrine.quill%"))
                        .or(webhook_deliveries::payload.like("%Quillworks%"))
                        .or(webhook_deliveries::last_error.like("%Zephyrine%")),
                )
                .count()
                .get_result(conn)
                .map_err(DbError::from)
        })
        .unwrap();
    assert_eq!(leftovers, 0);
}

fn registrations_never_wait_for_a_hanging_receiver(backend: Backend) {
    // An attempt may take two minutes, longer than the client below waits for an answer
    // (60 s): a registration that waited for a delivery would fail.
    let app = app_for_hooks(backend, |settings| {
        settings.webhooks.timeout_ms = 120_000;
        settings.webhooks.lease_seconds = 600;
        settings.webhooks.concurrency = 2;
    });
    let receiver = Receiver::start(Mode::Hang);
    let (endpoint, _) = create_endpoint(
        &app,
        json!({"url": receiver.url("/"), "events": ["registration.created"]}),
    );
    let client = crate::helpers::agent();
    let register = |n: usize| {
        let reply = send(
            client.post(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations"))),
            "application/json",
            &crate::helpers::participant(n, &["aperam-chatelet"]).to_string(),
            None,
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    };
    register(1);
    register(2);
    // Both senders are held by the receiver now, and stay held while people register.
    receiver.wait_held(2);
    for n in 3..=12 {
        register(n);
    }
    assert_eq!(receiver.received().len(), 2, "the senders are still held");
    let log_now = log(&app, &endpoint);
    assert_eq!(log_now.len(), 12);
    assert!(log_now.iter().all(|d| d["status"] != "delivered"));
    receiver.set_mode(Mode::Status(200));
    wait_for_log(&app, &endpoint, "every delivery", all_delivered(12));
    assert_eq!(receiver.received().len(), 12);
}

fn check_in_scans_and_group_messages_are_told_with_ids_only(backend: Backend) {
    let app = app_for_hooks(backend, |_| {});
    let receiver = Receiver::start(Mode::Status(200));
    let (endpoint, secret) = create_endpoint(
        &app,
        json!({"url": receiver.url("/day"), "events": ["checkin.recorded", "message.sent"]}),
    );
    let (id, _) = register(&app, DEMO_EVENT, 1, &["aperam-chatelet"]);
    let code = crate::checkin::manage_key(&app).checkin_code_for(&id);
    let scan = |direction: &str, nonce: &str| {
        app.post_json(
            &format!("/api/v1/events/{DEMO_EVENT}/checkins"),
            &json!({"code": code, "list": "visit:aperam-chatelet", "direction": direction,
                "nonce": nonce, "device": "coach-a"}),
            Some(&app.organiser),
        )
    };
    assert_eq!(scan("in", "nonce-0001").status, 201);
    // A replay and a second scan in write nothing new; the scan out does.
    assert_eq!(scan("in", "nonce-0001").status, 200);
    assert_eq!(scan("in", "nonce-0002").status, 409);
    assert_eq!(scan("out", "nonce-0003").status, 201);
    let sent = app.post_json(
        &format!("/api/v1/events/{DEMO_EVENT}/messages"),
        &json!({
            "audience": {"site_visit": "aperam-chatelet"},
            "subject": {"en": "Coach A leaves at 13:15"},
            "body": {"en": "From the main entrance."},
        }),
        Some(&app.organiser),
    );
    assert_eq!(sent.status, 201, "{}", sent.body);
    let message_id = sent.json()["id"].as_str().unwrap().to_owned();

    wait_for_log(&app, &endpoint, "three deliveries", all_delivered(3));
    let requests = receiver.received();
    assert!(requests.iter().all(|r| verifies(&secret, r)));
    // In order per registration; the message, about no registration, in any place.
    let mut bodies: Vec<Value> = requests.iter().map(Received::json).collect();
    bodies.sort_by_key(|body| body["type"] == "message.sent");
    assert_eq!(
        types_of(&requests)
            .iter()
            .filter(|t| *t == "checkin.recorded")
            .count(),
        2
    );
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["checkin.recorded", "checkin.recorded", "message.sent"]);
    let checked_in = &bodies[0]["data"];
    assert_eq!(
        checked_in["registration"],
        json!({"id": id}),
        "ids only: {checked_in}"
    );
    assert_eq!(checked_in["list"], "visit:aperam-chatelet");
    assert_eq!(checked_in["direction"], "in");
    assert_eq!(checked_in["outcome"], "checked_in");
    assert_eq!(checked_in["device"], "coach-a");
    assert!(
        checked_in["scanned_at"].as_str().unwrap().ends_with('Z'),
        "{checked_in}"
    );
    assert_eq!(bodies[1]["data"]["outcome"], "checked_out");
    let message = &bodies[2]["data"]["message"];
    assert_eq!(message["id"], json!(message_id));
    assert_eq!(message["recipients"], 1);
    assert_eq!(message["audience"]["site_visit"], "aperam-chatelet");
    assert!(bodies[2]["data"].get("registration").is_none(), "{}", bodies[2]);
    for body in &bodies {
        let text = body.to_string();
        assert!(
            !text.contains("participant1@") && !text.contains("hooked1@"),
            "{text}"
        );
    }
    // A dry run and a test send are not told.
    let dry = app.post_json(
        &format!("/api/v1/events/{DEMO_EVENT}/messages"),
        &json!({"audience": {}, "subject": {"en": "S"}, "body": {"en": "B"}, "dry_run": true}),
        Some(&app.organiser),
    );
    assert_eq!(dry.status, 200, "{}", dry.body);
    let test = app.post_json(
        &format!("/api/v1/events/{DEMO_EVENT}/messages"),
        &json!({"audience": {}, "subject": {"en": "S"}, "body": {"en": "B"},
            "test_to": "organiser@example.org"}),
        Some(&app.organiser),
    );
    assert!(test.status < 300, "{}", test.body);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(log(&app, &endpoint).len(), 3);
}

fn a_disabled_endpoint_is_enabled_again_and_its_failures_redelivered(backend: Backend) {
    let app = app_for_hooks(backend, |_| {});
    let receiver = Receiver::start(Mode::Status(410));
    let (endpoint, _) = create_endpoint(
        &app,
        json!({"url": receiver.url("/back"), "events": ["registration.created"]}),
    );
    let (first, _) = register(&app, DEMO_EVENT, 1, &[]);
    let shown = || admin_request(&app, "GET", &format!("/api/v1/webhooks/{endpoint}")).json();
    wait_until("the endpoint disabled", || shown()["status"] == "disabled");
    register(&app, DEMO_EVENT, 2, &[]);

    receiver.set_mode(Mode::Status(204));
    let enabled = admin_request(&app, "POST", &format!("/api/v1/webhooks/{endpoint}/enable"));
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(enabled.json()["status"], "active");
    assert!(enabled.json()["disabled_reason"].is_null(), "{}", enabled.body);
    // Enabling an active endpoint changes nothing.
    let again = admin_request(&app, "POST", &format!("/api/v1/webhooks/{endpoint}/enable"));
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["status"], "active");
    let missing = admin_request(&app, "POST", "/api/v1/webhooks/no-such-endpoint/enable");
    missing.problem(404, "not-found");

    // What happened while it was disabled was not recorded for it; what happens now is.
    let (third, _) = register(&app, DEMO_EVENT, 3, &[]);
    let logged = wait_for_log(&app, &endpoint, "the new delivery", |log| {
        log.len() == 2 && log[1]["status"] == "delivered"
    });
    assert_eq!(logged[0]["status"], "failed");
    let redelivered = admin_request(
        &app,
        "POST",
        &format!(
            "/api/v1/webhooks/{endpoint}/deliveries/{}/redeliver",
            logged[0]["id"].as_str().unwrap()
        ),
    );
    assert!(redelivered.status < 300, "{}", redelivered.body);
    wait_for_log(&app, &endpoint, "the failure redelivered", all_delivered(2));
    let told: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            r.json()["data"]["registration"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        told,
        [first.clone(), third, first],
        "410, the new one, the redelivered one"
    );
}

fn settled_deliveries_leave_the_log_after_the_retention_days(backend: Backend) {
    let app = app_for_hooks(backend, |_| {});
    let receiver = Receiver::start(Mode::Status(200));
    let (endpoint, _) = create_endpoint(
        &app,
        json!({"url": receiver.url("/kept"), "events": ["registration.created"]}),
    );
    for n in 1..=3 {
        register(&app, DEMO_EVENT, n, &[]);
    }
    wait_for_log(&app, &endpoint, "three deliveries", all_delivered(3));
    let purge = |days_later: i64, limit: i64| {
        let at = rallypoint::domain::now() + chrono::Duration::days(days_later);
        app.server
            .db
            .write_blocking(move |conn| {
                rallypoint::domain::webhooks::endpoints::purge_log(conn, 30, at, limit)
            })
            .unwrap()
    };
    assert_eq!(purge(29, 100), 0, "younger than 30 days");
    assert_eq!(log(&app, &endpoint).len(), 3);
    assert_eq!(purge(31, 2), 2, "a batch at a time, oldest first");
    assert_eq!(log(&app, &endpoint).len(), 1);
    assert_eq!(purge(31, 2), 1);
    assert!(log(&app, &endpoint).is_empty());
    // A delivery still to be made is never purged.
    receiver.set_mode(Mode::Status(503));
    register(&app, DEMO_EVENT, 4, &[]);
    wait_for_log(&app, &endpoint, "a failed attempt", |log| {
        log.len() == 1 && log[0]["attempts"].as_i64().unwrap_or(0) >= 1
    });
    assert_eq!(purge(31, 100), 0);
    assert_eq!(log(&app, &endpoint).len(), 1);
}
