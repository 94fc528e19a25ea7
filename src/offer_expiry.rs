//! The offer-expiry worker: a thread that ends the offers whose claim window has
//! passed and offers their seats to the next people (`domain::offers::expire_due`), at
//! start and every `PERIOD`, a batch per transaction. Every instance runs one; each
//! offer is expired exactly once whichever gets there first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::background::BackgroundThread;
use crate::db::Database;
use crate::domain::{now, offers, DomainError};

const PERIOD: Duration = Duration::from_secs(30);
/// Offers expired per transaction. Small: on PostgreSQL every expiry in a transaction
/// updates the same few rows again (the visit's seat counter, its queue, the queue's
/// top departure nodes), and each reads through the versions the transaction made
/// before it; at 200 per transaction the 10,000-offer bench ran at 18/s.
pub const BATCH: i64 = 20;

pub fn spawn(db: Database) -> BackgroundThread {
    BackgroundThread::spawn("offer-expiry", move |stop| {
        while !stop.load(Ordering::SeqCst) {
            match expire_due(&db, stop) {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "expired offers passed on"),
                Err(error) => tracing::warn!(%error, "offer expiry failed; will try again"),
            }
            std::thread::park_timeout(PERIOD);
        }
    })
}

/// Expires everything due now, a batch per transaction; returns how many.
pub fn expire_due(db: &Database, stop: &AtomicBool) -> Result<usize, DomainError> {
    let mut total = 0;
    while !stop.load(Ordering::SeqCst) {
        let done = db.write_blocking(move |conn| offers::expire_due(conn, now(), BATCH))?;
        if done == 0 {
            break;
        }
        total += done;
    }
    Ok(total)
}
