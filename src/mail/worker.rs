//! The delivery worker: claims due outbox rows with a lease, renders and sends them on
//! `concurrency` sender threads, and settles them (sent, retried later after a temporary
//! failure, failed after a permanent one or when attempts run out) in batched writes.
//!
//! One coordinating thread does every database write; each write settles whatever the
//! senders finished since the previous one and claims what keeps them busy, so a quiet
//! outbox gets one write per email and a rush gets few, large ones (what SQLite's single
//! writer needs). The senders share one pooled SMTP transport.
//!
//! Guarantees:
//! - Every queued email is sent at least once. It is sent twice only if a worker dies
//!   between the SMTP server's acceptance and the write that records it: the lease then
//!   runs out and another worker sends it again, with the same Message-ID. What one
//!   worker can duplicate so is what it had in flight and what it had sent since its
//!   last write.
//! - Two workers never send one email: a claim is exclusive until its lease ends, and a
//!   sender does not start an email that has used half its lease waiting (it hands it
//!   back), so the send and its record fit in the lease when the lease is well above the
//!   SMTP timeout (`mail.lease_seconds`).
//! - A stopped worker finishes the emails being sent, records them, and hands back the
//!   ones it claimed but did not start, so they are due at once for any worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

use super::content::EmailData;
use super::render::Renderer;
use super::transport::{SendFailure, Transport};
use crate::background::BackgroundThread;
use crate::db::{now, Database, DbError};
use crate::store::outbox::{self, OutboxRow, Settlement};

/// Emails claimed ahead per sender: enough that no sender waits for the coordinator's
/// next write, few enough that a claimed email waits little and other workers take the
/// rest of a large queue.
pub const CLAIMED_PER_SENDER: usize = 4;

#[derive(Clone, Debug)]
pub struct DeliveryOptions {
    pub poll_interval: Duration,
    pub lease: Duration,
    /// Emails rendered and sent at once, each on its own sender thread.
    pub concurrency: usize,
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

/// A claimed email and what became of it, from a sender to the coordinator.
type Outcome = (OutboxRow, Settlement);

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

    /// Starts delivering on its own threads; stopping it lets the emails in flight finish.
    pub fn spawn(self) -> BackgroundThread {
        BackgroundThread::spawn("mail-delivery", move |stop| self.run(stop))
    }

    fn run(&self, stop: &AtomicBool) {
        tracing::info!(
            worker = %self.id,
            transport = self.transport.describe(),
            concurrency = self.options.concurrency,
            "mail delivery started"
        );
        let (work, queue) = mpsc::channel::<OutboxRow>();
        let queue = Mutex::new(queue);
        let (done, outcomes) = mpsc::channel::<Outcome>();
        std::thread::scope(|scope| {
            for n in 0..self.options.concurrency.max(1) {
                let (queue, done) = (&queue, done.clone());
                std::thread::Builder::new()
                    .name(format!("mail-sender-{n}"))
                    .spawn_scoped(scope, move || self.send_claimed(queue, done, stop))
                    .unwrap_or_else(|e| panic!("cannot spawn a mail sender thread: {e}"));
            }
            drop(done);
            self.coordinate(work, &outcomes, stop);
        });
        tracing::info!(worker = %self.id, "mail delivery stopped");
    }

    /// The coordinator: one write at a time settles what the senders finished and claims
    /// more, until stopped and every claimed email is settled.
    fn coordinate(&self, work: Sender<OutboxRow>, outcomes: &Receiver<Outcome>, stop: &AtomicBool) {
        let mut work = Some(work);
        let target = self.options.concurrency.max(1) * CLAIMED_PER_SENDER;
        // Claimed and handed to the senders, not yet back.
        let mut out = 0usize;
        // Back from the senders, not yet written.
        let mut finished: Vec<Outcome> = Vec::new();
        loop {
            if stop.load(Ordering::SeqCst) {
                // The senders hand back what is still queued, then end.
                work = None;
            }
            if out > 0 {
                // A sender's outcome arrives at the latest when its send times out.
                match outcomes.recv() {
                    Ok(outcome) => {
                        finished.push(outcome);
                        out -= 1;
                    }
                    Err(_) => {
                        // Only a bug ends the senders early; their emails are taken
                        // over when their leases end.
                        tracing::error!(worker = %self.id, "the mail senders ended");
                        return;
                    }
                }
                for outcome in outcomes.try_iter() {
                    finished.push(outcome);
                    out = out.saturating_sub(1);
                }
            }
            let wanted = match work {
                Some(_) if out < target => target - out,
                _ => 0,
            };
            if finished.is_empty() && wanted == 0 {
                if out == 0 && work.is_none() {
                    return;
                }
                continue;
            }
            match self.settle_and_claim(&finished, wanted) {
                Ok(claimed) => {
                    finished.clear();
                    let idle = claimed.is_empty() && out == 0;
                    if let Some(work) = &work {
                        for row in claimed {
                            out += 1;
                            // The senders live as long as this loop: a send cannot fail.
                            let _ = work.send(row);
                        }
                    }
                    if idle && !stop.load(Ordering::SeqCst) {
                        std::thread::park_timeout(self.options.poll_interval);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "mail delivery cannot reach the database");
                    if work.is_none() && out == 0 {
                        // Stopping: what is not recorded is taken over when its lease ends.
                        return;
                    }
                    std::thread::park_timeout(self.options.poll_interval);
                }
            }
        }
    }

    /// One write: records `finished` and claims up to `wanted` due emails.
    fn settle_and_claim(&self, finished: &[Outcome], wanted: usize) -> Result<Vec<OutboxRow>, DbError> {
        let settlements: Vec<(String, Settlement)> = finished
            .iter()
            .map(|(row, settlement)| (row.id.clone(), settlement.clone()))
            .collect();
        let worker = self.id.clone();
        let lease = chrono::Duration::from_std(self.options.lease).unwrap_or(chrono::Duration::minutes(2));
        let (lost, claimed) = self.db.write_blocking(move |conn| {
            let now = now();
            let lost = outbox::settle_many(conn, &worker, &settlements, now)?;
            let claimed = match wanted {
                0 => Vec::new(),
                wanted => outbox::claim_due(conn, &worker, now, now + lease, wanted as i64)?,
            };
            Ok::<_, DbError>((lost, claimed))
        })?;
        for (row, settlement) in finished {
            let (email, kind, attempt) = (&row.id, &row.kind, row.attempts);
            if lost.contains(&row.id) {
                tracing::warn!(email = %email, "lease lost before the email was settled");
                continue;
            }
            match settlement {
                Settlement::Sent => tracing::info!(%email, %kind, "email sent"),
                Settlement::Retry { error, .. } => {
                    tracing::warn!(%email, attempt, reason = %error, "email delayed; will retry");
                }
                Settlement::Failed { error } => {
                    tracing::error!(%email, attempt, reason = %error, "email failed");
                }
                Settlement::HandedBack => tracing::debug!(%email, "email handed back unsent"),
            }
        }
        Ok(claimed)
    }

    /// A sender: takes claimed emails one at a time until the coordinator stops handing
    /// them out. Once stopping, or when an email has used half its lease waiting, the
    /// email is handed back instead of sent.
    fn send_claimed(&self, queue: &Mutex<Receiver<OutboxRow>>, done: Sender<Outcome>, stop: &AtomicBool) {
        loop {
            // The lock is held while waiting, so the senders queue for the next email.
            let next = queue.lock().map(|queue| queue.recv());
            let Ok(Ok(row)) = next else { return };
            let settlement = if stop.load(Ordering::SeqCst) || !self.lease_leaves_time(&row) {
                Settlement::HandedBack
            } else {
                self.deliver_catching_panics(&row)
            };
            if done.send((row, settlement)).is_err() {
                return;
            }
        }
    }

    /// Whether at least half of the email's lease is left to send and record it.
    fn lease_leaves_time(&self, row: &OutboxRow) -> bool {
        let half = chrono::Duration::from_std(self.options.lease / 2).unwrap_or(chrono::Duration::zero());
        row.locked_until.is_some_and(|until| now() + half <= until)
    }

    /// A panic in rendering or in the mail library fails this email (listed for the
    /// admins, who can retry it) instead of ending delivery for everyone.
    fn deliver_catching_panics(&self, row: &OutboxRow) -> Settlement {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.deliver(row))).unwrap_or_else(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Settlement::Failed {
                error: format!("delivery panicked: {reason}"),
            }
        })
    }

    fn deliver(&self, row: &OutboxRow) -> Settlement {
        let data: EmailData = match serde_json::from_str(&row.payload) {
            Ok(data) => data,
            Err(e) => {
                return Settlement::Failed {
                    error: format!("unreadable outbox payload: {e}"),
                }
            }
        };
        let message = match self.renderer.render(&row.id, &data) {
            Ok(message) => message,
            Err(e) => return Settlement::Failed { error: e.to_string() },
        };
        match self.transport.send(&message) {
            Ok(()) => Settlement::Sent,
            Err(SendFailure::Permanent(error)) => Settlement::Failed { error },
            Err(SendFailure::Temporary(reason)) if row.attempts as u32 >= self.options.max_attempts => {
                Settlement::Failed {
                    error: format!("gave up after {} attempts: {reason}", row.attempts),
                }
            }
            Err(SendFailure::Temporary(error)) => Settlement::Retry {
                at: now() + self.backoff(row.attempts),
                error,
            },
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
}
