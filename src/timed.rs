//! The timed worker: a thread that, at start and every `PERIOD`, ends the offers whose
//! claim window has passed and offers their seats to the next people
//! (`domain::offers::expire_due`), and queues the reminders that are due
//! (`domain::reminders::send_due`), a batch per transaction. Every instance runs one;
//! each offer is expired, and each reminder queued, exactly once whichever gets there
//! first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::background::BackgroundThread;
use crate::db::Database;
use crate::domain::{now, offers, reminders, DomainError};

const PERIOD: Duration = Duration::from_secs(30);
/// Offers expired per transaction. Small: on PostgreSQL every expiry in a transaction
/// updates the same few rows again (the visit's seat counter, its queue, the queue's
/// top departure nodes), and each reads through the versions the transaction made
/// before it; at 200 per transaction the 10,000-offer bench ran at 18/s.
pub const BATCH: i64 = 20;
/// Reminders queued per transaction (each writes two small rows).
pub const REMINDER_BATCH: usize = 500;

pub fn spawn(db: Database) -> BackgroundThread {
    BackgroundThread::spawn("timed-work", move |stop| {
        while !stop.load(Ordering::SeqCst) {
            match expire_due(&db, stop) {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "expired offers passed on"),
                Err(error) => tracing::warn!(%error, "offer expiry failed; will try again"),
            }
            match send_reminders(&db, stop) {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "reminders queued"),
                Err(error) => tracing::warn!(%error, "reminders failed; will try again"),
            }
            std::thread::park_timeout(PERIOD);
        }
    })
}

/// Expires everything due now, a batch per transaction; returns how many.
pub fn expire_due(db: &Database, stop: &AtomicBool) -> Result<usize, DomainError> {
    until_done(stop, || {
        db.write_blocking(move |conn| offers::expire_due(conn, now(), BATCH))
    })
}

/// Queues every reminder due now, a batch per transaction; returns how many.
pub fn send_reminders(db: &Database, stop: &AtomicBool) -> Result<usize, DomainError> {
    until_done(stop, || {
        db.write_blocking(move |conn| reminders::send_due(conn, now(), REMINDER_BATCH))
    })
}

/// Runs `batch` until it does nothing (or the thread is asked to stop).
fn until_done(
    stop: &AtomicBool,
    batch: impl Fn() -> Result<usize, DomainError>,
) -> Result<usize, DomainError> {
    let mut total = 0;
    while !stop.load(Ordering::SeqCst) {
        let done = batch()?;
        if done == 0 {
            break;
        }
        total += done;
    }
    Ok(total)
}
