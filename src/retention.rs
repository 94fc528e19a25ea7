//! The retention worker: a thread that, at start and every hour, forgets the answers kept
//! for retried requests once their 24 hours are over, anonymises the registrations of
//! events that ended more than `retention.anonymise_after_days` days ago (when that is
//! not 0), and deletes the webhook deliveries settled more than
//! `retention.webhook_log_days` days ago (when that is not 0), in short transactions (so
//! the SQLite writer is never held for long).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::background::BackgroundThread;
use crate::db::Database;
use crate::domain::webhooks::endpoints;
use crate::domain::{erasure, idempotency, now, DomainError};
use crate::settings::RetentionSettings;

const PERIOD: Duration = Duration::from_secs(3600);
/// Registrations anonymised per transaction.
const BATCH: i64 = 500;

/// Starts the worker; a setting of 0 turns its part off (the idempotency purge always runs).
pub fn spawn(db: Database, settings: RetentionSettings) -> BackgroundThread {
    let after_days = settings.anonymise_after_days;
    BackgroundThread::spawn("retention", move |stop| {
        while !stop.load(Ordering::SeqCst) {
            match purge_expired_answers(&db) {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "retention forgot expired idempotency answers"),
                Err(error) => tracing::warn!(%error, "idempotency purge failed; will try again"),
            }
            if after_days > 0 {
                match anonymise_due(&db, after_days, now(), stop) {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, after_days, "retention anonymised registrations"),
                    Err(error) => tracing::warn!(%error, "retention run failed; will try again"),
                }
            }
            if settings.webhook_log_days > 0 {
                match purge_webhook_log(&db, settings.webhook_log_days, stop) {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "retention deleted old webhook deliveries"),
                    Err(error) => tracing::warn!(%error, "webhook log purge failed; will try again"),
                }
            }
            std::thread::park_timeout(PERIOD);
        }
    })
}

/// Deletes the idempotency answers past their lifetime, writing only when there are some
/// (they hold names and addresses: their old bytes are scrubbed too).
fn purge_expired_answers(db: &Database) -> Result<usize, DomainError> {
    if !db.read_blocking(|conn| idempotency::any_expired(conn, now()))? {
        return Ok(0);
    }
    let purged = db.write_blocking(|conn| idempotency::purge_expired(conn, now()))?;
    if purged > 0 {
        erasure::after_erasure_blocking(db);
    }
    Ok(purged)
}

/// Anonymises everything due at `now`, a batch per transaction, then scrubs the old
/// bytes from the database files once; returns how many.
pub fn anonymise_due(
    db: &Database,
    after_days: u32,
    now: NaiveDateTime,
    stop: &AtomicBool,
) -> Result<usize, DomainError> {
    in_batches_then_scrub(db, stop, |db| {
        db.write_blocking(move |conn| erasure::anonymise_ended_events(conn, after_days, now, BATCH))
    })
}

/// Deletes the webhook deliveries settled more than `days` days ago, a batch per
/// transaction, then scrubs their old bytes (a payload may name the person); returns
/// how many.
pub fn purge_webhook_log(db: &Database, days: u32, stop: &AtomicBool) -> Result<usize, DomainError> {
    in_batches_then_scrub(db, stop, |db| {
        db.write_blocking(move |conn| endpoints::purge_log(conn, days, now(), BATCH))
    })
}

/// Runs `batch` until it does nothing (or the thread is asked to stop), then scrubs the
/// old bytes from the database files once ([`erasure::after_erasure_blocking`]) when
/// anything was removed, even if a later batch failed; returns how many it removed.
fn in_batches_then_scrub(
    db: &Database,
    stop: &AtomicBool,
    batch: impl Fn(&Database) -> Result<usize, DomainError>,
) -> Result<usize, DomainError> {
    let mut total = 0;
    let mut outcome = Ok(());
    while !stop.load(Ordering::SeqCst) {
        match batch(db) {
            Ok(0) => break,
            Ok(done) => total += done,
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    if total > 0 {
        erasure::after_erasure_blocking(db);
    }
    outcome.map(|()| total)
}
