//! The command line: `migrate`, `token create`, `event import`, and settings errors.

use std::process::{Command, Output};

use serde_json::json;

use crate::helpers::{settings_for, Backend, Server, TestDb};

crate::on_both_backends!(
    migrate_and_token_create_work_from_the_shell,
    event_import_creates_then_updates
);

fn rallypoint(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rallypoint"))
        .args(args)
        .env("RALLYPOINT_DATABASE_URL", &db.url)
        .env("RALLYPOINT_EVENTS_DIR", "/nonexistent")
        .env("RALLYPOINT_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn migrate_and_token_create_work_from_the_shell(backend: Backend) {
    let db = TestDb::new(backend);
    let migrated = rallypoint(&db, &["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    assert!(String::from_utf8_lossy(&migrated.stdout).contains("up to date"));

    let created = rallypoint(&db, &["token", "create", "--role", "admin", "--name", "Ops"]);
    assert!(created.status.success(), "{created:?}");
    let stdout = String::from_utf8_lossy(&created.stdout);
    let token = stdout.lines().last().unwrap().trim().to_owned();
    assert!(token.starts_with("rpa_") && token.len() > 40, "{stdout}");

    let refused = rallypoint(&db, &["token", "create", "--role", "superuser", "--name", "x"]);
    assert!(!refused.status.success());

    // The printed token is an admin token of the server on that database.
    let server = Server::start(settings_for(&db));
    let reply = crate::helpers::send(
        ureq::post(&server.url("/api/v1/events")),
        "application/json",
        &json!({"slug": "from-cli", "name": "CLI", "timezone": "UTC", "starts_on": "2030-01-01",
                "ends_on": "2030-01-01"})
        .to_string(),
        Some(&token),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    // Only the hash is stored: the secret appears nowhere in the database.
    let stored: Vec<String> = server
        .db
        .read_blocking(|conn| {
            use diesel::prelude::*;
            use rallypoint::db::schema::api_tokens;
            api_tokens::table
                .select(api_tokens::token_hash)
                .load::<String>(conn)
                .map_err(rallypoint::db::DbError::from)
        })
        .unwrap();
    assert!(stored.iter().all(|hash| !hash.contains(&token[4..])));
    assert_eq!(stored.len(), 1);
}

fn event_import_creates_then_updates(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = std::env::temp_dir().join(format!("rp-import-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("event.toml");
    let write = |capacity: i64| {
        std::fs::write(
            &file,
            format!(
                "slug = \"imported\"\nname = \"Imported\"\ntimezone = \"Europe/Brussels\"\n\
                 starts_on = \"2030-01-01\"\nends_on = \"2030-01-02\"\n\n[[site_visits]]\nslug = \"tour\"\n\
                 name = \"Tour\"\nstarts_at = \"2030-01-02T13:00:00+01:00\"\n\
                 ends_at = \"2030-01-02T15:00:00+01:00\"\ncapacity = {capacity}\n"
            ),
        )
        .unwrap();
    };
    write(10);
    let first = rallypoint(&db, &["event", "import", file.to_str().unwrap()]);
    assert!(first.status.success(), "{first:?}");
    assert!(String::from_utf8_lossy(&first.stdout).contains("event created, 1 site visits created"));
    write(12);
    let second = rallypoint(&db, &["event", "import", file.to_str().unwrap()]);
    assert!(second.status.success(), "{second:?}");
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("event updated, 0 site visits created, 1 updated")
    );

    std::fs::write(&file, "slug = \"Bad\"\n").unwrap();
    let broken = rallypoint(&db, &["event", "import", file.to_str().unwrap()]);
    assert!(!broken.status.success());
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("slug") && stderr.contains("timezone"), "{stderr}");

    let server = Server::start(settings_for(&db));
    let event: serde_json::Value = ureq::get(&server.url("/api/v1/events/imported"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(event["site_visits"].as_array().unwrap().len(), 1);
    assert_eq!(event["site_visits"][0]["capacity"], 12);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_settings_stop_start_up_naming_the_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_rallypoint"))
        .arg("migrate")
        .env("RALLYPOINT_BIND", "not-an-address")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("server.bind"));
}

#[test]
fn a_bad_identity_key_stops_start_up_without_echoing_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_rallypoint"))
        .arg("migrate")
        .env("RALLYPOINT_IDENTITY_KEYS", "k1:abcdef0123")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("security.identity_keys"), "{stderr}");
    assert!(!stderr.contains("abcdef0123"), "{stderr}");
}
