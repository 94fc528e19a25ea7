//! Storage plumbing: one connection type over SQLite and PostgreSQL, the pools, the
//! embedded migrations, and [`Database`], which runs every unit of work as one
//! transaction off the async threads.
//!
//! Writes on SQLite go through a single writer thread (one connection, `BEGIN IMMEDIATE`):
//! SQLite allows one writer at a time, and several pooled writers only spin on
//! `SQLITE_BUSY`. The writer commits whatever is queued in one transaction, each unit of
//! work in its own savepoint (group commit), and answers each caller only after the
//! commit — so one fsync serves many requests and a 2xx is still durable.
//! On PostgreSQL every unit of work is its own transaction on a pooled connection. The
//! same group commit was tried there (one writer thread per instance) and measured at a
//! third of the pooled throughput: PostgreSQL overlaps concurrent transactions on both
//! cores and flushes their WAL together by itself, which one writer cannot.

pub mod schema;

/// The current time as stored: UTC without offset.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

mod connection;
mod error;
mod migrations;
mod url;
mod writer;

// The items of these files keep their old paths (`db::DbConnection`, `db::establish`…),
// so no code outside `db` names the files. `MultiBackend` and its kin are what
// `#[derive(MultiConnection)]` generates next to `DbConnection`.
pub use connection::{
    establish, DbConnection, DbOptions, Manager, MultiBackend, MultiField, MultiRawValue, MultiRow, Pool,
};
pub use error::{DbError, UnitError};
pub use migrations::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
pub use url::DatabaseUrl;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2;
use tokio::sync::oneshot;

use connection::Reachability;
use writer::{writer_gone, SqliteWriter};

/// How long start-up, the CLI and workers (the `_blocking` calls) wait for a connection.
const PATIENT_CHECKOUT: Duration = Duration::from_secs(30);

struct Inner {
    url: DatabaseUrl,
    options: DbOptions,
    pool: Pool,
    writer: Option<SqliteWriter>,
    reachability: Arc<Reachability>,
    /// Units of work rerun after a deadlock or serialization failure (PostgreSQL).
    reruns: AtomicU64,
}

/// Handle to the database: cheap to clone, shared by handlers, workers and the CLI.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.inner.url.redacted())
            .finish()
    }
}

impl Database {
    /// Connects (creating the SQLite file and its directory if needed). Does not migrate.
    pub fn connect(url: &DatabaseUrl, options: DbOptions) -> Result<Self, DbError> {
        if let DatabaseUrl::Sqlite(path) = url {
            create_parent_dir(path)?;
        }
        // Connect once up front so that a bad URL fails start-up with its real reason.
        let first = establish(url, &options, false)
            .map_err(|e| DbError::Unavailable(format!("cannot connect to {}: {e}", url.redacted())))?;
        let reachability = Arc::new(Reachability::default());
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.lock_wait)
            // `Reachability` logs an outage once, not every retry.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            // No `SELECT 1` before every checkout: it was one round trip in ten of a
            // registration. A connection the server closed reports itself broken after
            // the failed statement (that request gets a 503) and the pool drops it.
            .test_on_check_out(false)
            // Connections open in the background; `first` above proved the URL works.
            .build_unchecked(Manager {
                url: url.clone(),
                options: options.clone(),
                read_only: !url.is_postgres(),
                reachability: reachability.clone(),
            });
        let writer = match url {
            DatabaseUrl::Sqlite(_) => Some(SqliteWriter::spawn(first, url.clone(), options.clone())),
            DatabaseUrl::Postgres(_) => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                url: url.clone(),
                options,
                pool,
                writer,
                reachability,
                reruns: AtomicU64::new(0),
            }),
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.inner.url
    }

    /// Runs `work` as one write transaction and returns once it is committed.
    /// On PostgreSQL a deadlock or serialization failure reruns it (hence `Fn`).
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: Fn(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: UnitError,
    {
        match &self.inner.writer {
            Some(writer) => {
                let (sender, receiver) = oneshot::channel();
                let deadline = Instant::now() + self.inner.options.lock_wait;
                writer.submit(
                    work,
                    Some(deadline),
                    Box::new(move |answer| drop(sender.send(answer))),
                )?;
                receiver.await.unwrap_or_else(|_| Err(E::from(writer_gone())))
            }
            None => {
                let db = self.clone();
                tokio::task::spawn_blocking(move || db.write_pooled(&work, db.inner.options.lock_wait))
                    .await
                    .unwrap_or_else(|e| Err(E::from(join_failure(e))))
            }
        }
    }

    /// [`Database::write`] for synchronous callers (start-up, CLI, workers on their own
    /// thread), which wait for the SQLite writer as long as it takes.
    pub fn write_blocking<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: Fn(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: UnitError,
    {
        match &self.inner.writer {
            Some(writer) => {
                let (sender, receiver) = mpsc::sync_channel(1);
                writer.submit(work, None, Box::new(move |answer| drop(sender.send(answer))))?;
                receiver.recv().unwrap_or_else(|_| Err(E::from(writer_gone())))
            }
            None => self.write_pooled(&work, PATIENT_CHECKOUT),
        }
    }

    /// Runs `work` on a read connection, in a transaction so that it sees one snapshot.
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: UnitError,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.read_within(work, db.inner.options.lock_wait))
            .await
            .unwrap_or_else(|e| Err(E::from(join_failure(e))))
    }

    /// Runs a read of ONE statement on a read connection, outside a transaction: a single
    /// statement sees one snapshot by itself, so the transaction [`Database::read`] opens
    /// would only add round trips (on PostgreSQL `BEGIN`, `SET TRANSACTION` and `COMMIT`,
    /// three of the four). For what every authenticated request does first: the token.
    pub async fn read_statement<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: UnitError,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.checkout(db.inner.options.lock_wait)?;
            work(&mut conn)
        })
        .await
        .unwrap_or_else(|e| Err(E::from(join_failure(e))))
    }

    pub fn read_blocking<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: UnitError,
    {
        self.read_within(work, PATIENT_CHECKOUT)
    }

    fn read_within<T, E, F>(&self, work: F, checkout: Duration) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: UnitError,
    {
        let mut conn = self.checkout(checkout)?;
        let conn: &mut DbConnection = &mut conn;
        conn.transaction(|conn| {
            if let DbConnection::Postgres(pg) = conn {
                // One snapshot for every statement of the read, as SQLite gives.
                pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
            }
            work(conn)
        })
    }

    fn checkout(&self, timeout: Duration) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.inner
            .pool
            .get_timeout(self.inner.reachability.checkout_wait(timeout))
            .map_err(|e| DbError::Unavailable(format!("no database connection: {e}")))
    }

    fn write_pooled<T, E, F>(&self, work: &F, checkout: Duration) -> Result<T, E>
    where
        F: Fn(&mut DbConnection) -> Result<T, E>,
        E: UnitError,
    {
        const ATTEMPTS: u32 = 4;
        let mut conn = self.checkout(checkout)?;
        let mut attempt = 1;
        loop {
            match conn.transaction(|conn| work(conn)) {
                Err(error) if error.is_conflict() && attempt < ATTEMPTS => {
                    tracing::debug!(attempt, "transaction conflict, retrying");
                    self.inner.reruns.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(u64::from(attempt) * 5));
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// How many units of work were rerun after a deadlock or a serialization failure
    /// since this handle was made (always 0 on SQLite, whose one writer cannot
    /// deadlock): lock orders that hold never need a rerun.
    pub fn conflict_reruns(&self) -> u64 {
        self.inner.reruns.load(Ordering::Relaxed)
    }

    /// After a committed write that removed personal data (an erasure, a retention run,
    /// a purge): takes the old versions of the rows out of the database files, as far
    /// as the backend allows (invariant 12, see docs/exports-and-data-protection.md).
    ///
    /// SQLite: every connection runs with `secure_delete = ON`, so the file itself keeps
    /// no freed bytes; the WAL still holds the pages as they were before, until a
    /// checkpoint copies the new versions into the file and `TRUNCATE` empties the WAL.
    /// The checkpoint waits (250 ms at a time, up to 20 attempts, about 10 s in all) for
    /// readers still on an older snapshot; `Err` says it could not finish (the WAL may still hold old
    /// frames: the next scrub or checkpoint takes them). PostgreSQL: `VACUUM` of
    /// `tables` (outside a transaction), which prunes the dead row versions.
    pub fn scrub_blocking(&self, tables: &[&str]) -> Result<(), DbError> {
        let started = Instant::now();
        let outcome = match &self.inner.url {
            DatabaseUrl::Sqlite(_) => self.checkpoint_truncate(),
            DatabaseUrl::Postgres(_) => {
                let mut conn = self.checkout(PATIENT_CHECKOUT)?;
                let conn: &mut DbConnection = &mut conn;
                if tables.is_empty() {
                    return Ok(());
                }
                conn.batch_execute(&format!("VACUUM {}", tables.join(", ")))
                    .map_err(DbError::from)
            }
        };
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "database scrubbed"
        );
        outcome
    }

    /// [`Database::scrub_blocking`] off the async threads.
    pub async fn scrub(&self, tables: &'static [&'static str]) -> Result<(), DbError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.scrub_blocking(tables))
            .await
            .unwrap_or_else(|e| Err(join_failure(e)))
    }

    fn checkpoint_truncate(&self) -> Result<(), DbError> {
        #[derive(QueryableByName)]
        struct Checkpoint {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            busy: i32,
        }
        const ATTEMPTS: u64 = 20;
        // A connection of its own: the writer's is busy with batches, and the checkpoint
        // needs no transaction open on it. While it waits for readers on an older
        // snapshot it holds the write lock, so each attempt waits briefly and the writer
        // gets the lock back between attempts: registrations stall for at most this long.
        let mut conn = establish(&self.inner.url, &self.inner.options, false)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        let DbConnection::Sqlite(raw) = &mut conn else {
            unreachable!("a SQLite URL opens a SQLite connection")
        };
        raw.batch_execute("PRAGMA busy_timeout = 250")?;
        let mut last = String::from("readers kept an older snapshot");
        for attempt in 1..=ATTEMPTS {
            match diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result::<Checkpoint>(raw) {
                Ok(checkpoint) if checkpoint.busy == 0 => return Ok(()),
                Ok(_) => {}
                // SQLITE_BUSY from the writer's lock: the same, try again.
                Err(error) => last = error.to_string(),
            }
            std::thread::sleep(Duration::from_millis(attempt.min(5) * 50));
        }
        Err(DbError::Unavailable(format!(
            "the WAL checkpoint could not finish after {ATTEMPTS} attempts: {last}"
        )))
    }

    /// Applies pending migrations of the backend's set; returns the versions applied.
    pub fn run_migrations(&self) -> Result<Vec<String>, DbError> {
        let mut conn = establish(&self.inner.url, &self.inner.options, false)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        migrations::run_pending(&mut conn)
    }

    /// True when the database answers and has every migration this build knows.
    pub fn is_ready(&self) -> Result<bool, DbError> {
        if self
            .inner
            .writer
            .as_ref()
            .is_some_and(|writer| !writer.is_alive())
        {
            return Err(writer_gone());
        }
        let mut conn = self.checkout(self.inner.options.lock_wait)?;
        migrations::has_pending(&mut conn)
            .map(|pending| !pending)
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }
}

fn create_parent_dir(path: &Path) -> Result<(), DbError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| DbError::Unavailable(format!("cannot create directory {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

/// A failed `spawn_blocking` task: a panic in the unit of work is a bug (500), a task
/// cancelled at shutdown is unavailability (503).
fn join_failure(error: tokio::task::JoinError) -> DbError {
    if error.is_panic() {
        tracing::error!(%error, "a unit of work panicked; its transaction was rolled back");
        DbError::Panicked("a unit of work panicked".into())
    } else {
        DbError::Unavailable(error.to_string())
    }
}
