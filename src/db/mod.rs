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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tokio::sync::oneshot;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The connection every store function takes; the backend is picked from the URL scheme.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Where the data lives, parsed from `database.url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// `postgres://…` / `postgresql://…` is PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a
    /// bare path is SQLite. Any other scheme is refused rather than guessed.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() {
            return Err("the database URL is empty".into());
        }
        if path.contains("://") {
            return Err(format!(
                "unsupported database URL scheme in `{}` (use a SQLite path, sqlite://PATH or postgres://…)",
                path.split("://").next().unwrap_or_default()
            ));
        }
        if path == ":memory:" || path.contains("mode=memory") {
            // Every pooled connection would get its own empty database.
            return Err("in-memory SQLite is not supported: give a file path".into());
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// The URL without credentials, for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}://***@{}", &url[..scheme], &url[at + 1..])
                }
                _ => url.clone(),
            },
        }
    }
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

/// Storage failures, classified once so that callers map them without string matching.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Contention or an unreachable database: the client should retry (HTTP 503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A deadlock or serialization failure: the unit of work is rerun.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Query(DieselError),
    /// The unit of work panicked (a bug): its transaction was rolled back (HTTP 500).
    #[error("the unit of work failed: {0}")]
    Panicked(String),
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        use DatabaseErrorKind as Kind;
        match &error {
            DieselError::DatabaseError(Kind::SerializationFailure, info) => {
                Self::Conflict(info.message().to_owned())
            }
            DieselError::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::DatabaseError(_, info) => {
                // PostgreSQL reports these as plain errors (SQLSTATE 40P01, 55P03, 57014)
                // and SQLite as SQLITE_BUSY; diesel exposes only the message.
                let message = info.message();
                if message.contains("deadlock detected") {
                    Self::Conflict(message.to_owned())
                } else if message.contains("lock timeout")
                    || message.contains("statement timeout")
                    || message.contains("database is locked")
                    || message.contains("database table is locked")
                    || message.contains("terminating connection")
                    || message.contains("server closed the connection")
                    || message.contains("no connection to the server")
                    || message.contains("could not send data to server")
                    || message.contains("could not receive data from server")
                    || message.contains("the database system is")
                {
                    Self::Unavailable(message.to_owned())
                } else {
                    Self::Query(error)
                }
            }
            DieselError::BrokenTransactionManager => Self::Unavailable("broken transaction manager".into()),
            _ => Self::Query(error),
        }
    }
}

/// Error types that units of work return: they carry storage errors and say whether the
/// whole unit may be rerun (deadlock, serialization failure).
pub trait UnitError: From<DbError> + From<DieselError> + Send + 'static {
    fn is_conflict(&self) -> bool;
}

impl UnitError for DbError {
    fn is_conflict(&self) -> bool {
        matches!(self, DbError::Conflict(_))
    }
}

/// A statement running longer than this is cancelled (a 503), whatever the lock wait.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long start-up, the CLI and workers (the `_blocking` calls) wait for a connection.
const PATIENT_CHECKOUT: Duration = Duration::from_secs(30);

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
            // crash, when the WAL alone decides what was committed.
            setup(
                &mut conn,
                format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
                     PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA query_only = {};",
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
struct Reachability {
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

    fn checkout_wait(&self, wait: Duration) -> Duration {
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
    url: DatabaseUrl,
    options: DbOptions,
    read_only: bool,
    reachability: Arc<Reachability>,
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

/// A unit of work queued for the SQLite writer thread.
trait WriteJob: Send {
    /// When a request stops waiting (it then gets a 503 and the job is not run).
    fn deadline(&self) -> Option<Instant>;
    /// Runs inside the batch transaction (in a savepoint); the returned closure answers
    /// the caller once the batch's commit is known.
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn FnOnce(Result<(), DbError>) + Send>;
    fn fail(self: Box<Self>, error: DbError);
}

/// Where a unit of work's answer goes: an async waiter or a blocked thread.
type Reply<T, E> = Box<dyn FnOnce(Result<T, E>) + Send>;

struct TypedJob<F, T, E> {
    work: F,
    reply: Reply<T, E>,
    deadline: Option<Instant>,
}

impl<F, T, E> WriteJob for TypedJob<F, T, E>
where
    F: Fn(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: UnitError,
{
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn FnOnce(Result<(), DbError>) + Send> {
        let TypedJob { work, reply, .. } = *self;
        let outcome = conn.transaction(|conn| work(conn));
        Box::new(move |commit| {
            let answer = match (outcome, commit) {
                (Ok(value), Ok(())) => Ok(value),
                (Ok(_), Err(error)) => Err(E::from(error)),
                (Err(error), _) => Err(error),
            };
            reply(answer);
        })
    }

    fn fail(self: Box<Self>, error: DbError) {
        (self.reply)(Err(E::from(error)));
    }
}

struct Inner {
    url: DatabaseUrl,
    options: DbOptions,
    pool: Pool,
    writer: Option<SqliteWriter>,
    reachability: Arc<Reachability>,
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
                self.submit(
                    writer,
                    work,
                    Some(deadline),
                    Box::new(move |answer| drop(sender.send(answer))),
                )?;
                receiver
                    .await
                    .unwrap_or_else(|_| Err(E::from(writer.unanswered())))
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
                self.submit(
                    writer,
                    work,
                    None,
                    Box::new(move |answer| drop(sender.send(answer))),
                )?;
                receiver
                    .recv()
                    .unwrap_or_else(|_| Err(E::from(writer.unanswered())))
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

    fn submit<T, E, F>(
        &self,
        writer: &SqliteWriter,
        work: F,
        deadline: Option<Instant>,
        reply: Reply<T, E>,
    ) -> Result<(), DbError>
    where
        F: Fn(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: UnitError,
    {
        let job = Box::new(TypedJob {
            work,
            reply,
            deadline,
        });
        writer.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => DbError::Unavailable("write queue full".into()),
            mpsc::TrySendError::Disconnected(_) => writer_gone(),
        })
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
                    std::thread::sleep(Duration::from_millis(u64::from(attempt) * 5));
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// Applies pending migrations of the backend's set; returns the versions applied.
    pub fn run_migrations(&self) -> Result<Vec<String>, DbError> {
        let mut conn = establish(&self.inner.url, &self.inner.options, false)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        let applied = match &mut conn {
            DbConnection::Sqlite(conn) => conn
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|versions| versions.iter().map(ToString::to_string).collect()),
            DbConnection::Postgres(conn) => {
                // Several instances may start at once: one migrates, the others wait.
                conn.batch_execute(
                    "SET lock_timeout = 0; SET statement_timeout = 0; SELECT pg_advisory_lock(7261090411)",
                )?;
                let applied = conn
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|versions| versions.iter().map(ToString::to_string).collect());
                conn.batch_execute("SELECT pg_advisory_unlock(7261090411)")?;
                applied
            }
        };
        applied.map_err(|e| DbError::Unavailable(format!("migrations failed: {e}")))
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
        let pending = match &mut *conn {
            DbConnection::Sqlite(conn) => sqlite_has_pending_migration(conn),
            DbConnection::Postgres(conn) => conn.has_pending_migration(POSTGRES_MIGRATIONS),
        };
        pending
            .map(|pending| !pending)
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }
}

/// Whether a migration this build embeds is not recorded as applied, read without
/// writing: diesel's `has_pending_migration` first creates its bookkeeping table, which a
/// read-only SQLite connection refuses ("attempt to write a readonly database"), and
/// `/readyz` would never be ready.
fn sqlite_has_pending_migration(conn: &mut SqliteConnection) -> diesel::migration::Result<bool> {
    use diesel::migration::MigrationSource;
    diesel::table! {
        __diesel_schema_migrations (version) {
            version -> Text,
        }
    }
    let applied: Vec<String> = __diesel_schema_migrations::table
        .select(__diesel_schema_migrations::version)
        .load(conn)?;
    let embedded = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)?;
    Ok(embedded
        .iter()
        .any(|migration| !applied.contains(&migration.name().version().to_string())))
}

fn writer_gone() -> DbError {
    DbError::Unavailable("the database writer has stopped".into())
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

/// The one thread that writes to SQLite, and the queue of units of work it runs.
struct SqliteWriter {
    jobs: mpsc::SyncSender<Box<dyn WriteJob>>,
    /// False once the thread has ended (it could not reconnect after a failed batch).
    alive: Arc<AtomicBool>,
}

/// Marks the writer dead when its thread ends, whichever way it ends.
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl SqliteWriter {
    fn spawn(conn: DbConnection, url: DatabaseUrl, options: DbOptions) -> Self {
        let (jobs, receiver) = mpsc::sync_channel::<Box<dyn WriteJob>>(16 * 1024);
        let alive = Arc::new(AtomicBool::new(true));
        let guard = AliveGuard(alive.clone());
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _guard = guard;
                sqlite_writer_loop(conn, receiver, &url, &options)
            })
            .expect("spawn the SQLite writer thread");
        Self { jobs, alive }
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Why a job was dropped without an answer: the thread is gone, or the job panicked
    /// (the thread lives on, the job's batch was rolled back).
    fn unanswered(&self) -> DbError {
        if self.is_alive() {
            DbError::Panicked("a unit of work panicked".into())
        } else {
            writer_gone()
        }
    }
}

/// Group commit: take everything queued (up to `max_batch`), run each in a savepoint of
/// one `BEGIN IMMEDIATE` transaction, commit once, then answer every caller.
///
/// A unit of work that panics fails its whole batch (500 to every caller; the other
/// units' savepoints went with the rolled-back transaction) and the thread goes on with
/// a fresh connection; only when it cannot reconnect does it end, and `/readyz` says so.
fn sqlite_writer_loop(
    mut conn: DbConnection,
    receiver: mpsc::Receiver<Box<dyn WriteJob>>,
    url: &DatabaseUrl,
    options: &DbOptions,
) {
    let max_batch = options.max_batch.max(1);
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let now = Instant::now();
        let (live, expired): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|job| job.deadline().is_none_or(|deadline| deadline > now));
        for job in expired {
            job.fail(DbError::Unavailable(
                "timed out waiting for the database writer".into(),
            ));
        }
        if live.is_empty() {
            continue;
        }
        if let Err(error) = begin_immediate(&mut conn) {
            tracing::warn!(%error, "cannot begin the write transaction");
            for job in live {
                job.fail(DbError::Unavailable(error.to_string()));
            }
            continue;
        }
        let mut answers = Vec::with_capacity(live.len());
        let mut jobs = live.into_iter();
        let mut panicked = false;
        for job in jobs.by_ref() {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(&mut conn))) {
                Ok(answer) => answers.push(answer),
                Err(_) => {
                    panicked = true;
                    break;
                }
            }
        }
        if panicked {
            tracing::error!("a unit of work panicked; its batch is rolled back and fails");
            let failure = || DbError::Panicked("a unit of work of the same batch panicked".into());
            for answer in answers {
                answer(Err(failure()));
            }
            for job in jobs {
                job.fail(failure());
            }
            // The panic left diesel's transaction state unknown: closing the connection
            // rolls the batch back, and a new one starts clean.
            match establish(url, options, false) {
                Ok(fresh) => conn = fresh,
                Err(error) => {
                    tracing::error!(%error, "the SQLite writer cannot reconnect and stops");
                    return;
                }
            }
            continue;
        }
        let commit = commit_batch(&mut conn);
        for answer in answers {
            answer(
                commit
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| DbError::Unavailable(e.to_string())),
            );
        }
    }
}

fn begin_immediate(conn: &mut DbConnection) -> Result<(), DbError> {
    let DbConnection::Sqlite(raw) = conn else {
        unreachable!("the writer thread only runs for SQLite")
    };
    AnsiTransactionManager::begin_transaction_sql(raw, "BEGIN IMMEDIATE").map_err(DbError::from)
}

fn commit_batch(conn: &mut DbConnection) -> Result<(), DbError> {
    let DbConnection::Sqlite(raw) = conn else {
        unreachable!("the writer thread only runs for SQLite")
    };
    AnsiTransactionManager::commit_transaction(raw).map_err(|e| {
        let error = DbError::from(e);
        tracing::error!(%error, "group commit failed; every request of the batch fails");
        let _ = AnsiTransactionManager::rollback_transaction(raw);
        DbError::Unavailable(error.to_string())
    })
}
