//! The retention worker: a thread that anonymises the registrations of events that
//! ended more than `retention.anonymise_after_days` days ago, at start and every hour,
//! in short transactions (so the SQLite writer is never held for long).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::db::Database;
use crate::domain::{erasure, now, DomainError};

const PERIOD: Duration = Duration::from_secs(3600);
/// Registrations anonymised per transaction.
const BATCH: i64 = 500;

/// A running retention worker; dropping or stopping it ends the thread.
pub struct RetentionHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RetentionHandle {
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for RetentionHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the worker, or nothing when retention is off (`after_days == 0`).
pub fn spawn(db: Database, after_days: u32) -> Option<RetentionHandle> {
    if after_days == 0 {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match anonymise_due(&db, after_days, &flag) {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, after_days, "retention anonymised registrations"),
                    Err(error) => tracing::warn!(%error, "retention run failed; will try again"),
                }
                std::thread::park_timeout(PERIOD);
            }
        })
        .expect("spawn the retention thread");
    Some(RetentionHandle {
        stop,
        thread: Some(thread),
    })
}

/// Anonymises everything due, a batch per transaction; returns how many.
pub fn anonymise_due(db: &Database, after_days: u32, stop: &AtomicBool) -> Result<usize, DomainError> {
    let mut total = 0;
    while !stop.load(Ordering::SeqCst) {
        let done =
            db.write_blocking(move |conn| erasure::anonymise_ended_events(conn, after_days, now(), BATCH))?;
        if done == 0 {
            break;
        }
        total += done;
    }
    Ok(total)
}
