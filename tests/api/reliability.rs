//! What keeps working when something goes wrong inside: a unit of work that panics, lock
//! orders that could deadlock, events larger than a bind-variable list.

use std::sync::{Arc, Mutex};

use rallypoint::db::{DbConnection, DbError};
use rallypoint::domain::access::{create_api_token, Role};

use crate::helpers::{call, concurrently, participant, Backend, Job, Reply, TestApp, DEMO_EVENT};

crate::on_both_backends!(
    a_panicking_write_fails_alone_and_writes_go_on,
    an_allocation_larger_than_a_bind_list_runs,
    mixed_seat_changes_never_deadlock,
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
                 WHERE e.slug = 'large';{settle}",
                // Registrations written in bulk are counted when their notes are
                // settled (SQLite; PostgreSQL applies its notes at commit).
                settle = match conn {
                    DbConnection::Sqlite(_) => " DELETE FROM registration_counts_pending;",
                    DbConnection::Postgres(_) => "",
                }
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

/// Cancellations, organiser moves, new rankings and registrations at once on one event.
/// Each visit has one seat, held by one person, and one person waiting for it: the
/// cancellation refills the seat for the waiting person (locking them) while the
/// organiser moves that same person into the seat (locking the visit). Under the old
/// lock order (person, then visit) the two wait for each other and PostgreSQL breaks
/// the deadlock by failing one, which is then rerun; with one order for every change of
/// existing people's seats (the event, then visits, then people) nothing waits in a
/// circle: no unit of work is rerun, and every request is answered without an error.
fn mixed_seat_changes_never_deadlock(backend: Backend) {
    const VISITS: usize = 8;
    let app = TestApp::spawn_with(backend, |settings| {
        settings.mail.worker = false;
        settings.database.pool_size = 16;
    });
    let visits: Vec<(String, i64)> = (0..VISITS).map(|v| (format!("v{v}"), 1)).collect();
    let visit_refs: Vec<(&str, i64)> = visits.iter().map(|(slug, cap)| (slug.as_str(), *cap)).collect();
    app.create_event("tangle", serde_json::json!({}), &visit_refs);
    let register = |n: usize, visit: &str| {
        let reply = app.register("tangle", &participant(n, &[visit]));
        assert_eq!(reply.status, 201, "{}", reply.body);
        (
            reply.json()["id"].as_str().unwrap().to_owned(),
            app.url(&reply.location.unwrap()),
        )
    };
    let seated: Vec<(String, String)> = (0..VISITS).map(|v| register(v, &format!("v{v}"))).collect();
    let waiting: Vec<(String, String)> = (0..VISITS).map(|v| register(100 + v, &format!("v{v}"))).collect();
    let before = app.server.db.conflict_reruns();
    let mut jobs: Vec<Job<Reply>> = Vec::new();
    for v in 0..VISITS {
        let cancel = seated[v].1.clone();
        jobs.push(Box::new(move |agent: &ureq::Agent| {
            call(agent.delete(&cancel), None)
        }));
        let move_url = app.url(&format!(
            "/api/v1/events/tangle/registrations/{}/site-visit",
            waiting[v].0
        ));
        let organiser = app.organiser.clone();
        jobs.push(Box::new(move |agent: &ureq::Agent| {
            let body = serde_json::json!({ "site_visit": format!("v{v}") }).to_string();
            call(
                agent
                    .put(&move_url)
                    .set("Authorization", &format!("Bearer {organiser}")),
                Some(("application/json", &body)),
            )
        }));
        let url = app.url("/api/v1/events/tangle/registrations");
        let body = participant(200 + v, &[&format!("v{v}"), &format!("v{}", (v + 1) % VISITS)]).to_string();
        jobs.push(Box::new(move |agent: &ureq::Agent| {
            call(agent.post(&url), Some(("application/json", &body)))
        }));
    }
    let replies = concurrently(3 * VISITS, jobs);
    for reply in &replies {
        // A move that comes before the cancellation finds the visit full.
        let refused_move = reply.status == 409 && reply.body.contains("capacity-exceeded");
        assert!(
            matches!(reply.status, 200 | 201) || refused_move,
            "{} {}",
            reply.status,
            reply.body
        );
    }
    let reruns = app.server.db.conflict_reruns() - before;
    assert_eq!(reruns, 0, "{reruns} units of work were rerun after a deadlock");
    // Each seat went to the person who waited for it.
    for (v, (_, manage)) in waiting.iter().enumerate() {
        let view = app.get(&manage.replace(&app.url(""), "")).json();
        assert_eq!(view["site_visit"]["slug"], format!("v{v}"), "{view}");
        assert_eq!(view["site_visit"]["status"], "assigned", "{view}");
    }
}

/// The circle the lock order prevents, made to happen: a cancellation that will refill a
/// seat for B, and an organiser's move of B into that seat, each held up at the visit by
/// another connection until both are in flight. With the old order (the cancellation
/// locks its person, then the visit, then B; the move locks B, then the visit) they
/// deadlock once the visit is free, and PostgreSQL fails one (rerun). With the event
/// taken first by both, the move waits for the cancellation to finish.
#[test]
fn a_cancellation_and_a_move_of_the_next_person_do_not_deadlock() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let Some(backend) = crate::helpers::postgres() else {
        return;
    };
    let app = TestApp::spawn_with(backend, |settings| settings.mail.worker = false);
    app.create_event("circle", serde_json::json!({}), &[("v", 1)]);
    let a = app.register("circle", &participant(1, &["v"]));
    let b = app.register("circle", &participant(2, &["v"]));
    assert_eq!(b.json()["site_visit"]["status"], "waitlisted");
    let before = app.server.db.conflict_reruns();
    let mut blocker = diesel::PgConnection::establish(&app.db.url).unwrap();
    blocker
        .batch_execute("BEGIN; SELECT 1 FROM site_visits WHERE slug = 'v' FOR UPDATE;")
        .unwrap();
    let cancel_url = app.url(a.location.as_deref().unwrap());
    let cancel = std::thread::spawn(move || call(ureq::delete(&cancel_url), None));
    std::thread::sleep(std::time::Duration::from_millis(400));
    let move_url = app.url(&format!(
        "/api/v1/events/circle/registrations/{}/site-visit",
        b.json()["id"].as_str().unwrap()
    ));
    let organiser = app.organiser.clone();
    let moved = std::thread::spawn(move || {
        call(
            ureq::put(&move_url).set("Authorization", &format!("Bearer {organiser}")),
            Some(("application/json", r#"{"site_visit": "v"}"#)),
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    blocker.batch_execute("COMMIT").unwrap();
    let (cancel, moved) = (cancel.join().unwrap(), moved.join().unwrap());
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.json()["site_visit"]["status"], "assigned", "{}", moved.body);
    let reruns = app.server.db.conflict_reruns() - before;
    assert_eq!(reruns, 0, "{reruns} units of work were rerun after a deadlock");
}
