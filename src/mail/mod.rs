//! Email: what a message says (`content`, stored in the outbox), how it looks
//! (`render`), where it goes (`transport`) and who sends it (`worker`).

pub mod content;
pub mod render;
pub mod transport;
pub mod worker;

use std::time::Duration;

use crate::db::Database;
use crate::settings::Settings;
use render::{CheckinCode, ManageLink, Renderer};
use transport::Transport;
use worker::{DeliveryOptions, DeliveryWorker};

/// A delivery worker configured from the settings, writing manage links and check-in
/// codes with the functions the domain gives it.
pub fn delivery_worker(
    settings: &Settings,
    db: Database,
    manage_link: ManageLink,
    checkin_code: CheckinCode,
) -> Result<DeliveryWorker, String> {
    let mail = &settings.mail;
    let transport = Transport::new(
        &mail.smtp_url,
        &mail.outbox_dir,
        Duration::from_secs(mail.smtp_timeout_seconds),
        mail.concurrency,
    )?;
    let from = mail.from.parse().map_err(|e| format!("mail.from: {e}"))?;
    let options = DeliveryOptions {
        poll_interval: Duration::from_millis(mail.poll_interval_ms),
        lease: Duration::from_secs(mail.lease_seconds),
        concurrency: mail.concurrency as usize,
        max_attempts: mail.max_attempts,
        retry_base: Duration::from_millis(mail.retry_base_ms),
        retry_max: Duration::from_millis(mail.retry_max_ms),
    };
    Ok(DeliveryWorker::new(
        db,
        transport,
        Renderer::new(from, manage_link, checkin_code),
        options,
    ))
}
