//! What the benches share: a fresh database for one run, a SQLite file or a PostgreSQL
//! database of its own (made through `RALLYPOINT_BENCH_POSTGRES_URL`, an admin URL),
//! removed when dropped.

// Each bench is a crate of its own and uses only part of this.
#![allow(dead_code)]

use diesel::connection::SimpleConnection;
use diesel::Connection;
use rallypoint::db::DatabaseUrl;

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
