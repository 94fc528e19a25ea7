//! Where messages go: an SMTP server (lettre's URL form: smtp://, smtps://, credentials,
//! `?tls=required`) or, with no SMTP configured, `.eml` files in a directory.

use std::path::Path;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::{FileTransport, Message, SmtpTransport, Transport as _};

/// Shared by the worker's senders: the SMTP transport is one pool of connections.
pub enum Transport {
    Smtp(SmtpTransport),
    Files(FileTransport),
}

/// Why a send did not happen, in the terms that decide what to do next.
#[derive(Debug)]
pub enum SendFailure {
    /// Connection refused, timeouts, 4xx replies: try again later.
    Temporary(String),
    /// 5xx replies (unknown mailbox, rejected message): trying again will not help.
    Permanent(String),
}

impl Transport {
    /// SMTP when `smtp_url` is set, else files under `outbox_dir` (created if missing).
    /// The SMTP pool keeps up to `connections` open between emails (one per sender);
    /// lettre checks a parked one with NOOP before reusing it, and drops one after a
    /// failed exchange.
    pub fn new(
        smtp_url: &str,
        outbox_dir: &Path,
        timeout: Duration,
        connections: u32,
    ) -> Result<Self, String> {
        if smtp_url.is_empty() {
            std::fs::create_dir_all(outbox_dir)
                .map_err(|e| format!("cannot create {}: {e}", outbox_dir.display()))?;
            return Ok(Self::Files(FileTransport::new(outbox_dir)));
        }
        let transport = SmtpTransport::from_url(smtp_url)
            .map_err(|e| format!("mail.smtp_url: {e}"))?
            .timeout(Some(timeout))
            .pool_config(PoolConfig::new().max_size(connections.max(1)))
            .build();
        Ok(Self::Smtp(transport))
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Self::Smtp(_) => "smtp",
            Self::Files(_) => "files",
        }
    }

    pub fn send(&self, message: &Message) -> Result<(), SendFailure> {
        match self {
            Self::Smtp(smtp) => smtp.send(message).map(drop).map_err(|e| {
                if e.is_permanent() {
                    SendFailure::Permanent(e.to_string())
                } else {
                    SendFailure::Temporary(e.to_string())
                }
            }),
            Self::Files(files) => files
                .send(message)
                .map(drop)
                .map_err(|e| SendFailure::Temporary(e.to_string())),
        }
    }
}
