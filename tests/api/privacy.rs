//! Invariants 12 and 13: an erasure or a retention run leaves no byte of the person in the
//! database files (on SQLite the raw file, its WAL and its shared memory are read; on
//! PostgreSQL no row version, live or dead, holds them any more), and a second
//! registration with an address already registered is answered like a new one.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::{json, Value};

use crate::helpers::{
    assert_duplicate_answer, call, participant, registrations_total, send, Backend, Reply, TestApp,
};
use crate::smtp::SmtpServer;

crate::on_both_backends!(
    erasure_leaves_no_byte_in_the_database_files,
    retention_leaves_no_byte_in_the_database_files,
    a_reader_on_an_older_snapshot_delays_the_scrub_not_the_erasure,
    a_second_registration_is_answered_like_a_new_one,
    duplicates_take_about_as_long_as_new_registrations,
);

/// A person whose every value is easy to find in raw bytes.
fn distinctive(preferences: &[&str]) -> Value {
    json!({
        "first_name": "Zyxwvutsrq", "last_name": "Qponmlkjih", "email": "Zyxwvutsrq.Qponm@Example.org",
        "organisation": "Vutsrqponm Works", "country": "IT", "job_title": "Keeper of Wvutsr",
        "dietary": "no kjihgfe", "preferences": preferences, "consent": true
    })
}

/// The spellings of the person's data that must not be found: as typed, lower-cased (the
/// folded search text, the normalised address) and upper-cased.
const NEEDLES: &[&str] = &[
    "Zyxwvutsrq",
    "zyxwvutsrq",
    "ZYXWVUTSRQ",
    "Qponmlkjih",
    "qponmlkjih",
    "Zyxwvutsrq.Qponm@Example.org",
    "zyxwvutsrq.qponm@example.org",
    "Vutsrqponm",
    "vutsrqponm",
    "Wvutsr",
    "wvutsr",
    "kjihgfe",
];

/// Where each needle is found: `file: needle` for SQLite's database file, its `-wal` and
/// its `-shm`; `table: needle` for a PostgreSQL row version (live or dead) read from
/// the heap pages with pageinspect.
fn raw_traces(app: &TestApp) -> Vec<String> {
    let mut found = Vec::new();
    match app.backend {
        Backend::Sqlite => {
            // Everything may still be in the WAL: the file only has to be there.
            let main = std::fs::read(&app.db.url).expect("the database file");
            for suffix in ["", "-wal", "-shm"] {
                let path = format!("{}{suffix}", app.db.url);
                let bytes = if suffix.is_empty() {
                    main.clone()
                } else {
                    std::fs::read(&path).unwrap_or_default()
                };
                for needle in NEEDLES {
                    if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                        found.push(format!("test.db{suffix}: {needle}"));
                    }
                }
            }
        }
        Backend::Postgres => {
            #[derive(QueryableByName)]
            struct Hits {
                #[diesel(sql_type = BigInt)]
                hits: i64,
            }
            let mut conn = diesel::PgConnection::establish(&app.db.url).unwrap();
            diesel::sql_query("CREATE EXTENSION IF NOT EXISTS pageinspect")
                .execute(&mut conn)
                .unwrap();
            for table in rallypoint::domain::erasure::SCRUBBED_TABLES {
                for needle in NEEDLES {
                    let sql = format!(
                        "SELECT count(*) AS hits \
                         FROM generate_series(0, (pg_relation_size('{table}') / current_setting('block_size')::bigint) - 1) AS block, \
                         LATERAL heap_page_items(get_raw_page('{table}', block::int)) AS item \
                         WHERE item.t_data IS NOT NULL AND position(convert_to($1, 'UTF8') IN item.t_data) > 0"
                    );
                    let hits = diesel::sql_query(sql)
                        .bind::<Text, _>(*needle)
                        .get_result::<Hits>(&mut conn)
                        .unwrap()
                        .hits;
                    if hits > 0 {
                        found.push(format!("{table}: {needle}"));
                    }
                }
            }
        }
    }
    found
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn admin_get(app: &TestApp, path: &str) -> Value {
    let reply = call(
        ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// Registers the distinctive person (with an `Idempotency-Key`, so that a kept answer
/// holds them too) and again (a duplicate, answered and kept too), waits until their
/// confirmation has gone out, and changes their ranking; returns their id.
fn register_and_use(app: &TestApp, event: &str) -> String {
    let reply = call(
        ureq::post(&app.url(&format!("/api/v1/events/{event}/registrations")))
            .set("Idempotency-Key", "privacy-raw-scan-key"),
        Some(("application/json", &distinctive(&["a", "b"]).to_string())),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let manage = reply.location.clone().unwrap();
    // Registered again with another key: the kept answer to the duplicate holds the
    // values but not the registration's id, and the owner is emailed about it.
    let again = call(
        ureq::post(&app.url(&format!("/api/v1/events/{event}/registrations")))
            .set("Idempotency-Key", "privacy-raw-scan-key-again"),
        Some(("application/json", &distinctive(&["b"]).to_string())),
    );
    assert_duplicate_answer(app, &again);
    wait_until("the confirmation to be sent", || {
        admin_get(app, "/api/v1/emails?status=sent&limit=500")["emails"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["registration_id"] == id.as_str())
    });
    let changed = send(
        ureq::patch(&app.url(&manage)),
        "application/json",
        &json!({"preferences": ["b", "a"]}).to_string(),
        None,
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    id
}

fn erasure_leaves_no_byte_in_the_database_files(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("forget", json!({}), &[("a", 1), ("b", 1)]);
    let id = register_and_use(&app, "forget");
    // The scan finds them while they are there.
    assert!(!raw_traces(&app).is_empty(), "the scan sees the person before");

    let erased = send(
        ureq::delete(&app.url(&format!("/api/v1/events/forget/registrations/{id}?erase=true"))),
        "application/json",
        "",
        Some(&app.admin),
    );
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(raw_traces(&app), Vec::<String>::new());
    // Still none once the workers have had their turn (the mail worker polls every 50 ms).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(raw_traces(&app), Vec::<String>::new());
}

/// A read transaction that began before the erasure keeps the old rows visible to
/// itself: the WAL cannot be truncated (SQLite), the dead tuples cannot be pruned
/// (PostgreSQL). The erasure is answered all the same, and the next scrub, once the
/// reader has gone, takes what was left.
fn a_reader_on_an_older_snapshot_delays_the_scrub_not_the_erasure(backend: Backend) {
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn(backend);
    app.create_event("forget", json!({}), &[("a", 1), ("b", 1)]);
    let id = register_and_use(&app, "forget");
    // Ends the reader's transaction (and closes its connection) when called.
    let end_reader: Box<dyn FnOnce()> = match backend {
        Backend::Sqlite => {
            let mut conn = diesel::SqliteConnection::establish(&app.db.url).unwrap();
            conn.batch_execute("BEGIN; SELECT count(*) FROM registrations;")
                .unwrap();
            Box::new(move || conn.batch_execute("ROLLBACK").unwrap())
        }
        Backend::Postgres => {
            let mut conn = diesel::PgConnection::establish(&app.db.url).unwrap();
            conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM registrations;")
                .unwrap();
            Box::new(move || conn.batch_execute("ROLLBACK").unwrap())
        }
    };
    let started = Instant::now();
    let erased = send(
        ureq::delete(&app.url(&format!("/api/v1/events/forget/registrations/{id}?erase=true"))),
        "application/json",
        "",
        Some(&app.admin),
    );
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the scrub gives up in time"
    );
    // Registrations go on meanwhile.
    assert_eq!(app.register("forget", &participant(5, &["b"])).status, 201);
    assert!(
        !raw_traces(&app).is_empty(),
        "the reader's snapshot still holds the old rows"
    );
    end_reader();
    rallypoint::domain::erasure::after_erasure_blocking(&app.server.db);
    assert_eq!(raw_traces(&app), Vec::<String>::new());
}

fn retention_leaves_no_byte_in_the_database_files(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event(
        "old",
        json!({"starts_on": "2030-06-01", "ends_on": "2030-06-02"}),
        &[("a", 1), ("b", 1)],
    );
    register_and_use(&app, "old");
    assert!(!raw_traces(&app).is_empty(), "the scan sees the person before");

    // 2030-06-02 is 38 days before 2030-07-10.
    let now = chrono::NaiveDate::from_ymd_opt(2030, 7, 10)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    let stop = AtomicBool::new(false);
    let anonymised = rallypoint::retention::anonymise_due(&app.server.db, 30, now, &stop).unwrap();
    assert_eq!(anonymised, 1);
    assert_eq!(raw_traces(&app), Vec::<String>::new());
}

fn register_as(app: &TestApp, event: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
    let mut request = ureq::post(&app.url(&format!("/api/v1/events/{event}/registrations")));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    call(request, Some(("application/json", &body.to_string())))
}

/// The keys of a JSON object, recursively (`site_visit.slug`…): the answer's shape.
fn shape(value: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Value::Object(map) = value {
        for (key, inner) in map {
            keys.push(key.clone());
            keys.extend(shape(inner).into_iter().map(|k| format!("{key}.{k}")));
        }
    }
    keys.sort();
    keys
}

fn attempt_emails(app: &TestApp, registration_id: &str) -> usize {
    admin_get(app, "/api/v1/emails?limit=500")["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["registration_id"] == registration_id && e["kind"] == "registration_attempt")
        .count()
}

fn a_second_registration_is_answered_like_a_new_one(backend: Backend) {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |settings| settings.mail.smtp_url = url);
    app.create_event("twice", json!({}), &[("a", 1), ("b", 2)]);
    let mut owner = participant(1, &["a", "b"]);
    owner["email"] = json!("owner.twice@example.org");
    // The owner registered in French: the email about the attempt is in French.
    let first = register_as(&app, "twice", &owner, &[("Accept-Language", "fr")]);
    assert_eq!(first.status, 201, "{}", first.body);
    let first_body = first.json();
    let owner_id = first_body["id"].as_str().unwrap().to_owned();
    assert_eq!(first_body["site_visit"]["slug"], "a");
    smtp.wait_for(1, Duration::from_secs(30));

    // Someone else tries the address (another case, another ranking, in English).
    let mut probe = participant(2, &["a", "b"]);
    probe["email"] = json!("Owner.Twice@EXAMPLE.org");
    let second = register_as(&app, "twice", &probe, &[]);
    assert_duplicate_answer(&app, &second);
    assert_eq!(second.content_type, first.content_type);
    let body = second.json();
    assert_eq!(shape(&body), shape(&first_body), "the same shape");
    assert_ne!(body["id"], first_body["id"]);
    assert_ne!(body["manage_url"], first_body["manage_url"]);
    // What a new registration would have got: "a" is full, "b" has room.
    assert_eq!(body["site_visit"]["slug"], "b", "{body}");
    assert_eq!(body["site_visit"]["status"], "assigned");
    assert_eq!(body["first_name"], "Participant2", "the request's own values");
    assert!(
        !second.body.contains("Participant1"),
        "nothing of the owner's: {body}"
    );
    // Nothing was written: no second row, no seat taken.
    assert_eq!(registrations_total(&app, "twice"), 1);
    let event = app.event("twice");
    assert_eq!(
        event["site_visits"][1]["assigned"], 0,
        "the seats left did not move"
    );

    // Full everywhere it ranks: the waiting-list place a new registration would take,
    // the same one a real new registration then gets.
    let mut waiting_probe = probe.clone();
    waiting_probe["preferences"] = json!(["a"]);
    let waiting = register_as(&app, "twice", &waiting_probe, &[]);
    assert_duplicate_answer(&app, &waiting);
    assert_eq!(waiting.json()["site_visit"]["status"], "waitlisted");
    assert_eq!(waiting.json()["site_visit"]["waitlist_position"], 1);
    let real = app.register("twice", &participant(3, &["a"]));
    assert_eq!(real.status, 201, "{}", real.body);
    assert_eq!(real.json()["site_visit"], waiting.json()["site_visit"]);

    // The owner hears of it, in French, with the link to the registration they have.
    let mails = smtp.wait_for(3, Duration::from_secs(30));
    let to_owner: Vec<_> = mails
        .iter()
        .filter(|m| m.recipients.iter().any(|r| r == "owner.twice@example.org"))
        .collect();
    assert_eq!(to_owner.len(), 2, "the confirmation and one attempt email");
    let attempt = to_owner
        .iter()
        .find(|m| m.subject().contains("Quelqu'un a tenté"))
        .unwrap_or_else(|| panic!("{:?}", to_owner.iter().map(|m| m.subject()).collect::<Vec<_>>()));
    let manage = first_body["manage_url"].as_str().unwrap();
    assert!(attempt.text().contains(manage), "{}", attempt.text());
    let token = manage.rsplit('/').next().unwrap();
    assert!(attempt.html().contains(token), "{}", attempt.html());
    assert!(attempt.calendar().is_none(), "nothing changed: no invitation");
    // At most one such email an hour: the second attempt above queued none.
    assert_eq!(attempt_emails(&app, &owner_id), 1);

    // With an Idempotency-Key a duplicate replays its own answer.
    let key = [("Idempotency-Key", "privacy-duplicate-key-0001")];
    let keyed = register_as(&app, "twice", &probe, &key);
    assert_duplicate_answer(&app, &keyed);
    let replay = register_as(&app, "twice", &probe, &key);
    assert_eq!(replay.status, 201);
    assert_eq!(replay.json(), keyed.json());
    assert_eq!(replay.location, keyed.location);
    assert_eq!(
        registrations_total(&app, "twice"),
        2,
        "the owner and participant 3"
    );
}

/// A duplicate costs about what a registration costs, so that the time of the answer
/// does not tell either: medians of interleaved requests, within a loose factor that a
/// loaded two-core machine keeps.
fn duplicates_take_about_as_long_as_new_registrations(backend: Backend) {
    const N: usize = 25;
    let app = TestApp::spawn(backend);
    app.create_event("timing", json!({}), &[("a", 500)]);
    // Those whose addresses are tried again (each attempt then writes its email).
    for n in 0..N {
        let reply = app.register("timing", &participant(1000 + n, &["a"]));
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let timed = |body: &Value| {
        let started = Instant::now();
        let reply = app.register("timing", body);
        let elapsed = started.elapsed();
        assert_eq!(reply.status, 201, "{}", reply.body);
        elapsed
    };
    let (mut fresh, mut duplicate) = (Vec::new(), Vec::new());
    for n in 0..N {
        fresh.push(timed(&participant(2000 + n, &["a"])));
        duplicate.push(timed(&participant(1000 + n, &["a"])));
    }
    assert_eq!(registrations_total(&app, "timing"), 2 * N as i64);
    // Each owner hears of it, in English here (the .eml files of the file transport).
    wait_until("the English emails about the attempts", || {
        let written = std::fs::read_dir(app.db.dir.join("outbox"))
            .map(|dir| {
                dir.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
                    .filter(|mail| mail.contains("Someone tried to register your address again"))
                    .count()
            })
            .unwrap_or(0);
        written == N
    });
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (fresh, duplicate) = (median(&mut fresh), median(&mut duplicate));
    eprintln!("median new {fresh:?}, median duplicate {duplicate:?}");
    assert!(
        duplicate < fresh * 3 && fresh < duplicate * 3,
        "new {fresh:?} vs duplicate {duplicate:?}"
    );
}
