//! What keeps working when something goes wrong inside: a unit of work that panics, lock
//! orders that could deadlock, events larger than a bind-variable list.

use std::sync::{Arc, Mutex};

use rallypoint::db::DbError;
use rallypoint::domain::access::{create_api_token, Role};

use crate::helpers::{participant, Backend, TestApp, DEMO_EVENT};

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

crate::on_both_backends!(a_panicking_write_fails_alone_and_writes_go_on);

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
