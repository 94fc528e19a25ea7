//! Webhooks on the wire: where a delivery may go (`target`), how it is signed
//! (`signature`), how it is sent (`client`) and who sends it (`worker`). What a message
//! says and when one is recorded is the domain's (`domain::webhooks`); the deliveries
//! wait in `store::webhooks`.

pub mod client;
pub mod signature;
pub mod target;
pub mod worker;

use std::time::Duration;

use crate::db::Database;
use crate::settings::Settings;
use client::Client;
use worker::{SigningKey, WebhookOptions, WebhookWorker};

/// A delivery worker configured from the settings, signing with the keys `signing_key`
/// derives.
pub fn delivery_worker(settings: &Settings, db: Database, signing_key: SigningKey) -> WebhookWorker {
    let hooks = &settings.webhooks;
    let client = Client::new(
        Duration::from_millis(hooks.timeout_ms),
        hooks.allow_private_addresses,
        hooks.concurrency,
    );
    let options = WebhookOptions {
        poll_interval: Duration::from_millis(hooks.poll_interval_ms),
        lease: Duration::from_secs(hooks.lease_seconds),
        concurrency: hooks.concurrency,
        max_attempts: hooks.max_attempts,
        retry_base: Duration::from_millis(hooks.retry_base_ms),
        retry_max: Duration::from_millis(hooks.retry_max_ms),
    };
    WebhookWorker::new(db, client, signing_key, options)
}
