//! Settings: `config/default.toml` (compiled in), then the file named by
//! `RALLYPOINT_CONFIG`, then `RALLYPOINT_*` environment variables, which win.
//! Unknown keys and bad values stop start-up with a message naming the key.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use config::{Config, File, FileFormat};
use serde::Deserialize;

use crate::db::{DatabaseUrl, DbOptions};

const DEFAULTS: &str = include_str!("../config/default.toml");

/// Environment variables and the keys they set. Only these are read: a typo in a
/// variable name is reported, not silently ignored.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("RALLYPOINT_BIND", "server.bind"),
    ("RALLYPOINT_PUBLIC_URL", "server.public_url"),
    ("RALLYPOINT_WORKERS", "server.workers"),
    ("RALLYPOINT_DATABASE_URL", "database.url"),
    ("RALLYPOINT_SMTP_URL", "mail.smtp_url"),
    ("RALLYPOINT_MAIL_WORKER", "mail.worker"),
    ("RALLYPOINT_SECRET_KEY", "security.secret_key"),
    ("RALLYPOINT_METRICS_TOKEN", "security.metrics_token"),
    ("RALLYPOINT_IDENTITY_KEYS", "security.identity_keys"),
    ("RALLYPOINT_EVENTS_DIR", "events.dir"),
    ("RALLYPOINT_LOG", "log.filter"),
];

/// Most emails a worker may send at once: each holds an SMTP connection, and mail
/// servers limit the connections of one client (Postfix: 50 by default).
const MAX_MAIL_CONCURRENCY: u32 = 64;

/// Variables with the prefix that are not settings (read elsewhere).
const NOT_SETTINGS: &[&str] = &["RALLYPOINT_CONFIG", "RALLYPOINT_TEST_POSTGRES_URL"];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub mail: MailSettings,
    pub security: SecuritySettings,
    pub limits: LimitSettings,
    pub events: EventSettings,
    pub log: LogSettings,
    pub retention: RetentionSettings,
    pub webhooks: WebhookSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub public_url: String,
    pub workers: usize,
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's head (408 after), and to close a
    /// connection after its answer.
    pub client_timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub lock_wait_ms: u64,
    pub sqlite_synchronous: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub smtp_url: String,
    pub outbox_dir: PathBuf,
    pub from: String,
    pub worker: bool,
    pub poll_interval_ms: u64,
    pub lease_seconds: u64,
    pub smtp_timeout_seconds: u64,
    /// Emails a worker renders and sends at once, each on its own thread and SMTP
    /// connection.
    pub concurrency: u32,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub public_writes_per_minute: u32,
    pub public_writes_burst: u32,
    pub trust_forwarded_for: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub secret_key: String,
    /// The bearer token `/metrics` asks for; empty: open to anyone who reaches it.
    pub metrics_token: String,
    /// Keys sealing identity data, `id:hexkey` separated by commas: the first seals, all
    /// open (docs/identity-data.md). Empty: identity data is not collected.
    pub identity_keys: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSettings {
    pub dir: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Anonymise the registrations of events that ended more than this many days ago;
    /// 0 turns retention off.
    pub anonymise_after_days: u32,
    /// Delete settled webhook deliveries older than this many days from the delivery
    /// log; 0 keeps them.
    pub webhook_log_days: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub worker: bool,
    /// Endpoints may be on loopback, private, link-local and other non-public addresses.
    pub allow_private_addresses: bool,
    pub timeout_ms: u64,
    pub concurrency: usize,
    pub poll_interval_ms: u64,
    pub lease_seconds: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How long a rotated-out secret keeps signing.
    pub rotation_overlap_hours: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid settings: {0}")]
pub struct SettingsError(pub String);

impl Settings {
    /// Reads the defaults, `RALLYPOINT_CONFIG` and the process environment.
    pub fn load() -> Result<Self, SettingsError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(vars)
    }

    /// Same as [`Settings::load`] with an explicit environment (tests use it).
    pub fn load_from(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, SettingsError> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some((_, path)) = vars.iter().find(|(k, _)| k == "RALLYPOINT_CONFIG") {
            if !std::path::Path::new(path).is_file() {
                return Err(SettingsError(format!(
                    "RALLYPOINT_CONFIG names `{path}`, which is not a file"
                )));
            }
            builder = builder.add_source(File::new(path, FileFormat::Toml));
        }
        for (name, value) in &vars {
            match ENVIRONMENT.iter().find(|(var, _)| var == name) {
                Some((_, key)) => {
                    builder = builder
                        .set_override(*key, value.as_str())
                        .map_err(|e| SettingsError(format!("{name}: {e}")))?;
                }
                None if name.starts_with("RALLYPOINT_") && !NOT_SETTINGS.contains(&name.as_str()) => {
                    return Err(SettingsError(format!(
                        "unknown environment variable {name}; known: {}",
                        ENVIRONMENT.iter().map(|(v, _)| *v).collect::<Vec<_>>().join(", ")
                    )));
                }
                None => {}
            }
        }
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| SettingsError(e.to_string()))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        self.bind_address()?;
        self.database_url()?;
        let public = &self.server.public_url;
        if !(public.is_empty() || public.starts_with("http://") || public.starts_with("https://")) {
            return Err(SettingsError(format!(
                "server.public_url must start with http:// or https://, got `{public}`"
            )));
        }
        if !["OFF", "NORMAL", "FULL", "EXTRA"]
            .contains(&self.database.sqlite_synchronous.to_uppercase().as_str())
        {
            return Err(SettingsError(format!(
                "database.sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA, got `{}`",
                self.database.sqlite_synchronous
            )));
        }
        if !self.mail.smtp_url.is_empty() {
            lettre::SmtpTransport::from_url(&self.mail.smtp_url)
                .map_err(|e| SettingsError(format!("mail.smtp_url: {e}")))?;
        }
        self.mail
            .from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| SettingsError(format!("mail.from `{}`: {e}", self.mail.from)))?;
        if self.mail.max_attempts == 0 || self.mail.poll_interval_ms == 0 || self.mail.lease_seconds == 0 {
            return Err(SettingsError(
                "mail.max_attempts, mail.poll_interval_ms and mail.lease_seconds must be positive".into(),
            ));
        }
        if !(1..=MAX_MAIL_CONCURRENCY).contains(&self.mail.concurrency) {
            return Err(SettingsError(format!(
                "mail.concurrency must be between 1 and {MAX_MAIL_CONCURRENCY}, got {}",
                self.mail.concurrency
            )));
        }
        let hooks = &self.webhooks;
        if hooks.timeout_ms == 0
            || hooks.concurrency == 0
            || hooks.concurrency > 256
            || hooks.poll_interval_ms == 0
            || hooks.max_attempts == 0
        {
            return Err(SettingsError(
                "webhooks.timeout_ms, webhooks.poll_interval_ms and webhooks.max_attempts must be positive, \
                 webhooks.concurrency between 1 and 256"
                    .into(),
            ));
        }
        // A claimed delivery waits for at most one other before its own attempt.
        if hooks.lease_seconds.saturating_mul(1000) < hooks.timeout_ms.saturating_mul(3) {
            return Err(SettingsError(format!(
                "webhooks.lease_seconds must be at least three times webhooks.timeout_ms ({} ms)",
                hooks.timeout_ms
            )));
        }
        if hooks.rotation_overlap_hours > 24 * 30 {
            return Err(SettingsError(
                "webhooks.rotation_overlap_hours must be at most 720 (30 days)".into(),
            ));
        }
        let key = &self.security.secret_key;
        if !key.is_empty() && key.len() < 32 {
            return Err(SettingsError(
                "security.secret_key must be at least 32 characters (or empty)".into(),
            ));
        }
        if self.database.pool_size == 0 {
            return Err(SettingsError("database.pool_size must be at least 1".into()));
        }
        if self.server.client_timeout_ms == 0 {
            return Err(SettingsError(
                "server.client_timeout_ms must be at least 1".into(),
            ));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(SettingsError(
                "server.max_body_bytes must be at least 1024".into(),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.filter)
            .map_err(|e| SettingsError(format!("log.filter `{}`: {e}", self.log.filter)))?;
        Ok(())
    }

    pub fn bind_address(&self) -> Result<SocketAddr, SettingsError> {
        self.server
            .bind
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                SettingsError(format!(
                    "server.bind must be host:port (e.g. 127.0.0.1:8080), got `{}`",
                    self.server.bind
                ))
            })
    }

    pub fn database_url(&self) -> Result<DatabaseUrl, SettingsError> {
        DatabaseUrl::parse(&self.database.url).map_err(|e| SettingsError(format!("database.url: {e}")))
    }

    pub fn db_options(&self) -> DbOptions {
        DbOptions {
            pool_size: self.database.pool_size,
            lock_wait: Duration::from_millis(self.database.lock_wait_ms),
            sqlite_synchronous: self.database.sqlite_synchronous.to_uppercase(),
            ..DbOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_and_environment_wins() {
        let defaults = Settings::load_from(env(&[])).unwrap();
        assert_eq!(defaults.server.bind, "127.0.0.1:8080");
        assert_eq!(
            defaults.database_url().unwrap(),
            DatabaseUrl::Sqlite("data/rallypoint.db".into())
        );

        let custom = Settings::load_from(env(&[
            ("RALLYPOINT_BIND", "127.0.0.1:0"),
            ("RALLYPOINT_DATABASE_URL", "postgres://u@localhost/x"),
            ("RALLYPOINT_TEST_POSTGRES_URL", "ignored"),
        ]))
        .unwrap();
        assert_eq!(custom.bind_address().unwrap().port(), 0);
        assert!(custom.database_url().unwrap().is_postgres());
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = Settings::load_from(env(&[("RALLYPOINT_BIND", "nowhere")])).unwrap_err();
        assert!(err.to_string().contains("server.bind"), "{err}");
        let err = Settings::load_from(env(&[("RALLYPOINT_WORKERS", "many")])).unwrap_err();
        assert!(err.to_string().contains("workers"), "{err}");
        let err = Settings::load_from(env(&[("RALLYPOINT_DATABASE_URL", "mysql://x")])).unwrap_err();
        assert!(err.to_string().contains("database.url"), "{err}");
        let err = Settings::load_from(env(&[("RALLYPOINT_SMTP_URL", "gopher://x")])).unwrap_err();
        assert!(err.to_string().contains("mail.smtp_url"), "{err}");
        let err = Settings::load_from(env(&[("RALLYPOINT_DATABSE_URL", "x.db")])).unwrap_err();
        assert!(err.to_string().contains("RALLYPOINT_DATABSE_URL"), "{err}");
    }

    #[test]
    fn identity_keys_come_from_the_environment() {
        // Their form is checked by the command line (`cli::run`), since parsing them is
        // the domain's (`domain::identity`).
        let key = "ab".repeat(32);
        let ok = Settings::load_from(env(&[("RALLYPOINT_IDENTITY_KEYS", &format!("k1:{key}"))])).unwrap();
        assert_eq!(ok.security.identity_keys, format!("k1:{key}"));
    }

    #[test]
    fn unknown_keys_in_a_file_fail() {
        let dir = std::env::temp_dir().join(format!("rp-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "[server]\nbindd = \"127.0.0.1:1\"\n").unwrap();
        let err = Settings::load_from(env(&[("RALLYPOINT_CONFIG", file.to_str().unwrap())])).unwrap_err();
        assert!(err.to_string().contains("bindd"), "{err}");
        std::fs::write(&file, "[server]\nbind = \"127.0.0.1:9\"\n").unwrap();
        let ok = Settings::load_from(env(&[("RALLYPOINT_CONFIG", file.to_str().unwrap())])).unwrap();
        assert_eq!(ok.server.bind, "127.0.0.1:9");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn mail_concurrency_is_bounded() {
        let dir = std::env::temp_dir().join(format!("rp-concurrency-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mail.toml");
        let load = |concurrency: u32| {
            std::fs::write(&file, format!("[mail]\nconcurrency = {concurrency}\n")).unwrap();
            Settings::load_from(env(&[("RALLYPOINT_CONFIG", file.to_str().unwrap())]))
        };
        for refused in [0, MAX_MAIL_CONCURRENCY + 1] {
            let err = load(refused).unwrap_err();
            assert!(err.to_string().contains("mail.concurrency"), "{err}");
        }
        assert_eq!(load(1).unwrap().mail.concurrency, 1);
        assert_eq!(Settings::load_from(env(&[])).unwrap().mail.concurrency, 16);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
