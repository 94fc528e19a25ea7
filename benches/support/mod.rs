//! What the benches share: a fresh database for one run, a SQLite file or a PostgreSQL
//! database of its own (made through `RALLYPOINT_BENCH_POSTGRES_URL`, an admin URL),
//! removed when dropped.

// Each bench is a crate of its own and uses only part of this.
#![allow(dead_code)]

pub mod event;
pub mod receiver;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use rallypoint::db::DatabaseUrl;
use rallypoint::settings::Settings;
use rallypoint::startup::Application;

/// The admin URL of the PostgreSQL server to bench on, when one is set.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("RALLYPOINT_BENCH_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

pub struct BenchDatabase {
    pub url: DatabaseUrl,
    admin_url: Option<String>,
    dir: std::path::PathBuf,
}

impl BenchDatabase {
    /// A new database named after `prefix`: on PostgreSQL when `postgres` (the admin URL
    /// must be set), else SQLite.
    pub fn create(prefix: &str, postgres: bool) -> Self {
        let unique = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        let dir = std::env::temp_dir().join(&unique);
        std::fs::create_dir_all(&dir).unwrap();
        if !postgres {
            return Self {
                url: DatabaseUrl::Sqlite(dir.join("bench.db")),
                admin_url: None,
                dir,
            };
        }
        let admin_url = postgres_admin_url().expect("RALLYPOINT_BENCH_POSTGRES_URL is set");
        let mut admin = diesel::PgConnection::establish(&admin_url).expect("PostgreSQL answers");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{unique}\""))
            .unwrap();
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        Self {
            url: DatabaseUrl::Postgres(format!("{base}/{unique}")),
            admin_url: Some(admin_url),
            dir,
        }
    }

    /// PostgreSQL when its admin URL is set, else SQLite.
    pub fn from_env(prefix: &str) -> Self {
        Self::create(prefix, postgres_admin_url().is_some())
    }

    pub fn name(&self) -> &'static str {
        if self.url.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    /// Settings of a server on this database: a free port, no mail worker, no event
    /// files, warnings only in the log.
    pub fn server_settings(&self) -> Settings {
        Settings::load_from(vec![
            ("RALLYPOINT_DATABASE_URL".to_owned(), self.url_text()),
            ("RALLYPOINT_BIND".to_owned(), "127.0.0.1:0".to_owned()),
            ("RALLYPOINT_MAIL_WORKER".to_owned(), "false".to_owned()),
            ("RALLYPOINT_EVENTS_DIR".to_owned(), "/nonexistent".to_owned()),
            ("RALLYPOINT_LOG".to_owned(), "warn".to_owned()),
        ])
        .expect("bench settings")
    }

    /// The URL as the settings take it.
    pub fn url_text(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(path) => path.to_string_lossy().into_owned(),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let (Some(admin_url), DatabaseUrl::Postgres(url)) = (&self.admin_url, &self.url) {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let database = url.rsplit('/').next().unwrap_or_default();
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"));
            }
        }
    }
}

/// The real server on port 0, on its own thread.
pub struct Server {
    pub address: SocketAddr,
    handle: ServerHandle,
    thread: std::thread::JoinHandle<()>,
}

impl Server {
    pub fn start(settings: Settings) -> Self {
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(&settings).expect("the server starts");
                sender.send((app.address(), app.handle())).unwrap();
                app.run_until_stopped().await.unwrap();
            })
        });
        let (address, handle) = receiver.recv().unwrap();
        Self {
            address,
            handle,
            thread,
        }
    }

    pub fn stop(self) {
        actix_web::rt::System::new().block_on(self.handle.stop(true));
        let _ = self.thread.join();
    }
}

/// `--{name} N` on the bench's command line (after `cargo bench --bench X --`).
pub fn number_argument(name: &str) -> Option<u32> {
    let flag = format!("--{name}");
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|arg| *arg == flag)?;
    let value = args.get(at + 1).unwrap_or_else(|| panic!("{flag} N"));
    Some(value.parse().unwrap_or_else(|_| panic!("{flag} takes a number")))
}
