//! One connection to either backend: opening it with the per-connection settings, and
//! the r2d2 manager that fills the pools and notices when the database stops answering.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::result::ConnectionError;

use super::DatabaseUrl;

/// The connection every store function takes; the backend is picked from the URL scheme.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Tuning knobs of the storage layer (`[database]` in the settings).
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// Read connections (SQLite) or all connections (PostgreSQL).
    pub pool_size: u32,
    /// How long a request may wait for a connection or a lock before it gets a 503.
    pub lock_wait: Duration,
    /// `PRAGMA synchronous` for SQLite: FULL makes a commit survive power loss, not only
    /// a killed process.
    pub sqlite_synchronous: String,
    /// Most units of work one SQLite commit may carry.
    pub max_batch: usize,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            lock_wait: Duration::from_secs(5),
            sqlite_synchronous: "FULL".into(),
            max_batch: 256,
        }
    }
}

/// A statement running longer than this is cancelled (a 503), whatever the lock wait.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens one connection of the right kind and applies the per-connection settings.
pub fn establish(
    url: &DatabaseUrl,
    options: &DbOptions,
    read_only: bool,
) -> Result<DbConnection, ConnectionError> {
    let setup = |conn: &mut dyn SimpleConnection, sql: String| {
        conn.batch_execute(&sql)
            .map_err(ConnectionError::CouldntSetupConfiguration)
    };
    match url {
        DatabaseUrl::Sqlite(path) => {
            let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())?;
            // temp_store = MEMORY keeps the savepoint sub-journals of group commit (the
            // pages a failed request's savepoint would restore) in memory instead of a
            // temporary file written on every request; they are never needed after a
            // crash, when the WAL alone decides what was committed. secure_delete = ON
            // overwrites with zeros what a delete or an update frees (cells, free pages),
            // so that an erased value is not left behind in the file (invariant 12; the
            // old page versions in the WAL go with `Database::scrub`).
            setup(
                &mut conn,
                format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
                     PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON; \
                     PRAGMA query_only = {};",
                    options.lock_wait.as_millis(),
                    options.sqlite_synchronous,
                    if read_only { "ON" } else { "OFF" }
                ),
            )?;
            Ok(DbConnection::Sqlite(conn))
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn = diesel::PgConnection::establish(url)?;
            // Bounded waits: a request that cannot get its row lock in time gets a 503.
            setup(
                &mut conn,
                format!(
                    "SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms'; SET TIME ZONE 'UTC';",
                    options.lock_wait.as_millis(),
                    STATEMENT_TIMEOUT.as_millis()
                ),
            )?;
            Ok(DbConnection::Postgres(conn))
        }
    }
}

/// How long a request waits for a connection while the database is known to be
/// unreachable: long enough for a connection freed by a finishing request, short enough
/// that clients get their 503 at once rather than after `lock_wait`.
const UNREACHABLE_CHECKOUT: Duration = Duration::from_millis(250);

/// Whether the last attempt to open a connection failed. The pool keeps retrying in the
/// background (with backoff up to half of `lock_wait`), so the first success clears it
/// and the service recovers by itself when the database comes back.
#[derive(Debug, Default)]
pub(super) struct Reachability {
    unreachable: AtomicBool,
}

impl Reachability {
    fn record(&self, outcome: Result<(), &ConnectionError>) {
        let was_unreachable = self.unreachable.swap(outcome.is_err(), Ordering::Relaxed);
        match outcome {
            Err(error) if !was_unreachable => tracing::error!(%error, "database unreachable"),
            Ok(()) if was_unreachable => tracing::info!("database reachable again"),
            _ => {}
        }
    }

    pub(super) fn checkout_wait(&self, wait: Duration) -> Duration {
        if self.unreachable.load(Ordering::Relaxed) {
            wait.min(UNREACHABLE_CHECKOUT)
        } else {
            wait
        }
    }
}

/// r2d2 manager that picks the backend from the URL (diesel's own would try SQLite with
/// any string), applies the connection settings and tracks whether the database answers.
#[derive(Debug)]
pub struct Manager {
    pub(super) url: DatabaseUrl,
    pub(super) options: DbOptions,
    pub(super) read_only: bool,
    pub(super) reachability: Arc<Reachability>,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let connection = establish(&self.url, &self.options, self.read_only);
        self.reachability.record(connection.as_ref().map(|_| ()));
        connection.map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<Manager>;
