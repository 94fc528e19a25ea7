//! Building the application from settings: database, migrations, event files, and an
//! HTTP server bound to a listener (port 0 works, the bound address is known).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};

use crate::background::BackgroundThread;
use crate::db::{Database, DbError};
use crate::domain::access::{self, ManageKey};
use crate::domain::addresses;
use crate::domain::catalog::{self, ImportOutcome};
use crate::domain::checkin;
use crate::domain::event::EventFile;
use crate::domain::search;
use crate::domain::webhooks::endpoints::EndpointPolicy;
use crate::domain::{now, DomainError};
use crate::http::{self, AppState};
use crate::mail;
use crate::retention;
use crate::settings::Settings;
use crate::timed;
use crate::webhooks;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot bind {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("event file {path}: {message}")]
    EventFile { path: String, message: String },
    #[error("{0}")]
    Mail(String),
    #[error("cannot normalise the stored email addresses: {0}")]
    Addresses(String),
    #[error("cannot fold the stored search text: {0}")]
    SearchText(String),
    #[error("cannot store the check-in codes' hashes: {0}")]
    CheckinCodes(String),
}

pub struct Application {
    address: SocketAddr,
    server: Server,
    db: Database,
    worker: Option<BackgroundThread>,
    webhooks: Option<BackgroundThread>,
    retention: BackgroundThread,
    timed: BackgroundThread,
}

impl Application {
    /// Connects, migrates, loads the event files and binds; the server runs once
    /// [`Application::run_until_stopped`] is awaited.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        let db = connect_and_migrate(settings)?;
        let manage_key = load_manage_key(&db, settings)?;
        fill_checkin_code_hashes(&db, &manage_key)?;
        import_event_dir(&db, &settings.events.dir)?;
        warn_without_identity_key(&db, settings);
        let address = settings.bind_address()?;
        let listener = TcpListener::bind(address).map_err(|source| StartupError::Bind {
            address: settings.server.bind.clone(),
            source,
        })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            address: settings.server.bind.clone(),
            source,
        })?;
        let public_url = match settings.server.public_url.trim_end_matches('/') {
            "" => format!("http://{address}"),
            url => url.to_owned(),
        };
        let worker = if settings.mail.worker {
            let worker = delivery_worker(settings, db.clone(), &public_url, manage_key.clone())?;
            Some(worker.spawn())
        } else {
            None
        };
        let webhooks = settings
            .webhooks
            .worker
            .then(|| webhook_worker(settings, db.clone(), manage_key.clone()).spawn());
        let retention = retention::spawn(db.clone(), settings.retention.clone());
        let timed = timed::spawn(db.clone());
        let state = web::Data::new(AppState {
            db: db.clone(),
            rules: Default::default(),
            metrics: Default::default(),
            limits: http::limits::PublicWriteLimit::new(
                settings.limits.public_writes_per_minute,
                settings.limits.public_writes_burst,
                settings.limits.trust_forwarded_for,
            ),
            manage_key,
            webhook_policy: webhook_policy(settings),
            public_url,
            max_body_bytes: settings.server.max_body_bytes,
            metrics_token: settings.security.metrics_token.clone(),
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(http::limits::limit_public_writes))
                .wrap(http::protective_headers())
                .wrap(actix_web::middleware::from_fn(http::observe::observe))
                .configure(http::routes)
        });
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let client_timeout = Duration::from_millis(settings.server.client_timeout_ms);
        let server = server
            .client_request_timeout(client_timeout)
            .client_disconnect_timeout(client_timeout)
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                address: settings.server.bind.clone(),
                source,
            })?
            .run();
        if settings.security.metrics_token.is_empty() && !address.ip().is_loopback() {
            tracing::warn!(
                %address,
                "/metrics is open to anyone who reaches this address: set security.metrics_token \
                 (RALLYPOINT_METRICS_TOKEN) or block /metrics at the proxy"
            );
        }
        Ok(Self {
            address,
            server,
            db,
            worker,
            webhooks,
            retention,
            timed,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM or a handle), then lets the
    /// mail worker finish the emails its senders are sending (and record them), the
    /// webhook worker its deliveries in flight, and the retention worker its batch.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let outcome = self.server.await;
        let (worker, webhooks, retention, timed) = (self.worker, self.webhooks, self.retention, self.timed);
        tokio::task::spawn_blocking(move || {
            timed.stop();
            if let Some(worker) = worker {
                worker.stop();
            }
            if let Some(webhooks) = webhooks {
                webhooks.stop();
            }
            retention.stop();
        })
        .await
        .ok();
        outcome
    }
}

/// The key of manage links: configured, or kept in the database.
/// The email delivery worker, writing manage links signed with `key` under `public_url`,
/// and check-in codes derived with the same key.
pub fn delivery_worker(
    settings: &Settings,
    db: Database,
    public_url: &str,
    key: ManageKey,
) -> Result<mail::worker::DeliveryWorker, StartupError> {
    let public_url = public_url.to_owned();
    let code_key = key.clone();
    let manage_link = Box::new(move |id: &str| access::manage_url(&public_url, &key.token_for(id)));
    let checkin_code = Box::new(move |id: &str| code_key.checkin_code_for(id));
    mail::delivery_worker(settings, db, manage_link, checkin_code).map_err(StartupError::Mail)
}

/// The webhook delivery worker, signing with the keys derived from `key`.
pub fn webhook_worker(settings: &Settings, db: Database, key: ManageKey) -> webhooks::worker::WebhookWorker {
    let signing_key = Box::new(move |endpoint: &str, salt: &str| key.webhook_key(endpoint, salt));
    webhooks::delivery_worker(settings, db, signing_key)
}

/// What the settings decide for webhook endpoints.
pub fn webhook_policy(settings: &Settings) -> EndpointPolicy {
    EndpointPolicy {
        allow_private_addresses: settings.webhooks.allow_private_addresses,
        rotation_overlap: chrono::Duration::hours(i64::from(settings.webhooks.rotation_overlap_hours)),
    }
}

pub fn load_manage_key(db: &Database, settings: &Settings) -> Result<ManageKey, StartupError> {
    let configured = settings.security.secret_key.clone();
    db.write_blocking(move |conn| access::load_manage_key(conn, &configured, now()))
        .map_err(|e| StartupError::Mail(format!("cannot load the manage-link key: {}", describe(&e))))
}

/// Registrations made before check-in codes were stored get their code's hash (it
/// needs the manage key, hence here rather than in a migration), a batch per
/// transaction so that the SQLite writer is never held long.
pub fn fill_checkin_code_hashes(db: &Database, key: &ManageKey) -> Result<(), StartupError> {
    let mut total = 0;
    loop {
        let key = key.clone();
        let filled = db
            .write_blocking(move |conn| checkin::fill_stored_code_hashes(conn, &key, 500))
            .map_err(|e| StartupError::CheckinCodes(describe(&e)))?;
        if filled == 0 {
            break;
        }
        total += filled;
    }
    if total > 0 {
        tracing::info!(registrations = total, "check-in code hashes stored");
    }
    Ok(())
}

/// Visits that require identity data cannot collect it without a key to seal it
/// (docs/identity-data.md): said once at start-up. A failing count is not fatal.
fn warn_without_identity_key(db: &Database, settings: &Settings) {
    if !settings.security.identity_keys.trim().is_empty() {
        return;
    }
    let count: Result<i64, crate::db::DbError> =
        db.read_blocking(|conn| crate::store::identity::visits_requiring_identity(conn).map_err(Into::into));
    if let Ok(visits @ 1..) = count {
        tracing::warn!(
            visits,
            "site visits require identity data but no key can seal it: set security.identity_keys \
             (RALLYPOINT_IDENTITY_KEYS); until then it is not collected"
        );
    }
}

pub fn connect_and_migrate(settings: &Settings) -> Result<Database, StartupError> {
    let url = settings.database_url()?;
    let db = Database::connect(&url, settings.db_options())?;
    let applied = db.run_migrations()?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    normalise_stored_addresses(&db)?;
    // After the addresses: their normal form is part of the search text.
    let folded = db
        .write_blocking(search::fold_stored_search_text)
        .map_err(|e| StartupError::SearchText(describe(&e)))?;
    if folded > 0 {
        tracing::info!(registrations = folded, "stored search text folded");
    }
    Ok(db)
}

/// Addresses stored as typed by earlier versions, brought to the one spelling
/// registration now stores (`domain::addresses`). Ids only in the log: no address.
fn normalise_stored_addresses(db: &Database) -> Result<(), StartupError> {
    let outcome = db
        .write_blocking(addresses::normalise_stored_addresses)
        .map_err(|e| StartupError::Addresses(describe(&e)))?;
    if outcome.changed > 0 {
        tracing::info!(
            registrations = outcome.changed,
            "stored email addresses normalised"
        );
    }
    if !outcome.duplicates.is_empty() {
        tracing::warn!(
            registrations = ?outcome.duplicates,
            "active registrations whose address is another active registration's of the same event \
             in another spelling: cancel one of each pair"
        );
    }
    if !outcome.unmailable.is_empty() {
        tracing::warn!(registrations = ?outcome.unmailable, "stored email addresses that cannot be mailed");
    }
    Ok(())
}

/// Loads every `*.toml` of the directory, in name order. A missing directory is fine
/// (nothing to load); a broken file stops start-up.
pub fn import_event_dir(db: &Database, dir: &Path) -> Result<(), StartupError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::info!(dir = %dir.display(), "no event directory; no events loaded");
        return Ok(());
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    for path in files {
        let outcome = import_event_file(db, &path)?;
        tracing::info!(
            file = %path.display(),
            created = outcome.event_created,
            visits_created = outcome.visits_created,
            visits_updated = outcome.visits_updated,
            "loaded event file"
        );
    }
    Ok(())
}

pub fn import_event_file(db: &Database, path: &Path) -> Result<ImportOutcome, StartupError> {
    let fail = |message: String| StartupError::EventFile {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let value: serde_json::Value = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(fail("not a table".into()));
    };
    let file = EventFile::parse(map).map_err(|e| fail(describe(&e)))?;
    db.write_blocking(move |conn| catalog::import_event_file(conn, &file, now()))
        .map_err(|e| fail(describe(&e)))
}

/// A domain error for a person at a terminal: each field at fault with what is wrong.
pub(crate) fn describe(error: &DomainError) -> String {
    match error {
        DomainError::Validation(errors) => errors
            .iter()
            .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}
