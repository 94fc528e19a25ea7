//! The one thread that writes to SQLite: its queue of units of work, group commit, and
//! what happens when a unit of work panics (see the `db` module documentation for why
//! SQLite writes go through one thread).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;

use super::{establish, DatabaseUrl, DbConnection, DbError, DbOptions, UnitError};

/// A unit of work queued for the SQLite writer thread.
trait WriteJob: Send {
    /// When a request stops waiting (it then gets a 503 and the job is not run).
    fn deadline(&self) -> Option<Instant>;
    /// Runs inside the batch transaction (in a savepoint); the returned closure answers
    /// the caller once the batch's commit is known. A unit of work that panics is
    /// answered at once (a 500) and `Err` tells the loop that the batch must go.
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Result<Answer, Panicked>;
    fn fail(self: Box<Self>, error: DbError);
}

/// Where a unit of work's answer goes: an async waiter or a blocked thread.
type Reply<T, E> = Box<dyn FnOnce(Result<T, E>) + Send>;

/// Answers a caller once the batch's commit is known.
type Answer = Box<dyn FnOnce(Result<(), DbError>) + Send>;

/// A unit of work panicked (its caller has been answered).
struct Panicked;

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

    fn run(self: Box<Self>, conn: &mut DbConnection) -> Result<Answer, Panicked> {
        let TypedJob { work, reply, .. } = *self;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            conn.transaction(|conn| work(conn))
        }));
        let Ok(outcome) = outcome else {
            reply(Err(E::from(DbError::Panicked("a unit of work panicked".into()))));
            return Err(Panicked);
        };
        Ok(Box::new(move |commit| {
            let answer = match (outcome, commit) {
                (Ok(value), Ok(())) => Ok(value),
                (Ok(_), Err(error)) => Err(E::from(error)),
                (Err(error), _) => Err(error),
            };
            reply(answer);
        }))
    }

    fn fail(self: Box<Self>, error: DbError) {
        (self.reply)(Err(E::from(error)));
    }
}

pub(super) fn writer_gone() -> DbError {
    DbError::Unavailable("the database writer has stopped".into())
}

/// The one thread that writes to SQLite, and the queue of units of work it runs.
pub(super) struct SqliteWriter {
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
    pub(super) fn spawn(conn: DbConnection, url: DatabaseUrl, options: DbOptions) -> Self {
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

    /// Queues `work` for the thread; `reply` gets its answer after the commit.
    pub(super) fn submit<T, E, F>(
        &self,
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
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => DbError::Unavailable("write queue full".into()),
            mpsc::TrySendError::Disconnected(_) => writer_gone(),
        })
    }

    pub(super) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
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
            match job.run(&mut conn) {
                Ok(answer) => answers.push(answer),
                Err(Panicked) => {
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
