//! Issue 8 (part): request ids and Prometheus metrics.

use serde_json::json;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::{
    call, concurrently, participant, spawn_binary, Backend, Job, Reply, TestApp, TestDb, DEMO_EVENT,
};

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
    a_kill_9_mid_burst_keeps_every_acknowledged_registration,
    sigterm_under_load_cuts_no_request_off,
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
    let first = post_with_key(&agent, &url, "wifi-retry-1-7d3f9a2c-5b1e", &body, None);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = post_with_key(&agent, &url, "wifi-retry-1-7d3f9a2c-5b1e", &body, None);
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.json()["manage_url"], first.json()["manage_url"]);
    assert_eq!(again.location, first.location);
    let mut other = body.clone();
    other["first_name"] = json!("Someone else");
    post_with_key(&agent, &url, "wifi-retry-1-7d3f9a2c-5b1e", &other, None).problem(422, "validation-failed");
    post_with_key(&agent, &url, &"k".repeat(300), &other, None).problem(422, "validation-failed");
    // Ten copies of one request racing: one registration, one answer for all.
    let jobs: Vec<Job<Reply>> = (0..10)
        .map(|_| {
            let (url, body) = (url.clone(), participant(2, &["aperam-chatelet"]));
            Box::new(move |agent: &ureq::Agent| {
                post_with_key(agent, &url, "race-2-4c8e1f07-9a6d-42b3", &body, None)
            }) as Job<Reply>
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
    // Creating an event or a visit with a key: a retry gets the same 201 and Location.
    let event = json!({"slug": "keyed", "name": "Keyed", "timezone": "Europe/Brussels",
        "starts_on": "2030-01-01", "ends_on": "2030-01-02"});
    let events_url = app.url("/api/v1/events");
    let created = post_with_key(&agent, &events_url, "event-1", &event, Some(&app.admin));
    assert_eq!(created.status, 201, "{}", created.body);
    let again = post_with_key(&agent, &events_url, "event-1", &event, Some(&app.admin));
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json(), created.json());
    assert_eq!(again.location.as_deref(), Some("/api/v1/events/keyed"));
    let visit = json!({"slug": "walk", "name": "Walk", "capacity": 5,
        "starts_at": "2030-01-02T13:00:00+01:00", "ends_at": "2030-01-02T17:00:00+01:00"});
    let visits_url = app.url("/api/v1/events/keyed/site-visits");
    let first = post_with_key(&agent, &visits_url, "visit-1", &visit, Some(&app.admin));
    assert_eq!(first.status, 201, "{}", first.body);
    let replayed = post_with_key(&agent, &visits_url, "visit-1", &visit, Some(&app.admin));
    assert_eq!(replayed.status, 201, "{}", replayed.body);
    assert_eq!(replayed.json(), first.json());
    assert_eq!(replayed.location, first.location);
    assert_eq!(app.event("keyed")["site_visits"].as_array().unwrap().len(), 1);
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

fn binary_config(db: &TestDb) -> std::path::PathBuf {
    let config = db.dir.join("config.toml");
    let outbox = db.dir.join("outbox");
    std::fs::write(
        &config,
        format!(
            "[mail]\noutbox_dir = \"{}\"\n\n[limits]\npublic_writes_per_minute = 0\n",
            outbox.display()
        ),
    )
    .unwrap();
    config
}

/// Registrations fired from `threads` threads until `stop`; the answers that came back.
fn burst(
    base: &str,
    threads: usize,
    count: usize,
    stop: Arc<AtomicBool>,
) -> Vec<(usize, Result<Reply, String>)> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (base, next, stop) = (base.to_owned(), next.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
                let mut answers = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= count || stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let body = participant(n, &["aperam-chatelet", "biopark-charleroi"]).to_string();
                    let url = format!("{base}/api/v1/events/{DEMO_EVENT}/registrations");
                    let answer = match agent
                        .post(&url)
                        .set("Content-Type", "application/json")
                        .send_string(&body)
                    {
                        Ok(response) => Ok(Reply {
                            status: response.status(),
                            content_type: String::new(),
                            location: response.header("location").map(str::to_owned),
                            retry_after: None,
                            request_id: None,
                            body: response.into_string().unwrap_or_default(),
                        }),
                        Err(ureq::Error::Status(code, response)) => Ok(Reply {
                            status: code,
                            content_type: String::new(),
                            location: None,
                            retry_after: None,
                            request_id: None,
                            body: response.into_string().unwrap_or_default(),
                        }),
                        Err(other) => Err(other.to_string()),
                    };
                    answers.push((n, answer));
                }
                answers
            })
        })
        .collect();
    workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
}

fn a_kill_9_mid_burst_keeps_every_acknowledged_registration(backend: Backend) {
    let db = TestDb::new(backend);
    let config = binary_config(&db);
    let (mut child, base) = spawn_binary(&db, &config);
    let stop = Arc::new(AtomicBool::new(false));
    let firing = {
        let (base, stop) = (base.clone(), stop.clone());
        std::thread::spawn(move || burst(&base, 16, 500, stop))
    };
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap(); // SIGKILL, mid-burst
    child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    let answers = firing.join().unwrap();
    let acknowledged: Vec<&Reply> = answers
        .iter()
        .filter_map(|(_, a)| a.as_ref().ok())
        .filter(|r| r.status == 201)
        .collect();
    assert!(
        !acknowledged.is_empty(),
        "the burst was under way before the kill"
    );
    assert!(
        answers
            .iter()
            .all(|(_, a)| a.as_ref().map_or(true, |r| r.status == 201)),
        "no error answers, only 201s and cut connections"
    );

    let (mut child, base) = spawn_binary(&db, &config);
    let admin = token_via_cli(&db);
    let emails = call(
        ureq::get(&format!("{base}/api/v1/emails?limit=500"))
            .set("Authorization", &format!("Bearer {admin}")),
        None,
    )
    .json();
    let emailed: std::collections::HashSet<&str> = emails["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["registration_id"].as_str())
        .collect();
    for reply in &acknowledged {
        let stored = call(
            ureq::get(&format!("{base}{}", reply.location.as_deref().unwrap())),
            None,
        );
        assert_eq!(stored.status, 200, "an acknowledged registration is gone");
        let stored = stored.json();
        assert_eq!(stored["id"], reply.json()["id"]);
        assert_eq!(
            stored["site_visit"]["status"],
            reply.json()["site_visit"]["status"],
            "its seat survived"
        );
        assert!(
            emailed.contains(stored["id"].as_str().unwrap()),
            "its email survived"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn token_via_cli(db: &TestDb) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rallypoint"))
        .args(["token", "create", "--role", "admin", "--name", "faults"])
        .env("RALLYPOINT_DATABASE_URL", &db.url)
        .env("RALLYPOINT_EVENTS_DIR", "/nonexistent")
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

fn sigterm_under_load_cuts_no_request_off(backend: Backend) {
    let db = TestDb::new(backend);
    let (mut child, base) = spawn_binary(&db, &binary_config(&db));
    let stop = Arc::new(AtomicBool::new(false));
    let firing = {
        let (base, stop) = (base.clone(), stop.clone());
        std::thread::spawn(move || burst(&base, 8, 400, stop))
    };
    std::thread::sleep(Duration::from_millis(500));
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let status = child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    let answers = firing.join().unwrap();
    assert!(status.success(), "a clean exit after SIGTERM: {status:?}");
    // A request either got its whole answer, or never reached a handler: connections
    // still queued when the listener closed are dropped (refused, reset, or closed
    // before any byte of an answer) — and then nothing was written for them.
    let mut answered = std::collections::HashSet::new();
    for (_, answer) in &answers {
        match answer {
            Ok(reply) => {
                assert_eq!(reply.status, 201, "{}", reply.body);
                answered.insert(reply.json()["email"].as_str().unwrap().to_owned());
            }
            Err(error) => assert!(
                ["Connection refused", "onnection reset", "Unexpected EOF"]
                    .iter()
                    .any(|e| error.contains(e)),
                "{error}"
            ),
        }
    }
    assert!(!answered.is_empty());
    let (mut child, base) = spawn_binary(&db, &binary_config(&db));
    let admin = token_via_cli(&db);
    let stored = call(
        ureq::get(&format!(
            "{base}/api/v1/events/{DEMO_EVENT}/registrations?limit=500"
        ))
        .set("Authorization", &format!("Bearer {admin}")),
        None,
    )
    .json();
    let written: std::collections::HashSet<String> = stored["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        written, answered,
        "exactly the answered registrations were written"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A client that opens a connection and sends its request head slowly (slowloris) gets
/// a 408 and the connection closed after `server.client_timeout_ms`.
#[test]
fn a_client_too_slow_to_send_its_request_is_cut_off() {
    use std::io::{Read, Write};
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.server.client_timeout_ms = 1_000);
    let mut stream = std::net::TcpStream::connect(app.server.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = std::time::Instant::now();
    stream
        .write_all(b"POST /api/v1/events/cmr-charleroi-2024/registrations HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Nothing was written, and the server still serves everyone else.
    let event = app.event(DEMO_EVENT);
    let assigned: i64 = event["site_visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["assigned"].as_i64().unwrap())
        .sum();
    assert_eq!(assigned, 0);
}
