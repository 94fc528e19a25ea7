//! Issue 16: findings of an adversarial test — idempotency keys kept per client and
//! purged, bounded metrics, the API refusing browsers' cross-site writes, protective
//! headers on every answer with personal data, the bearer scheme in any case.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::{json, Value};

use crate::helpers::{
    assert_duplicate_answer, call, concurrently, participant, Backend, Job, Reply, TestApp, DEMO_EVENT,
};

crate::on_both_backends!(
    another_clients_idempotency_key_returns_nothing_of_theirs,
    expired_idempotency_answers_are_purged,
    metrics_labels_stay_bounded_whatever_clients_send,
    the_api_refuses_form_posts_from_other_sites,
    answers_with_personal_data_carry_protective_headers,
);

const REGISTRATIONS: &str = "/api/v1/events/cmr-charleroi-2024/registrations";

/// A public registration sent as if from `client` (the app trusts `X-Forwarded-For`).
fn register_from(app: &TestApp, client: &str, key: &str, body: &Value) -> Reply {
    call(
        ureq::post(&app.url(REGISTRATIONS))
            .set("X-Forwarded-For", client)
            .set("Idempotency-Key", key),
        Some(("application/json", &body.to_string())),
    )
}

fn another_clients_idempotency_key_returns_nothing_of_theirs(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.limits.trust_forwarded_for = true);
    let key = "5f0c7d1e-0a51-4d8e-b0a4-2b9c55d7e001";
    let victim = participant(1, &["aperam-chatelet"]);
    let first = register_from(&app, "203.0.113.7", key, &victim);
    assert_eq!(first.status, 201, "{}", first.body);
    let token = first
        .location
        .clone()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    // Another address, the same key and body: not the victim's stored answer. The request
    // runs as its own, and the address is taken: answered like a new registration
    // (invariant 13), with a link of its own that opens nothing.
    let stranger = register_from(&app, "198.51.100.23", key, &victim);
    assert_duplicate_answer(&app, &stranger);
    assert!(!stranger.body.contains(&token), "{}", stranger.body);
    assert_ne!(stranger.location, first.location);
    assert_ne!(stranger.json()["id"], first.json()["id"]);
    // That answer is the stranger's own, kept under the key in their scope: the same key
    // with another body is refused as any reuse is; a key of their own registers.
    let reused = register_from(&app, "198.51.100.23", key, &participant(2, &["aperam-chatelet"]));
    reused.problem(422, "validation-failed");
    let own_key = "5f0c7d1e-0a51-4d8e-b0a4-2b9c55d7e002";
    let own = register_from(
        &app,
        "198.51.100.23",
        own_key,
        &participant(2, &["aperam-chatelet"]),
    );
    assert_eq!(own.status, 201, "{}", own.body);
    assert_ne!(own.json()["id"], first.json()["id"]);

    // The original client's retry still gets its answer, link included.
    let retry = register_from(&app, "203.0.113.7", key, &victim);
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(retry.json()["manage_url"], first.json()["manage_url"]);
    assert_eq!(retry.location, first.location);
    // Public keys must be long enough to be a secret.
    let short = register_from(&app, "203.0.113.7", "retry-1", &participant(3, &[]));
    let problem = short.problem(422, "validation-failed");
    assert!(problem["errors"]["Idempotency-Key"][0]
        .as_str()
        .unwrap()
        .contains("at least 16"));
    assert_eq!(
        app.event(DEMO_EVENT)["site_visits"][0]["assigned"],
        2,
        "nothing else written"
    );
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs `statement` on the app's database: the rows it changed, or for a query the
/// first row's `n`.
fn sql(app: &TestApp, statement: &str) -> i64 {
    macro_rules! run {
        ($connection:ty) => {{
            let mut conn = <$connection>::establish(&app.db.url).unwrap();
            if app.backend == Backend::Sqlite {
                // The server's writer may hold the lock for a moment: wait, as it does.
                diesel::sql_query("PRAGMA busy_timeout = 10000")
                    .execute(&mut conn)
                    .unwrap();
            }
            if statement.starts_with("SELECT") {
                let rows: Vec<Count> = diesel::sql_query(statement).load(&mut conn).unwrap();
                rows.first().map_or(0, |row| row.n)
            } else {
                diesel::sql_query(statement).execute(&mut conn).unwrap() as i64
            }
        }};
    }
    match app.backend {
        Backend::Sqlite => run!(SqliteConnection),
        Backend::Postgres => run!(PgConnection),
    }
}

fn expired_idempotency_answers_are_purged(backend: Backend) {
    let app = TestApp::spawn(backend);
    for (n, key) in ["a0a0a0a0-keep-for-a-day-000001", "b1b1b1b1-keep-for-a-day-000002"]
        .iter()
        .enumerate()
    {
        let reply = call(
            ureq::post(&app.url(REGISTRATIONS)).set("Idempotency-Key", key),
            Some(("application/json", &participant(n, &[]).to_string())),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    assert_eq!(sql(&app, "SELECT count(*) AS n FROM idempotency_keys"), 2);
    // One of them is two days old now; the other is still within its day.
    let age = match backend {
        Backend::Sqlite => "datetime('now', '-2 days')",
        Backend::Postgres => "now() - interval '2 days'",
    };
    let moved = sql(
        &app,
        &format!("UPDATE idempotency_keys SET created_at = {age} WHERE idempotency_key LIKE 'a0a0%'"),
    );
    assert_eq!(moved, 1);
    // The retention worker purges at start (and hourly), whether or not anonymisation
    // is on (it is off here).
    let app = app.restart();
    let started = Instant::now();
    while sql(&app, "SELECT count(*) AS n FROM idempotency_keys") != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the purge did not run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = sql(
        &app,
        "SELECT count(*) AS n FROM idempotency_keys WHERE idempotency_key LIKE 'b1b1%'",
    );
    assert_eq!(left, 1, "the answer still within its day is kept");
}

/// The series of the request counter in a `/metrics` text.
fn request_series(text: &str) -> usize {
    text.lines()
        .filter(|line| line.starts_with("rallypoint_http_requests_total{"))
        .count()
}

fn metrics_labels_stay_bounded_whatever_clients_send(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.security.metrics_token = "scrape-me-0123456789".into();
    });
    let scrape = |token: Option<&str>| {
        let mut request = ureq::get(&app.url("/metrics"));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("bearer {token}"));
        }
        call(request, None)
    };
    // With a token set, only its holder reads the metrics.
    scrape(None).problem(401, "unauthorized");
    scrape(Some("wrong-token-0123456789")).problem(401, "unauthorized");
    let before = scrape(Some("scrape-me-0123456789"));
    assert_eq!(before.status, 200, "{}", before.body);

    // 10,000 requests with invented methods and paths.
    let base = app.url("");
    let jobs: Vec<Job<u16>> = (0..10_000)
        .map(|n| {
            let base = base.clone();
            Box::new(move |agent: &ureq::Agent| {
                let (method, path) = match n % 3 {
                    0 => (format!("BREW{n}"), format!("/nothing/{n}")),
                    1 => (format!("X-{n}"), "/api/v1/events/cmr-charleroi-2024".to_owned()),
                    _ => ("GET".to_owned(), format!("/api/v1/no/such/{n}?q={n}")),
                };
                call(agent.request(&method, &format!("{base}{path}")), None).status
            }) as Job<u16>
        })
        .collect();
    let statuses = concurrently(4, jobs);
    assert!(
        statuses.iter().all(|s| [404, 405].contains(s)),
        "{:?}",
        &statuses[..10]
    );

    let after = scrape(Some("scrape-me-0123456789")).body;
    let series = request_series(&after);
    // Each odd method became `other`, each unknown path `unmatched`: a handful of series
    // (route × method × status), not thousands.
    assert!(
        series <= request_series(&before.body) + 4,
        "{series} series:\n{after}"
    );
    assert!(
        after.contains(r#"method="other",route="unmatched",status="404""#),
        "{after}"
    );
    assert!(
        after.len() < 64 * 1024,
        "the metrics text is {} bytes",
        after.len()
    );
}

/// Posts `body` to the registration API as a browser would, with `headers`.
fn browser_post(app: &TestApp, content_type: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = ureq::post(&app.url(REGISTRATIONS));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    call(request, Some((content_type, body)))
}

fn the_api_refuses_form_posts_from_other_sites(backend: Backend) {
    let app = TestApp::spawn(backend);
    let form = "first_name=Eve&last_name=Mallory&email=eve%40example.org&organisation=Evil&country=BE\
                &preferences=aperam-chatelet&consent=on";
    let form_type = "application/x-www-form-urlencoded";
    for headers in [
        vec![("Origin", "http://evil.example")],
        vec![("Origin", "null")],
        vec![("Referer", "https://evil.example/page")],
        vec![("Origin", "ftp://127.0.0.1")],
    ] {
        let reply = browser_post(&app, form_type, form, &headers);
        let problem = reply.problem(403, "forbidden");
        assert!(
            problem["detail"].as_str().unwrap().contains("another site"),
            "{problem}"
        );
    }
    // The same from the site itself, or from a client that is no browser, is accepted.
    let origin = app.url("");
    let own = browser_post(&app, form_type, form, &[("Origin", origin.as_str())]);
    assert_eq!(own.status, 201, "{}", own.body);
    let script = participant(4, &[]).to_string();
    let client = browser_post(&app, "application/json", &script, &[]);
    assert_eq!(client.status, 201, "{}", client.body);
    let event = app.event(DEMO_EVENT);
    assert_eq!(
        event["site_visits"][0]["assigned"], 1,
        "only the accepted ones wrote"
    );
    // Other writes too: an organiser's move from another site.
    let move_path = format!(
        "/api/v1/events/{DEMO_EVENT}/registrations/{}/site-visit",
        own.json()["id"].as_str().unwrap()
    );
    let moved = call(
        ureq::put(&app.url(&move_path))
            .set("Authorization", &format!("Bearer {}", app.organiser))
            .set("Origin", "https://evil.example"),
        Some(("application/json", &json!({"site_visit": null}).to_string())),
    );
    moved.problem(403, "forbidden");
    // Reads are not writes: GET with a foreign Origin is answered.
    let read = call(
        ureq::get(&app.url(&format!("/api/v1/events/{DEMO_EVENT}"))).set("Origin", "https://evil.example"),
        None,
    );
    assert_eq!(read.status, 200);
}

/// The three protective headers of an answer.
fn protective_headers(request: ureq::Request, body: Option<&str>) -> (u16, [Option<String>; 3]) {
    let result = match body {
        Some(body) => request.set("Content-Type", "application/json").send_string(body),
        None => request.call(),
    };
    let response = match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(other) => panic!("request failed: {other}"),
    };
    let header = |name: &str| response.header(name).map(str::to_owned);
    (
        response.status(),
        [
            header("cache-control"),
            header("x-content-type-options"),
            header("referrer-policy"),
        ],
    )
}

fn answers_with_personal_data_carry_protective_headers(backend: Backend) {
    let app = TestApp::spawn(backend);
    let registered = app.register(DEMO_EVENT, &participant(1, &["aperam-chatelet"]));
    let manage = registered.location.clone().unwrap();
    let bearer =
        |request: ureq::Request, token: &str| request.set("Authorization", &format!("BEARER {token}"));
    let exports = format!("/api/v1/events/{DEMO_EVENT}/exports");
    let answers = [
        (
            "registration",
            protective_headers(
                ureq::post(&app.url(REGISTRATIONS)),
                Some(&participant(2, &[]).to_string()),
            ),
        ),
        ("manage", protective_headers(ureq::get(&app.url(&manage)), None)),
        (
            "list",
            protective_headers(
                bearer(
                    ureq::get(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations"))),
                    &app.organiser,
                ),
                None,
            ),
        ),
        (
            "csv",
            protective_headers(
                bearer(
                    ureq::get(&app.url(&format!("{exports}/attendees?format=csv"))),
                    &app.admin,
                ),
                None,
            ),
        ),
        (
            "xlsx",
            protective_headers(
                bearer(
                    ureq::get(&app.url(&format!("{exports}/counts?by=country&format=xlsx"))),
                    &app.admin,
                ),
                None,
            ),
        ),
        (
            "problem",
            protective_headers(ureq::get(&app.url("/api/v1/manage/0")), None),
        ),
    ];
    for (what, (status, headers)) in answers {
        assert!(status < 500, "{what}: {status}");
        assert_eq!(
            headers,
            [
                Some("no-store".to_owned()),
                Some("nosniff".to_owned()),
                Some("no-referrer".to_owned())
            ],
            "{what} ({status})"
        );
    }
    // The list above was read with `Authorization: BEARER …`: the scheme has no case.
    let list = call(
        ureq::get(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations")))
            .set("Authorization", "Basic abc"),
        None,
    );
    list.problem(401, "unauthorized");
    let upper = call(
        bearer(
            ureq::get(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations"))),
            &app.organiser,
        ),
        None,
    );
    assert_eq!(upper.status, 200, "{}", upper.body);
    assert_eq!(upper.json()["total"], 2, "{}", upper.body);
}
