//! Sending one signed delivery: a blocking HTTP client (ureq, with rustls) that keeps
//! connections to each receiver open between deliveries, bounds every attempt by a
//! timeout, follows no redirect (a redirect could lead to an address [`target`] refuses)
//! and resolves every host through [`target::resolve`].

use std::io::Read;
use std::time::Duration;

use super::target;

/// How an attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// A 2xx status: delivered.
    Delivered(u16),
    /// 410 Gone: the receiver wants no more deliveries (the endpoint is disabled).
    Gone,
    /// Anything else: another status (with the start of its body), a refused address, a
    /// connection or TLS failure, a timeout. Retried later.
    Failed { status: Option<u16>, reason: String },
}

pub struct Client {
    agent: ureq::Agent,
}

/// The longest part of a failed answer's body kept in the delivery log.
const BODY_EXCERPT: u64 = 300;

impl Client {
    pub fn new(timeout: Duration, allow_private: bool, connections_per_host: usize) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout(timeout)
            .redirects(0)
            .max_idle_connections(connections_per_host.max(1) * 8)
            .max_idle_connections_per_host(connections_per_host.max(1))
            .user_agent(concat!("rallypoint-webhooks/", env!("CARGO_PKG_VERSION")))
            .resolver(move |netloc: &str| target::resolve(netloc, allow_private))
            .build();
        Self { agent }
    }

    /// POSTs `body` (JSON) to `url` with `headers`.
    pub fn post(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let request = headers.iter().fold(
            self.agent.post(url).set("Content-Type", "application/json"),
            |request, (name, value)| request.set(name, value),
        );
        match request.send_bytes(body) {
            Ok(response) => {
                let status = response.status();
                let excerpt = excerpt(response);
                if (200..300).contains(&status) {
                    Answer::Delivered(status)
                } else {
                    // ureq answers 1xx and 3xx here: not a delivery either.
                    Answer::Failed {
                        status: Some(status),
                        reason: format!("answered {status}{excerpt}"),
                    }
                }
            }
            Err(ureq::Error::Status(410, response)) => {
                drop(excerpt(response));
                Answer::Gone
            }
            Err(ureq::Error::Status(status, response)) => Answer::Failed {
                status: Some(status),
                reason: format!("answered {status}{}", excerpt(response)),
            },
            Err(ureq::Error::Transport(transport)) => Answer::Failed {
                status: None,
                reason: describe(&transport),
            },
        }
    }
}

/// What went wrong, without the URL (its query may hold the receiver's own secret, and
/// the reason goes to the log).
fn describe(transport: &ureq::Transport) -> String {
    let mut reason = transport.kind().to_string();
    if let Some(message) = transport.message() {
        reason.push_str(&format!(": {message}"));
    }
    if let Some(source) = std::error::Error::source(transport) {
        reason.push_str(&format!(": {source}"));
    }
    reason
}

/// `": <the start of the body>"`, read to its end when short so that the connection can
/// carry the next delivery.
fn excerpt(response: ureq::Response) -> String {
    let mut bytes = Vec::new();
    if response
        .into_reader()
        .take(BODY_EXCERPT)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(
            ": {}",
            text.chars().filter(|c| !c.is_control()).collect::<String>()
        )
    }
}
