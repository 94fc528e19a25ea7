//! Issue 16, point 7: tokens can be listed and revoked (admin API and command line), can
//! expire, and board sessions live on the server, so that signing out, revoking the
//! token or its expiry ends a session wherever a copy of its cookie is.

use std::process::{Command, Output};
use std::time::Duration;

use diesel::prelude::*;
use rallypoint::db::schema::{api_tokens, audit_log, board_sessions};
use rallypoint::db::DbError;
use rallypoint::domain::access::{hash_secret, Role};
use rallypoint::domain::now;
use rallypoint::domain::tokens::{self, NewToken};
use serde_json::{json, Value};

use crate::browsing::{form, Page};
use crate::helpers::{call, send, Backend, Reply, TestApp, DEMO_EVENT};

crate::on_both_backends!(
    a_revoked_token_is_refused_by_the_api,
    a_copied_board_cookie_stops_working_after_sign_out,
    revoking_a_token_through_the_api_ends_its_board_sessions,
    revoking_a_token_from_the_command_line_ends_its_board_sessions,
    an_expired_token_is_refused_everywhere,
    token_list_never_shows_a_secret,
    organisers_may_not_use_the_token_api,
    bad_token_input_is_422_field_by_field_and_writes_nothing,
);

const BOARD: &str = "/organiser/events/cmr-charleroi-2024";

fn get(app: &TestApp, path: &str, token: Option<&str>) -> Reply {
    let mut request = ureq::get(&app.url(path));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    call(request, None)
}

fn delete(app: &TestApp, path: &str, token: Option<&str>) -> Reply {
    let mut request = ureq::delete(&app.url(path));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    call(request, None)
}

/// An organiser's read of the API, with `token`.
fn roster_status(app: &TestApp, token: &str) -> u16 {
    get(
        app,
        &format!("/api/v1/events/{DEMO_EVENT}/registrations"),
        Some(token),
    )
    .status
}

/// Creates a token through the admin API: (id, secret).
fn create_token(app: &TestApp, body: Value) -> (String, String) {
    let reply = app.post_json("/api/v1/tokens", &body, Some(&app.admin));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = reply.json();
    (
        created["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

fn token_id(app: &TestApp, name: &str) -> String {
    let list = get(app, "/api/v1/tokens", Some(&app.admin)).json();
    list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str())
        .unwrap_or_else(|| panic!("no token named {name}: {list}"))
        .to_owned()
}

fn count_sessions(app: &TestApp) -> i64 {
    app.server
        .db
        .read_blocking(|conn| {
            board_sessions::table
                .count()
                .get_result::<i64>(conn)
                .map_err(DbError::from)
        })
        .unwrap()
}

/// (action, subject) of every audit row about tokens, oldest first.
fn token_audit(app: &TestApp) -> Vec<(String, String)> {
    app.server
        .db
        .read_blocking(|conn| {
            audit_log::table
                .filter(audit_log::action.like("token.%"))
                .order((audit_log::created_at, audit_log::id))
                .select((audit_log::action, audit_log::subject.assume_not_null()))
                .load::<(String, String)>(conn)
                .map_err(DbError::from)
        })
        .unwrap()
}

fn count_tokens(app: &TestApp) -> i64 {
    app.server
        .db
        .read_blocking(|conn| {
            api_tokens::table
                .count()
                .get_result::<i64>(conn)
                .map_err(DbError::from)
        })
        .unwrap()
}

// --- The board, as a browser without JavaScript speaks to it ---------------------------

/// The answer of a request, a form posted when there is one.
fn page(request: ureq::Request, form_fields: Option<&[(&str, &str)]>) -> Page {
    Page::read(match form_fields {
        Some(fields) => request
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&form(fields)),
        None => request.call(),
    })
}

/// A browser: its own CSRF cookie (from the sign-in page), and redirects not followed.
struct Browser<'a> {
    app: &'a TestApp,
    agent: ureq::Agent,
    csrf: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(Duration::from_secs(60))
            .build();
        let sign_in = page(agent.get(&app.url("/organiser/sign-in")), None);
        assert_eq!(sign_in.status, 200, "{}", sign_in.body);
        let (csrf, _) = sign_in.cookie("rp_csrf").expect("a CSRF cookie");
        Self { app, agent, csrf }
    }

    fn request(&self, method: &str, path: &str, session: Option<&str>) -> ureq::Request {
        let cookies = match session {
            Some(session) => format!("rp_csrf={}; rp_board={session}", self.csrf),
            None => format!("rp_csrf={}", self.csrf),
        };
        self.agent
            .request(method, &self.app.url(path))
            .set("Cookie", &cookies)
    }

    /// Signs in with `token`: the answer (its `rp_board` cookie on success).
    fn sign_in(&self, token: &str) -> Page {
        page(
            self.request("POST", "/organiser/sign-in", None),
            Some(&[("csrf_token", &self.csrf), ("token", token), ("next", BOARD)]),
        )
    }

    /// Signs in with `token` and returns the session cookie's value.
    fn session(&self, token: &str) -> String {
        let answer = self.sign_in(token);
        assert_eq!(answer.status, 303, "{}", answer.body);
        assert_eq!(answer.location(), BOARD);
        answer.cookie("rp_board").expect("a session cookie").0
    }

    /// The board, with this session cookie.
    fn board(&self, session: &str) -> Page {
        page(self.request("GET", BOARD, Some(session)), None)
    }

    fn sign_out(&self, session: &str) -> Page {
        page(
            self.request("POST", "/organiser/sign-out", Some(session)),
            Some(&[("csrf_token", &self.csrf)]),
        )
    }
}

// --- The command line -----------------------------------------------------------------

fn rallypoint(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rallypoint"))
        .args(args)
        .env("RALLYPOINT_DATABASE_URL", &app.db.url)
        .env("RALLYPOINT_EVENTS_DIR", "/nonexistent")
        .env("RALLYPOINT_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// --- The tests ------------------------------------------------------------------------

fn a_revoked_token_is_refused_by_the_api(backend: Backend) {
    let app = TestApp::spawn(backend);
    let (id, secret) = create_token(&app, json!({"name": "Desk", "role": "organiser"}));
    assert_eq!(roster_status(&app, &secret), 200);

    let revoked = delete(&app, &format!("/api/v1/tokens/{id}"), Some(&app.admin));
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let revoked = revoked.json();
    assert_eq!(revoked["status"], "revoked", "{revoked}");
    assert_eq!(revoked["id"], id.as_str());
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert!(revoked.get("secret").is_none() && !revoked.to_string().contains(&secret[4..]));
    get(
        &app,
        &format!("/api/v1/events/{DEMO_EVENT}/registrations"),
        Some(&secret),
    )
    .problem(401, "unauthorized");
    app.post_json("/api/v1/events", &json!({}), Some(&secret))
        .problem(401, "unauthorized");

    // Revoking again changes nothing: the first revocation's time stays, one audit row.
    let again = delete(&app, &format!("/api/v1/tokens/{id}"), Some(&app.admin));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["revoked_at"], revoked["revoked_at"]);
    delete(&app, "/api/v1/tokens/no-such-token", Some(&app.admin)).problem(404, "not-found");

    // An admin token may revoke itself: that request succeeds, the next one is 401.
    let (own_id, own) = create_token(&app, json!({"name": "Short-lived admin", "role": "admin"}));
    let itself = delete(&app, &format!("/api/v1/tokens/{own_id}"), Some(&own));
    assert_eq!(itself.status, 200, "{}", itself.body);
    get(&app, "/api/v1/tokens", Some(&own)).problem(401, "unauthorized");
    assert_eq!(roster_status(&app, &app.admin), 200, "other tokens still work");

    // Creations and revocations are audited once each (the harness's two tokens too).
    let audit = token_audit(&app);
    let of = |subject: &str| -> Vec<&str> {
        audit
            .iter()
            .filter(|(_, s)| s == subject)
            .map(|(action, _)| action.as_str())
            .collect()
    };
    assert_eq!(of(&id), ["token.create", "token.revoke"], "{audit:?}");
    assert_eq!(of(&own_id), ["token.create", "token.revoke"], "{audit:?}");
    assert_eq!(audit.len(), 6, "{audit:?}");

    // A create retried with its Idempotency-Key gets the first answer, without the
    // secret (kept only as a hash), and makes no second token.
    let keyed = |body: &Value| {
        send(
            ureq::post(&app.url("/api/v1/tokens")).set("Idempotency-Key", "token-1"),
            "application/json",
            &body.to_string(),
            Some(&app.admin),
        )
    };
    let body = json!({"name": "Retried", "role": "organiser"});
    let first = keyed(&body);
    assert_eq!(first.status, 201, "{}", first.body);
    let tokens = count_tokens(&app);
    let replay = keyed(&body);
    assert_eq!(replay.status, 201, "{}", replay.body);
    let (first, replay) = (first.json(), replay.json());
    assert!(first["secret"].as_str().unwrap().starts_with("rpa_"));
    assert!(replay["secret"].is_null(), "{replay}");
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(count_tokens(&app), tokens);
}

fn a_copied_board_cookie_stops_working_after_sign_out(backend: Backend) {
    let app = TestApp::spawn(backend);
    let browser = Browser::new(&app);
    let session = browser.session(&app.organiser);
    // The cookie is a random secret, kept on the server only as its hash.
    assert_eq!(session.len(), 64, "{session}");
    let stored: Vec<String> = app
        .server
        .db
        .read_blocking(|conn| {
            board_sessions::table
                .select(board_sessions::secret_hash)
                .load(conn)
                .map_err(DbError::from)
        })
        .unwrap();
    assert_eq!(stored, [hash_secret(&session)]);

    // Another browser holding a copy of the cookie is signed in too...
    let thief = Browser::new(&app);
    assert_eq!(thief.board(&session).status, 200);
    assert_eq!(browser.board(&session).status, 200);

    // ...until the owner signs out: the session ends on the server, not only in the
    // owner's browser.
    let out = browser.sign_out(&session);
    assert_eq!(out.status, 303, "{}", out.body);
    let (_, cleared) = out.cookie("rp_board").expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(count_sessions(&app), 0);
    assert!(thief.board(&session).sent_to_sign_in());
    assert!(browser.board(&session).sent_to_sign_in());
    // Its actions ask to sign in and do nothing.
    let action = page(
        thief.request(
            "POST",
            &format!("{BOARD}/site-visits/aperam-chatelet"),
            Some(&session),
        ),
        Some(&[("csrf_token", &thief.csrf), ("capacity", "1")]),
    );
    assert!(action.sent_to_sign_in(), "{}", action.status);
    let view = app.event(DEMO_EVENT);
    let visit = view["site_visits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["slug"] == "aperam-chatelet")
        .unwrap();
    assert_eq!(visit["capacity"], 35, "{view}");

    // Signing in again opens a new session; the old cookie stays dead.
    let again = browser.session(&app.organiser);
    assert_ne!(again, session);
    assert_eq!(browser.board(&again).status, 200);
    assert!(thief.board(&session).sent_to_sign_in());
}

fn revoking_a_token_through_the_api_ends_its_board_sessions(backend: Backend) {
    let app = TestApp::spawn(backend);
    let (id, secret) = create_token(&app, json!({"name": "Board desk", "role": "organiser"}));
    let laptop = Browser::new(&app);
    let tablet = Browser::new(&app);
    let (on_laptop, on_tablet) = (laptop.session(&secret), tablet.session(&secret));
    let other = laptop.session(&app.organiser);
    assert_eq!(laptop.board(&on_laptop).status, 200);
    assert_eq!(tablet.board(&on_tablet).status, 200);
    assert_eq!(count_sessions(&app), 3);

    let revoked = delete(&app, &format!("/api/v1/tokens/{id}"), Some(&app.admin));
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    // Both of its sessions are gone from the server; another token's session is not.
    assert_eq!(count_sessions(&app), 1);
    assert!(laptop.board(&on_laptop).sent_to_sign_in());
    assert!(tablet.board(&on_tablet).sent_to_sign_in());
    assert_eq!(laptop.board(&other).status, 200);
    // And it cannot open a new one.
    let refused = laptop.sign_in(&secret);
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.cookie("rp_board").is_none());
}

fn revoking_a_token_from_the_command_line_ends_its_board_sessions(backend: Backend) {
    let app = TestApp::spawn(backend);
    let id = token_id(&app, "test organiser");
    let browser = Browser::new(&app);
    let session = browser.session(&app.organiser);
    assert_eq!(browser.board(&session).status, 200);

    let revoked = rallypoint(&app, &["token", "revoke", &id]);
    assert!(revoked.status.success(), "{revoked:?}");
    let said = stdout(&revoked);
    assert!(
        said.contains(&format!("revoked token {id} (test organiser)")) && said.contains("1 board session"),
        "{said}"
    );
    assert!(browser.board(&session).sent_to_sign_in());
    assert_eq!(count_sessions(&app), 0);
    assert_eq!(roster_status(&app, &app.organiser), 401);

    // Again: nothing changes, and it says so.
    let again = rallypoint(&app, &["token", "revoke", &id]);
    assert!(again.status.success(), "{again:?}");
    assert!(stdout(&again).contains("was already revoked"), "{again:?}");
    // An unknown id fails, naming the id.
    let unknown = rallypoint(&app, &["token", "revoke", "no-such-token"]);
    assert!(!unknown.status.success(), "{unknown:?}");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no token has the id no-such-token"), "{stderr}");
    assert_eq!(
        token_audit(&app)
            .iter()
            .filter(|(action, subject)| action == "token.revoke" && *subject == id)
            .count(),
        1
    );
}

fn an_expired_token_is_refused_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend);
    let reply = app.post_json(
        "/api/v1/tokens",
        &json!({"name": "Volunteer", "role": "organiser", "expires_in_days": 2}),
        Some(&app.admin),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = reply.json();
    let (id, secret) = (
        created["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    );
    let expires_at = chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires_at.naive_utc() - now()).num_hours();
    assert!((47..=48).contains(&days), "{created}");
    assert_eq!(created["status"], "active");
    assert_eq!(roster_status(&app, &secret), 200);
    let browser = Browser::new(&app);
    let session = browser.session(&secret);
    assert_eq!(browser.board(&session).status, 200);

    // Its expiry passes: the API, its open board session and a new sign-in all refuse it.
    app.server
        .db
        .write_blocking({
            let id = id.clone();
            move |conn| {
                diesel::update(api_tokens::table.find(&id))
                    .set(api_tokens::expires_at.eq(Some(now() - chrono::Duration::minutes(1))))
                    .execute(conn)
                    .map_err(DbError::from)
            }
        })
        .unwrap();
    get(
        &app,
        &format!("/api/v1/events/{DEMO_EVENT}/registrations"),
        Some(&secret),
    )
    .problem(401, "unauthorized");
    assert!(browser.board(&session).sent_to_sign_in());
    assert_eq!(browser.sign_in(&secret).status, 401);
    let listed = get(&app, "/api/v1/tokens", Some(&app.admin)).json();
    let listed = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(listed["status"], "expired", "{listed}");
    assert!(listed["revoked_at"].is_null());

    // A token issued by the real code two days ago for one day is expired now.
    let old = app
        .server
        .db
        .write_blocking(|conn| {
            let new = NewToken::new(Role::Admin, "Last year's desk", Some(1))?;
            tokens::issue(conn, "test", &new, now() - chrono::Duration::days(2))
        })
        .unwrap();
    get(&app, "/api/v1/tokens", Some(&old.secret)).problem(401, "unauthorized");
    assert_eq!(browser.sign_in(&old.secret).status, 401);

    // A session never outlives its token: one whose token ends in half an hour lasts
    // half an hour, not twelve.
    let ending = app
        .server
        .db
        .write_blocking(|conn| {
            let new = NewToken::new(Role::Organiser, "Ends soon", Some(1))?;
            tokens::issue(
                conn,
                "test",
                &new,
                now() - chrono::Duration::hours(24) + chrono::Duration::minutes(30),
            )
        })
        .unwrap();
    let answer = browser.sign_in(&ending.secret);
    assert_eq!(answer.status, 303, "{}", answer.body);
    let (_, line) = answer.cookie("rp_board").unwrap();
    let max_age: i64 = line
        .split("Max-Age=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!((1700..=1800).contains(&max_age), "{line}");
}

fn token_list_never_shows_a_secret(backend: Backend) {
    let app = TestApp::spawn(backend);
    let created = rallypoint(
        &app,
        &[
            "token",
            "create",
            "--role",
            "organiser",
            "--name",
            "From the shell",
            "--expires-in-days",
            "30",
        ],
    );
    assert!(created.status.success(), "{created:?}");
    let from_cli = stdout(&created).lines().last().unwrap().trim().to_owned();
    assert!(from_cli.starts_with("rpa_"), "{created:?}");
    assert!(stdout(&created).contains("valid until"), "{created:?}");
    let (revoked_id, from_api) = create_token(&app, json!({"name": "From the API", "role": "admin"}));
    assert_eq!(
        delete(&app, &format!("/api/v1/tokens/{revoked_id}"), Some(&app.admin)).status,
        200
    );
    let refused = rallypoint(
        &app,
        &[
            "token",
            "create",
            "--role",
            "admin",
            "--name",
            "x",
            "--expires-in-days",
            "-1",
        ],
    );
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("expires_in_days"),
        "{refused:?}"
    );

    let hashes: Vec<String> = app
        .server
        .db
        .read_blocking(|conn| {
            api_tokens::table
                .select(api_tokens::token_hash)
                .load(conn)
                .map_err(DbError::from)
        })
        .unwrap();
    assert_eq!(hashes.len(), 4);
    let secrets = [&app.admin, &app.organiser, &from_cli, &from_api];

    let listed = rallypoint(&app, &["token", "list"]);
    assert!(listed.status.success(), "{listed:?}");
    let table = stdout(&listed);
    let api = get(&app, "/api/v1/tokens", Some(&app.admin));
    assert_eq!(api.status, 200, "{}", api.body);
    for shown in [&table, &api.body] {
        for secret in secrets {
            // Any sizeable piece of a secret, with or without its prefix.
            assert!(!shown.contains(&secret[4..20]), "a secret in:\n{shown}");
        }
        for hash in &hashes {
            assert!(!shown.contains(&hash[..16]), "a hash in:\n{shown}");
        }
        assert!(!shown.contains("rpa_"), "{shown}");
    }
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    for column in ["ID", "ROLE", "STATUS", "CREATED", "EXPIRES", "REVOKED", "NAME"] {
        assert!(lines[0].contains(column), "{table}");
    }
    let line = |name: &str| {
        *lines
            .iter()
            .find(|l| l.ends_with(name))
            .unwrap_or_else(|| panic!("{table}"))
    };
    assert!(line("From the shell").contains(" organiser "), "{table}");
    assert!(line("From the shell").contains(" active "), "{table}");
    assert!(line("From the API").contains(" revoked "), "{table}");
    assert!(line("From the API").starts_with(&revoked_id), "{table}");
    assert!(line("test admin").contains(" active "), "{table}");

    let api = api.json();
    let listed = api["tokens"].as_array().unwrap();
    assert_eq!(listed.len(), 4);
    for token in listed {
        let mut keys: Vec<&str> = token.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created_at",
                "expires_at",
                "id",
                "name",
                "revoked_at",
                "role",
                "status"
            ]
        );
    }
}

fn organisers_may_not_use_the_token_api(backend: Backend) {
    let app = TestApp::spawn(backend);
    let id = token_id(&app, "test admin");
    let before = count_tokens(&app);
    get(&app, "/api/v1/tokens", Some(&app.organiser)).problem(403, "forbidden");
    app.post_json(
        "/api/v1/tokens",
        &json!({"name": "Mine now", "role": "admin"}),
        Some(&app.organiser),
    )
    .problem(403, "forbidden");
    delete(&app, &format!("/api/v1/tokens/{id}"), Some(&app.organiser)).problem(403, "forbidden");
    get(&app, "/api/v1/tokens", None).problem(401, "unauthorized");
    app.post_json("/api/v1/tokens", &json!({"name": "x", "role": "admin"}), None)
        .problem(401, "unauthorized");
    delete(&app, &format!("/api/v1/tokens/{id}"), None).problem(401, "unauthorized");
    assert_eq!(count_tokens(&app), before);
    assert_eq!(
        roster_status(&app, &app.admin),
        200,
        "the admin token was not revoked"
    );
}

fn bad_token_input_is_422_field_by_field_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend);
    let (tokens, audit) = (count_tokens(&app), token_audit(&app).len());
    let reply = app.post_json(
        "/api/v1/tokens",
        &json!({"name": "", "role": "root", "expires_in_days": -5}),
        Some(&app.admin),
    );
    let problem = reply.problem(422, "validation-failed");
    let errors = problem["errors"].as_object().unwrap();
    let mut fields: Vec<&str> = errors.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["expires_in_days", "name", "role"], "{problem}");
    assert_eq!(errors["role"], json!(["must be admin, organiser or steward"]));
    assert_eq!(errors["expires_in_days"], json!(["must be between 1 and 3650"]));

    for (body, field) in [
        (
            json!({"name": "x", "role": "admin", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "role": "admin", "expires_in_days": 3651}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "role": "admin", "expires_in_days": 1.5}),
            "expires_in_days",
        ),
        (json!({"name": "   ", "role": "admin"}), "name"),
        (json!({"name": "two\nlines", "role": "admin"}), "name"),
        (json!({"name": "x".repeat(101), "role": "admin"}), "name"),
        (json!({"name": "x"}), "role"),
        (
            json!({"name": "x", "role": "admin", "secret": "rpa_mine"}),
            "secret",
        ),
    ] {
        let problem = app
            .post_json("/api/v1/tokens", &body, Some(&app.admin))
            .problem(422, "validation-failed");
        assert!(problem["errors"][field].is_array(), "{body}: {problem}");
    }
    // A form says the same.
    let form = send(
        ureq::post(&app.url("/api/v1/tokens")),
        "application/x-www-form-urlencoded",
        "name=&role=root&expires_in_days=-1",
        Some(&app.admin),
    );
    let problem = form.problem(422, "validation-failed");
    assert_eq!(problem["errors"].as_object().unwrap().len(), 3, "{problem}");

    assert_eq!(count_tokens(&app), tokens, "nothing written");
    assert_eq!(token_audit(&app).len(), audit, "nothing audited");
    assert_eq!(count_sessions(&app), 0);
}
