//! Invariants 12 and 13: an erasure or a retention run leaves no byte of the person in the
//! database files (on SQLite the raw file, its WAL and its shared memory are read; on
//! PostgreSQL no row version, live or dead, holds them any more), and a second
//! registration with an address already registered is answered like a new one.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::{json, Value};

use crate::helpers::{call, send, Backend, TestApp};

crate::on_both_backends!(
    erasure_leaves_no_byte_in_the_database_files,
    retention_leaves_no_byte_in_the_database_files,
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
/// holds them too), waits until their confirmation has gone out, and changes their
/// ranking; returns their id.
fn register_and_use(app: &TestApp, event: &str) -> String {
    let reply = call(
        ureq::post(&app.url(&format!("/api/v1/events/{event}/registrations")))
            .set("Idempotency-Key", "privacy-raw-scan-key"),
        Some(("application/json", &distinctive(&["a", "b"]).to_string())),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let manage = reply.location.clone().unwrap();
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
