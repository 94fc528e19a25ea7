//! The delivery worker: claims due outbox rows with a lease, renders and sends them,
//! and settles each as sent, retried later (temporary failure) or failed (permanent
//! failure, or attempts exhausted).
//!
//! Guarantee: every queued email is sent at least once; it is sent twice only if a
//! worker dies between handing it to the SMTP server and recording that (the lease then
//! runs out and another worker sends it again, with the same Message-ID).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use rand::Rng;

use super::content::EmailData;
use super::render::Renderer;
use super::transport::{SendFailure, Transport};
use crate::background::BackgroundThread;
use crate::db::{now, Database, DbError};
use crate::store::outbox::{self, OutboxRow, FAILED, PENDING, SENT};

#[derive(Clone, Debug)]
pub struct DeliveryOptions {
    pub poll_interval: Duration,
    pub lease: Duration,
    pub batch: i64,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

pub struct DeliveryWorker {
    db: Database,
    transport: Transport,
    renderer: Renderer,
    options: DeliveryOptions,
    id: String,
}

enum Outcome {
    Sent,
    Retry(NaiveDateTime, String),
    Failed(String),
}

impl DeliveryWorker {
    pub fn new(db: Database, transport: Transport, renderer: Renderer, options: DeliveryOptions) -> Self {
        Self {
            db,
            transport,
            renderer,
            options,
            id: format!("worker-{}", uuid::Uuid::now_v7().simple()),
        }
    }

    /// Starts delivering on its own thread; stopping it lets the email in flight finish.
    pub fn spawn(self) -> BackgroundThread {
        BackgroundThread::spawn("mail-delivery", move |stop| self.run(stop))
    }

    fn run(&self, stop: &AtomicBool) {
        tracing::info!(worker = %self.id, transport = self.transport.describe(), "mail delivery started");
        while !stop.load(Ordering::SeqCst) {
            match self.deliver_due(stop) {
                Ok(0) => std::thread::park_timeout(self.options.poll_interval),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "mail delivery cannot reach the database");
                    std::thread::park_timeout(self.options.poll_interval);
                }
            }
        }
        tracing::info!(worker = %self.id, "mail delivery stopped");
    }

    /// Claims and delivers one batch; returns how many emails it settled.
    pub fn deliver_due(&self, stop: &AtomicBool) -> Result<usize, DbError> {
        let worker = self.id.clone();
        let (batch, lease) = (self.options.batch, self.options.lease);
        let claimed = self.db.write_blocking(move |conn| {
            let now = now();
            let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(2));
            outbox::claim_due(conn, &worker, now, lease_until, batch).map_err(DbError::from)
        })?;
        let mut settled = 0;
        for row in claimed {
            if stop.load(Ordering::SeqCst) {
                // Hand back what we will not send now, rather than let it wait for the lease.
                self.settle(&row, PENDING, None, None)?;
                continue;
            }
            // A panic in rendering or in the mail library fails this email (listed for
            // the admins, who can retry it) instead of ending delivery for everyone.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.deliver(&row)))
                .unwrap_or_else(|panic| {
                    let reason = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    Outcome::Failed(format!("delivery panicked: {reason}"))
                });
            match outcome {
                Outcome::Sent => {
                    tracing::info!(email = %row.id, kind = %row.kind, "email sent");
                    self.settle(&row, SENT, None, None)?;
                }
                Outcome::Retry(at, reason) => {
                    tracing::warn!(email = %row.id, attempt = row.attempts, %reason, "email delayed; will retry");
                    self.settle(&row, PENDING, Some(at), Some(reason))?;
                }
                Outcome::Failed(reason) => {
                    tracing::error!(email = %row.id, attempt = row.attempts, %reason, "email failed");
                    self.settle(&row, FAILED, None, Some(reason))?;
                }
            }
            settled += 1;
        }
        Ok(settled)
    }

    fn deliver(&self, row: &OutboxRow) -> Outcome {
        let data: EmailData = match serde_json::from_str(&row.payload) {
            Ok(data) => data,
            Err(e) => return Outcome::Failed(format!("unreadable outbox payload: {e}")),
        };
        let message = match self.renderer.render(&row.id, &data) {
            Ok(message) => message,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        match self.transport.send(&message) {
            Ok(()) => Outcome::Sent,
            Err(SendFailure::Permanent(reason)) => Outcome::Failed(reason),
            Err(SendFailure::Temporary(reason)) if row.attempts as u32 >= self.options.max_attempts => {
                Outcome::Failed(format!("gave up after {} attempts: {reason}", row.attempts))
            }
            Err(SendFailure::Temporary(reason)) => Outcome::Retry(now() + self.backoff(row.attempts), reason),
        }
    }

    /// Exponential backoff with ±25% jitter, so that a recovering SMTP server is not hit
    /// by every delayed email at the same instant.
    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let exponent = attempts.clamp(1, 30) as u32 - 1;
        let base = self.options.retry_base.as_millis() as f64 * 2f64.powi(exponent as i32);
        let capped = base.min(self.options.retry_max.as_millis() as f64);
        let jittered = capped * rand::rng().random_range(0.75..1.25);
        chrono::Duration::milliseconds(jittered as i64)
    }

    fn settle(
        &self,
        row: &OutboxRow,
        status: &'static str,
        next_attempt_at: Option<NaiveDateTime>,
        error: Option<String>,
    ) -> Result<(), DbError> {
        let (id, worker) = (row.id.clone(), self.id.clone());
        let settled = self.db.write_blocking(move |conn| {
            outbox::settle(
                conn,
                &id,
                &worker,
                status,
                next_attempt_at,
                error.as_deref(),
                now(),
            )
            .map_err(DbError::from)
        })?;
        if !settled {
            tracing::warn!(email = %row.id, "lease lost before the email was settled");
        }
        Ok(())
    }
}
