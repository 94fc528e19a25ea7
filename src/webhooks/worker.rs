//! The webhook delivery worker: a dispatcher thread claims due deliveries with a lease
//! (in commit order, never two of one endpoint and registration at once: see
//! `store::webhooks::claim_due`) and hands them to `webhooks.concurrency` sender threads,
//! which sign, POST and settle each one: delivered, retried later with exponential
//! backoff and jitter, or failed (attempts exhausted). A 410 answer disables the
//! endpoint. A settled delivery wakes the dispatcher, so that the next delivery of the
//! same registration is claimed at once rather than at the next poll.
//!
//! Guarantee: every recorded delivery is attempted until delivered or failed; it is
//! delivered twice only if a worker dies (or its lease runs out) between the receiver's
//! answer and the settlement. Receivers deduplicate by `webhook-id`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::thread::Thread;
use std::time::Duration;

use chrono::NaiveDateTime;
use rand::Rng;

use super::client::{Answer, Client};
use super::signature::signature_header;
use crate::background::BackgroundThread;
use crate::db::{now, Database, DbError};
use crate::store::webhooks::{self, DueDelivery, Settlement, DELIVERED, FAILED, PENDING};

/// The signing key of an endpoint from its id and a salt (`ManageKey::webhook_key`).
pub type SigningKey = Box<dyn Fn(&str, &str) -> Vec<u8> + Send + Sync>;

#[derive(Clone, Debug)]
pub struct WebhookOptions {
    pub poll_interval: Duration,
    pub lease: Duration,
    /// Deliveries sent at once (one sender thread each).
    pub concurrency: usize,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

pub struct WebhookWorker {
    db: Database,
    client: Client,
    signing_key: SigningKey,
    options: WebhookOptions,
    id: String,
}

enum Outcome {
    Delivered(u16),
    Gone,
    Retry {
        at: NaiveDateTime,
        status: Option<u16>,
        reason: String,
    },
    Failed {
        status: Option<u16>,
        reason: String,
    },
}

impl WebhookWorker {
    pub fn new(db: Database, client: Client, signing_key: SigningKey, options: WebhookOptions) -> Self {
        Self {
            db,
            client,
            signing_key,
            options,
            id: format!("webhooks-{}", uuid::Uuid::now_v7().simple()),
        }
    }

    /// Starts delivering on its own threads; stopping it lets the deliveries in flight
    /// finish and hands back those claimed but not yet sent.
    pub fn spawn(self) -> BackgroundThread {
        BackgroundThread::spawn("webhook-delivery", move |stop| self.run(stop))
    }

    /// Claimed deliveries at most: each sender has one in hand and one waiting, so that a
    /// claimed delivery waits for at most one other before it is sent (the lease must
    /// cover that and its own attempt).
    fn capacity(&self) -> usize {
        self.options.concurrency.max(1) * 2
    }

    fn run(&self, stop: &AtomicBool) {
        tracing::info!(worker = %self.id, senders = self.options.concurrency, "webhook delivery started");
        let dispatcher = std::thread::current();
        let in_flight = AtomicUsize::new(0);
        let (queue, receiver) = mpsc::sync_channel::<DueDelivery>(self.capacity());
        let receiver = Mutex::new(receiver);
        std::thread::scope(|scope| {
            for n in 0..self.options.concurrency.max(1) {
                let (receiver, in_flight, dispatcher) = (&receiver, &in_flight, &dispatcher);
                std::thread::Builder::new()
                    .name(format!("webhook-sender-{n}"))
                    .spawn_scoped(scope, move || {
                        self.send_loop(receiver, in_flight, dispatcher, stop)
                    })
                    .expect("cannot spawn a webhook sender thread");
            }
            let mut busy = false;
            while !stop.load(Ordering::SeqCst) {
                let free = self.capacity().saturating_sub(in_flight.load(Ordering::SeqCst));
                if free == 0 {
                    std::thread::park_timeout(self.options.poll_interval);
                    continue;
                }
                match self.claim(free, busy) {
                    Ok(claimed) if claimed.is_empty() => {
                        busy = false;
                        std::thread::park_timeout(self.options.poll_interval);
                    }
                    Ok(claimed) => {
                        busy = true;
                        for delivery in claimed {
                            in_flight.fetch_add(1, Ordering::SeqCst);
                            if queue.send(delivery).is_err() {
                                break; // the senders are gone: nothing to do but stop
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "webhook delivery cannot reach the database");
                        busy = false;
                        std::thread::park_timeout(self.options.poll_interval);
                    }
                }
            }
            // The senders hand back what is still queued, then end.
            drop(queue);
        });
        tracing::info!(worker = %self.id, "webhook delivery stopped");
    }

    /// Claims up to `limit` due deliveries. After an idle round it first asks a read
    /// connection whether anything is due, so that an idle worker takes no write lock.
    fn claim(&self, limit: usize, busy: bool) -> Result<Vec<DueDelivery>, DbError> {
        if !busy
            && !self
                .db
                .read_blocking(|conn| webhooks::has_due(conn, now()).map_err(DbError::from))?
        {
            return Ok(Vec::new());
        }
        let (worker, lease) = (self.id.clone(), self.options.lease);
        self.db.write_blocking(move |conn| {
            let now = now();
            let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(2));
            webhooks::claim_due(conn, &worker, now, lease_until, limit as i64).map_err(DbError::from)
        })
    }

    fn send_loop(
        &self,
        receiver: &Mutex<Receiver<DueDelivery>>,
        in_flight: &AtomicUsize,
        dispatcher: &Thread,
        stop: &AtomicBool,
    ) {
        loop {
            let next = receiver.lock().map(|r| r.recv());
            let Ok(Ok(delivery)) = next else { break };
            let outcome = if stop.load(Ordering::SeqCst) {
                None // hand it back rather than let it wait for the lease
            } else {
                // A panic fails this delivery (listed in the log, redeliverable) instead
                // of ending a sender.
                Some(
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.deliver(&delivery)))
                        .unwrap_or_else(|panic| Outcome::Failed {
                            status: None,
                            reason: format!("delivery panicked: {}", panic_text(&panic)),
                        }),
                )
            };
            if let Err(error) = self.settle(&delivery, outcome) {
                tracing::warn!(%error, delivery = %delivery.id, "cannot settle a webhook delivery; its lease will run out");
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            dispatcher.unpark();
        }
    }

    fn deliver(&self, delivery: &DueDelivery) -> Outcome {
        let sent_at = now();
        let mut keys = vec![(self.signing_key)(&delivery.endpoint_id, &delivery.secret_salt)];
        if let (Some(salt), Some(until)) = (&delivery.previous_secret_salt, delivery.previous_secret_until) {
            if until > sent_at {
                keys.push((self.signing_key)(&delivery.endpoint_id, salt));
            }
        }
        let timestamp = sent_at.and_utc().timestamp();
        let body = delivery.payload.as_bytes();
        let signature = signature_header(&keys, &delivery.id, timestamp, body);
        let timestamp = timestamp.to_string();
        let headers = [
            ("webhook-id", delivery.id.as_str()),
            ("webhook-timestamp", timestamp.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        match self.client.post(&delivery.url, &headers, body) {
            Answer::Delivered(status) => Outcome::Delivered(status),
            Answer::Gone => Outcome::Gone,
            Answer::Failed { status, reason } if delivery.attempts as u32 >= self.options.max_attempts => {
                Outcome::Failed {
                    status,
                    reason: format!("gave up after {} attempts: {reason}", delivery.attempts),
                }
            }
            Answer::Failed { status, reason } => Outcome::Retry {
                at: now() + self.backoff(delivery.attempts),
                status,
                reason,
            },
        }
    }

    /// Exponential backoff with ±25% jitter, so that a receiver coming back is not hit by
    /// every delayed delivery at the same instant.
    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let exponent = attempts.clamp(1, 30) - 1;
        let base = self.options.retry_base.as_millis() as f64 * 2f64.powi(exponent);
        let capped = base.min(self.options.retry_max.as_millis() as f64);
        let jittered = capped * rand::rng().random_range(0.75..1.25);
        chrono::Duration::milliseconds(jittered as i64)
    }

    /// Records how the attempt ended (`None`: not attempted, handed back); a 410 also
    /// disables the endpoint, in the same transaction.
    fn settle(&self, delivery: &DueDelivery, outcome: Option<Outcome>) -> Result<(), DbError> {
        let (seq, endpoint) = (delivery.seq, delivery.endpoint_id.clone());
        let (status, next_attempt_at, response_status, error, disables) = match outcome {
            None => (PENDING, None, None, None, false),
            Some(Outcome::Delivered(code)) => {
                tracing::debug!(delivery = %delivery.id, event_type = %delivery.event_type, "webhook delivered");
                (DELIVERED, None, Some(code), None, false)
            }
            Some(Outcome::Gone) => {
                tracing::warn!(endpoint = %endpoint, delivery = %delivery.id, "webhook receiver answered 410 Gone; endpoint disabled");
                (
                    FAILED,
                    None,
                    Some(410),
                    Some("answered 410 Gone: the endpoint is disabled".to_owned()),
                    true,
                )
            }
            Some(Outcome::Retry { at, status, reason }) => {
                tracing::warn!(delivery = %delivery.id, attempt = delivery.attempts, %reason, "webhook delayed; will retry");
                (PENDING, Some(at), status, Some(reason), false)
            }
            Some(Outcome::Failed { status, reason }) => {
                tracing::error!(delivery = %delivery.id, attempt = delivery.attempts, %reason, "webhook failed");
                (FAILED, None, status, Some(reason), false)
            }
        };
        let worker = self.id.clone();
        let settled = self.db.write_blocking(move |conn| {
            let now = now();
            let settlement = Settlement {
                status,
                next_attempt_at,
                response_status: response_status.map(i32::from),
                error: error.as_deref(),
            };
            let settled = webhooks::settle(conn, seq, &worker, &settlement, now)?;
            if disables {
                let reason = format!("answered 410 Gone at {}", now.and_utc().to_rfc3339());
                webhooks::disable_endpoint(conn, &endpoint, &reason, now)?;
            }
            Ok::<_, DbError>(settled)
        })?;
        if !settled {
            tracing::warn!(delivery = %delivery.id, "lease lost before the webhook delivery was settled");
        }
        Ok(())
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
