//! What keeps working when something goes wrong inside: a unit of work that panics, lock
//! orders that could deadlock, events larger than a bind-variable list.

use std::sync::{Arc, Mutex};

use rallypoint::db::{DbConnection, DbError};
use rallypoint::domain::access::{create_api_token, Role};

use crate::helpers::{participant, Backend, TestApp, DEMO_EVENT};

crate::on_both_backends!(
    a_panicking_write_fails_alone_and_writes_go_on,
    an_allocation_larger_than_a_bind_list_runs,
);

/// A write that panics fails with a 500-class error and rolls back what it wrote; the
/// writer (SQLite's one thread, PostgreSQL's pool) goes on serving the next writes, and
/// `/readyz` stays ready.
fn a_panicking_write_fails_alone_and_writes_go_on(backend: Backend) {
    let app = TestApp::spawn(backend);
    let stash = Arc::new(Mutex::new(None));
    let kept = stash.clone();
    let outcome: Result<(), DbError> =
        actix_web::rt::System::new().block_on(app.server.db.write(move |conn| {
            let token = create_api_token(
                conn,
                Role::Admin,
                "written then panicked",
                rallypoint::domain::now(),
            )
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
            *kept.lock().unwrap() = Some(token);
            panic!("a bug in a unit of work");
        }));
    assert!(matches!(outcome, Err(DbError::Panicked(_))), "{outcome:?}");
    let token = stash
        .lock()
        .unwrap()
        .clone()
        .expect("the unit ran up to its panic");
    // What the unit wrote before panicking was rolled back: the token does not exist.
    let roster = crate::helpers::call(
        ureq::get(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/audit")))
            .set("Authorization", &format!("Bearer {token}")),
        None,
    );
    assert_eq!(roster.status, 401, "{}", roster.body);
    // The next writes go through, and the server says it is ready.
    for n in 0..5 {
        assert_eq!(
            app.register(DEMO_EVENT, &participant(n, &["aperam-chatelet"]))
                .status,
            201
        );
    }
    assert_eq!(app.get("/readyz").status, 200);
}

/// A SQLite writer that cannot go on (here: its database directory vanished, so it cannot
/// reconnect after a panic) makes `/readyz` answer 503 instead of staying green.
#[test]
fn a_dead_sqlite_writer_makes_readyz_fail() {
    let app = TestApp::spawn(Backend::Sqlite);
    assert_eq!(app.get("/readyz").status, 200);
    std::fs::remove_dir_all(&app.db.dir).unwrap();
    let outcome: Result<(), DbError> =
        actix_web::rt::System::new().block_on(app.server.db.write(|_| panic!("a bug in a unit of work")));
    assert!(matches!(outcome, Err(DbError::Panicked(_))), "{outcome:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ready = app.get("/readyz");
        if ready.status == 503 {
            assert_eq!(ready.json()["type"], "service-unavailable", "{}", ready.body);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readyz stayed {}",
            ready.status
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let reply = app.register(DEMO_EVENT, &participant(1, &["aperam-chatelet"]));
    assert_eq!(reply.status, 503, "{}", reply.body);
}

/// More registrations than SQLite binds in one statement (32,766): the allocation reads
/// its input (rankings and seats of every confirmed registration) in slices and plans
/// for everyone. Rows are inserted directly. Applying reads its input the same way; it
/// is not run here, where it would take minutes of the suite (one transaction writing
/// 32,800 seats and emails in a debug build).
fn an_allocation_larger_than_a_bind_list_runs(backend: Backend) {
    const PEOPLE: i64 = 32_800;
    let app = TestApp::spawn(backend);
    app.create_event(
        "large",
        serde_json::json!({"assignment_mode": "preferences"}),
        &[("a", 20_000), ("b", 20_000)],
    );
    app.server
        .db
        .write_blocking(|conn| {
            use diesel::connection::SimpleConnection;
            let people = match conn {
                DbConnection::Sqlite(_) => format!(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {PEOPLE}) \
                     SELECT printf('large-%06d', i) AS id, i, \
                     datetime('2030-01-01', '+' || i || ' seconds') AS at FROM n"
                ),
                DbConnection::Postgres(_) => format!(
                    "SELECT 'large-' || lpad(i::text, 6, '0') AS id, i, \
                     timestamp '2030-01-01' + i * interval '1 second' AS at \
                     FROM generate_series(1, {PEOPLE}) AS i"
                ),
            };
            let sql = format!(
                "INSERT INTO registrations (id, event_id, first_name, last_name, email, email_normalized, \
                 organisation, country, status, manage_token_hash, consent_at, created_at, updated_at, language) \
                 SELECT p.id, e.id, 'Person', p.id, p.id || '@example.test', p.id || '@example.test', 'Org', \
                 'BE', 'confirmed', 'hash-' || p.id, p.at, p.at, p.at, 'en' \
                 FROM ({people}) p CROSS JOIN events e WHERE e.slug = 'large';
                 INSERT INTO registration_preferences (registration_id, rank, site_visit_id)
                 SELECT r.id, v.position + 1, v.id FROM registrations r
                 JOIN events e ON e.id = r.event_id JOIN site_visits v ON v.event_id = e.id
                 WHERE e.slug = 'large';"
            );
            conn.batch_execute(&sql).map_err(DbError::from)
        })
        .unwrap();
    let plan = app.post_json(
        "/api/v1/events/large/allocation",
        &serde_json::json!({"dry_run": true}),
        Some(&app.organiser),
    );
    assert_eq!(plan.status, 200, "{}", plan.body);
    let plan = plan.json();
    assert_eq!(
        plan["by_rank"],
        serde_json::json!([20_000, PEOPLE - 20_000]),
        "{}",
        plan["by_rank"]
    );
}
