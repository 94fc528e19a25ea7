//! Test harness: a real server on port 0 over a fresh database (a SQLite file, or a new
//! PostgreSQL database when RALLYPOINT_TEST_POSTGRES_URL is set), spoken to over HTTP.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use rallypoint::db::Database;
use rallypoint::domain::access::{create_api_token, Role};
use rallypoint::settings::Settings;
use rallypoint::startup::Application;
use serde_json::{json, Value};

pub const DEMO_EVENT: &str = "cmr-charleroi-2024";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL backend when configured. In CI (CI=true) a missing URL is a failure,
/// not a skip.
pub fn postgres() -> Option<Backend> {
    match std::env::var("RALLYPOINT_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("CI=true but RALLYPOINT_TEST_POSTGRES_URL is not set: the PostgreSQL half must run in CI")
        }
        _ => {
            eprintln!("RALLYPOINT_TEST_POSTGRES_URL is not set: PostgreSQL variant not run");
            None
        }
    }
}

/// Declares each listed test body `fn name(backend: Backend)` once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::helpers::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if let Some(backend) = $crate::helpers::postgres() { super::$name(backend) }
            } )*
        }
    };
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        uuid::Uuid::now_v7().simple()
    )
}

/// A database (and a scratch directory: SQLite file, .eml files) that exists for one
/// test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    pub dir: PathBuf,
    pg_database: Option<String>,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        let dir = std::env::temp_dir().join(unique_name("rallypoint-test"));
        std::fs::create_dir_all(&dir).unwrap();
        match backend {
            Backend::Sqlite => Self {
                url: dir.join("test.db").to_string_lossy().into_owned(),
                dir,
                pg_database: None,
            },
            Backend::Postgres => {
                let base = std::env::var("RALLYPOINT_TEST_POSTGRES_URL").unwrap();
                let name = unique_name("rp");
                let mut admin = diesel::PgConnection::establish(&base).unwrap_or_else(|e| {
                    panic!("cannot reach PostgreSQL at RALLYPOINT_TEST_POSTGRES_URL: {e}")
                });
                admin
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .unwrap();
                Self {
                    url: with_database(&base, &name),
                    dir,
                    pg_database: Some(name),
                }
            }
        }
    }
}

impl TestDb {
    /// A database at `url` that the test owns and removes itself (only the scratch
    /// directory goes with this value).
    pub fn at(url: String) -> Self {
        let dir = std::env::temp_dir().join(unique_name("rallypoint-test"));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            url,
            dir,
            pg_database: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(name) = self.pg_database.take() {
            let base = std::env::var("RALLYPOINT_TEST_POSTGRES_URL").unwrap();
            if let Ok(mut admin) = diesel::PgConnection::establish(&base) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

/// `postgres://u@h:p/old?x` with the database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    match base[scheme_end..].find('/') {
        Some(slash) => format!("{}/{name}{query}", &base[..scheme_end + slash]),
        None => format!("{base}/{name}{query}"),
    }
}

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/events")
}

/// Settings for a test server on `db`: port 0, quick mail polling and retries, emails
/// to files in the test's directory unless a test points them at an SMTP server.
pub fn settings_for(db: &TestDb) -> Settings {
    let mut settings = Settings::load_from(vec![
        ("RALLYPOINT_DATABASE_URL".to_owned(), db.url.clone()),
        ("RALLYPOINT_BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("RALLYPOINT_WORKERS".to_owned(), "2".to_owned()),
        ("RALLYPOINT_LOG".to_owned(), "warn".to_owned()),
    ])
    .unwrap();
    settings.events.dir = events_dir();
    settings.database.pool_size = 4;
    settings.mail.outbox_dir = db.dir.join("outbox");
    settings.mail.poll_interval_ms = 50;
    settings.mail.retry_base_ms = 50;
    settings.mail.retry_max_ms = 300;
    settings.mail.lease_seconds = 5;
    // Load tests fire hundreds of requests from one address; the limit has its own test.
    settings.limits.public_writes_per_minute = 0;
    settings
}

/// A running server.
pub struct Server {
    pub address: SocketAddr,
    pub db: Database,
    pub settings: Settings,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(settings: Settings) -> Self {
        rallypoint::telemetry::init(&settings.log.filter);
        let (sender, receiver) = std::sync::mpsc::channel();
        let kept = settings.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(&settings).expect("the application starts");
                sender
                    .send((app.address(), app.handle(), app.database().clone()))
                    .unwrap();
                app.run_until_stopped().await.unwrap();
            })
        });
        let (address, handle, db) = receiver.recv().expect("the server thread reports its address");
        Self {
            address,
            db,
            settings: kept,
            handle,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            actix_web::rt::System::new().block_on(self.handle.stop(true));
            let _ = thread.join();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A server on a fresh database with an admin and an organiser token.
pub struct TestApp {
    pub server: Server,
    pub admin: String,
    pub organiser: String,
    pub db: TestDb,
    pub backend: Backend,
}

impl TestApp {
    pub fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {})
    }

    /// A test app whose settings `adjust` changes first.
    pub fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_on(TestDb::new(backend), backend, adjust)
    }

    /// A test app on a database the test made itself.
    pub fn spawn_on(db: TestDb, backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = settings_for(&db);
        adjust(&mut settings);
        let server = Server::start(settings);
        let admin = token(&server.db, Role::Admin, "test admin");
        let organiser = token(&server.db, Role::Organiser, "test organiser");
        Self {
            server,
            admin,
            organiser,
            db,
            backend,
        }
    }

    /// Stops the server and starts a new one on the same database.
    pub fn restart(self) -> Self {
        let TestApp {
            server,
            admin,
            organiser,
            db,
            backend,
        } = self;
        let settings = server.settings.clone();
        server.stop();
        let server = Server::start(settings);
        Self {
            server,
            admin,
            organiser,
            db,
            backend,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn get(&self, path: &str) -> Reply {
        call(ureq::get(&self.url(path)), None)
    }

    pub fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        send(
            ureq::post(&self.url(path)),
            "application/json",
            &body.to_string(),
            token,
        )
    }

    pub fn post_form(&self, path: &str, body: &str) -> Reply {
        send(
            ureq::post(&self.url(path)),
            "application/x-www-form-urlencoded",
            body,
            None,
        )
    }

    pub fn register(&self, event: &str, body: &Value) -> Reply {
        self.post_json(&format!("/api/v1/events/{event}/registrations"), body, None)
    }

    pub fn event(&self, slug: &str) -> Value {
        let reply = self.get(&format!("/api/v1/events/{slug}"));
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    /// Creates an event with one visit per (slug, capacity) through the admin API.
    pub fn create_event(&self, slug: &str, extra: Value, visits: &[(&str, i64)]) -> Value {
        let mut body = json!({
            "slug": slug, "name": format!("Event {slug}"), "timezone": "Europe/Brussels",
            "starts_on": "2030-06-01", "ends_on": "2030-06-02", "assignment_mode": "first_come"
        });
        if let Value::Object(extra) = extra {
            body.as_object_mut().unwrap().extend(extra);
        }
        let reply = self.post_json("/api/v1/events", &body, Some(&self.admin));
        assert_eq!(reply.status, 201, "{}", reply.body);
        for (visit, capacity) in visits {
            let reply = self.post_json(
                &format!("/api/v1/events/{slug}/site-visits"),
                &json!({
                    "slug": visit, "name": format!("Visit {visit}"), "location": "Charleroi",
                    "starts_at": "2030-06-02T13:30:00+02:00", "ends_at": "2030-06-02T17:00:00+02:00",
                    "capacity": capacity
                }),
                Some(&self.admin),
            );
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
        self.event(slug)
    }
}

pub fn token(db: &Database, role: Role, name: &str) -> String {
    let name = name.to_owned();
    db.write_blocking(move |conn| create_api_token(conn, role, &name, rallypoint::domain::now()))
        .unwrap()
}

/// Asserts the answer to a registration whose address already has an active registration
/// for the event (invariant 13): a 201 shaped like a new registration's, whose manage
/// link opens nothing (no second registration was made).
pub fn assert_duplicate_answer(app: &TestApp, reply: &Reply) {
    assert_eq!(reply.status, 201, "{}", reply.body);
    let body = reply.json();
    assert!(body["id"].is_string() && body["manage_url"].is_string(), "{body}");
    let location = reply
        .location
        .as_deref()
        .expect("a Location, like a new registration's");
    assert_eq!(
        app.get(location).status,
        404,
        "the duplicate's link opens nothing"
    );
}

/// How many registrations the event has, as the organisers' list counts them.
pub fn registrations_total(app: &TestApp, event: &str) -> i64 {
    let reply = call(
        ureq::get(&app.url(&format!("/api/v1/events/{event}/registrations")))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["total"].as_i64().unwrap()
}

/// A participant body with a unique email.
pub fn participant(n: usize, preferences: &[&str]) -> Value {
    let country = ["BE", "IT", "PT", "PL", "DE"][n % 5];
    json!({
        "first_name": format!("Participant{n}"), "last_name": "Tester",
        "email": format!("participant{n}@example.org"), "organisation": "Test Org",
        "country": country, "preferences": preferences, "consent": true
    })
}

/// An HTTP answer, whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub request_id: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts a problem document of this status and type; returns it.
    pub fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, "application/problem+json", "{}", self.body);
        let body = self.json();
        assert_eq!(body["type"], kind, "{body}");
        assert_eq!(body["status"], status, "{body}");
        body
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(60))
        .build()
}

pub fn call(request: ureq::Request, body: Option<(&str, &str)>) -> Reply {
    let result = match body {
        Some((content_type, body)) => request.set("Content-Type", content_type).send_string(body),
        None => request.call(),
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(other) => panic!("request failed: {other}"),
    };
    Reply {
        status: response.status(),
        content_type: response.header("content-type").unwrap_or_default().to_owned(),
        location: response.header("location").map(str::to_owned),
        retry_after: response.header("retry-after").map(str::to_owned),
        request_id: response.header("x-request-id").map(str::to_owned),
        body: response.into_string().unwrap_or_default(),
    }
}

pub fn send(request: ureq::Request, content_type: &str, body: &str, token: Option<&str>) -> Reply {
    let request = match token {
        Some(token) => request.set("Authorization", &format!("Bearer {token}")),
        None => request,
    };
    call(request, Some((content_type, body)))
}

/// A request to run on one of the load threads.
pub type Job<T> = Box<dyn FnOnce(&ureq::Agent) -> T + Send>;

/// Runs `jobs` on `threads` threads, each with its own connection pool; answers in order.
pub fn concurrently<T: Send + 'static>(threads: usize, jobs: Vec<Job<T>>) -> Vec<T> {
    let total = jobs.len();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(
        jobs.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let queue = queue.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let agent = agent();
                let mut done = Vec::new();
                barrier.wait();
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some((index, job)) = next else { break };
                    done.push((index, job(&agent)));
                }
                done
            })
        })
        .collect();
    let mut results: Vec<(usize, T)> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert_eq!(results.len(), total);
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, value)| value).collect()
}

/// `rallypoint serve` as a child process; returns it and its base URL.
pub fn spawn_binary(db: &TestDb, config: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rallypoint"))
        .env("RALLYPOINT_DATABASE_URL", &db.url)
        .env("RALLYPOINT_BIND", "127.0.0.1:0")
        .env("RALLYPOINT_CONFIG", config)
        .env("RALLYPOINT_EVENTS_DIR", events_dir())
        .env("RALLYPOINT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("the bound address")
        .to_owned();
    (child, url)
}
