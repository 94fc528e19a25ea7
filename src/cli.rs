//! The command line: `serve` (the default), `migrate`, `worker`, `event import`,
//! `token create|list|revoke`, `export counts|attendees`, `erase`.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::db::Database;
use crate::domain::access::Role;
use crate::domain::exports::{self, AttendeeCursor, CountsBy};
use crate::domain::tokens::{self, NewToken, TokenStatus};
use crate::domain::{erasure, now, DomainError};
use crate::export::{self, xlsx, Format};
use crate::settings::Settings;
use crate::startup::{self, Application, StartupError};

#[derive(Debug, Parser)]
#[command(
    name = "rallypoint",
    version,
    about = "Conference registration and site-visit scheduling"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Deliver queued emails and webhooks (and run retention) only, no HTTP, until SIGINT
    /// or SIGTERM.
    Worker,
    /// Event files.
    Event {
        #[command(subcommand)]
        action: EventAction,
    },
    /// API tokens for organisers and admins.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Counts and attendee lists, to stdout or a file.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Erase a person's personal data in every event (cancelling active registrations).
    Erase {
        /// The person's email address, any letter case.
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// Attendee counts by country or by site visit (with a TOTAL row).
    Counts {
        #[arg(long)]
        event: String,
        #[arg(long, value_enum, default_value = "country")]
        by: ByArg,
        #[arg(long, value_enum, default_value = "csv")]
        format: FormatArg,
        /// Write here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Every active registration with its site visit, in registration order.
    Attendees {
        #[arg(long)]
        event: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: FormatArg,
        /// Write here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ByArg {
    Country,
    #[value(name = "site_visit", alias = "site-visit")]
    SiteVisit,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
    Xlsx,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Xlsx => Format::Xlsx,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum EventAction {
    /// Create or update events from TOML files (by slug; never duplicated).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token; its secret is printed as the last line and never stored.
    Create {
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long)]
        name: String,
        /// The token stops working this many days (1 to 3650) from now; without it, it
        /// works until revoked.
        #[arg(long, value_name = "DAYS", allow_negative_numbers = true)]
        expires_in_days: Option<i64>,
    },
    /// Every token: id, role, status, when created, expires and was revoked, and name
    /// (never a secret).
    List,
    /// Revoke a token and end its board sessions; revoking twice changes nothing.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RoleArg {
    Admin,
    Organiser,
    /// Scans check-in codes and reads the check-in lists, nothing else.
    Steward,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Organiser => Role::Organiser,
            RoleArg::Steward => Role::Steward,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("the export could not be written: {0}")]
    Export(String),
}

pub fn run(cli: Cli, settings: Settings) -> Result<(), CliError> {
    // The identity keys' form (docs/identity-data.md); the message never repeats a key.
    if let Err(e) = crate::domain::identity::IdentityKeys::parse(&settings.security.identity_keys) {
        return Err(CliError::Usage(format!(
            "invalid settings: security.identity_keys: {e}"
        )));
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let db = startup::connect_and_migrate(&settings)?;
            println!("database {} is up to date", db.url().redacted());
            Ok(())
        }
        Command::Worker => run_worker(settings),
        Command::Event {
            action: EventAction::Import { files },
        } => {
            let db = startup::connect_and_migrate(&settings)?;
            for file in files {
                let outcome = startup::import_event_file(&db, &file)?;
                println!(
                    "{}: event {}, {} site visits created, {} updated",
                    file.display(),
                    if outcome.event_created {
                        "created"
                    } else {
                        "updated"
                    },
                    outcome.visits_created,
                    outcome.visits_updated
                );
            }
            Ok(())
        }
        Command::Export { what } => {
            let db = startup::connect_and_migrate(&settings)?;
            match what {
                ExportWhat::Counts {
                    event,
                    by,
                    format,
                    output,
                } => export_counts(&db, &event, by, format.into(), output.as_deref()),
                ExportWhat::Attendees {
                    event,
                    format,
                    output,
                } => export_attendees(&db, &event, format.into(), output.as_deref()),
            }
        }
        Command::Erase { email } => {
            let db = startup::connect_and_migrate(&settings)?;
            let erased =
                db.write_blocking(move |conn| erasure::erase_by_email(conn, "cli", &email, now()))?;
            if !erased.is_empty() {
                erasure::after_erasure_blocking(&db);
            }
            if erased.is_empty() {
                println!("no registration has that email");
            }
            for erasure in erased {
                println!(
                    "erased registration {} of {}{}",
                    erasure.id,
                    erasure.event,
                    if erasure.was_active { " (cancelled)" } else { "" }
                );
            }
            Ok(())
        }
        Command::Token { action } => {
            let db = startup::connect_and_migrate(&settings)?;
            match action {
                TokenAction::Create {
                    role,
                    name,
                    expires_in_days,
                } => create_token(&db, role.into(), &name, expires_in_days),
                TokenAction::List => list_tokens(&db),
                TokenAction::Revoke { id } => revoke_token(&db, &id),
            }
        }
    }
}

/// The actor the audit log names for what is done from the command line.
const CLI_ACTOR: &str = "cli";

fn create_token(db: &Database, role: Role, name: &str, expires_in_days: Option<i64>) -> Result<(), CliError> {
    let new =
        NewToken::new(role, name, expires_in_days).map_err(|e| CliError::Usage(startup::describe(&e)))?;
    let issued = db.write_blocking(move |conn| tokens::issue(conn, CLI_ACTOR, &new, now()))?;
    let until = match issued.token.expires_at {
        Some(at) => format!(", valid until {}", cli_time(at)),
        None => String::new(),
    };
    println!(
        "created {} token {}{until}; keep it secret, it is shown only once:",
        role.as_str(),
        issued.token.id
    );
    println!("{}", issued.secret);
    Ok(())
}

fn cli_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// One line per token, columns aligned; the name last, as it may hold spaces.
fn list_tokens(db: &Database) -> Result<(), CliError> {
    let tokens = db.read_blocking(|conn| tokens::list(conn, now()))?;
    if tokens.is_empty() {
        println!("no tokens; create one with: rallypoint token create --role admin --name NAME");
        return Ok(());
    }
    let never = || "-".to_owned();
    let mut rows = vec![[
        "ID".to_owned(),
        "ROLE".to_owned(),
        "STATUS".to_owned(),
        "CREATED".to_owned(),
        "EXPIRES".to_owned(),
        "REVOKED".to_owned(),
        "NAME".to_owned(),
    ]];
    for token in tokens {
        let status = match token.status {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        };
        rows.push([
            token.id,
            token.role.as_str().to_owned(),
            status.to_owned(),
            cli_time(token.created_at),
            token.expires_at.map_or_else(never, cli_time),
            token.revoked_at.map_or_else(never, cli_time),
            token.name,
        ]);
    }
    let mut widths = [0; 7];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = io::stdout().lock();
    for row in rows {
        let (name, columns) = row.split_last().expect("seven columns");
        for (cell, width) in columns.iter().zip(widths) {
            write!(out, "{cell:<width$}  ")?;
        }
        writeln!(out, "{name}")?;
    }
    Ok(())
}

fn revoke_token(db: &Database, id: &str) -> Result<(), CliError> {
    let owned = id.to_owned();
    let revocation = match db.write_blocking(move |conn| tokens::revoke(conn, CLI_ACTOR, &owned, now())) {
        Err(DomainError::NotFound(_)) => {
            return Err(CliError::Usage(format!(
                "no token has the id {id}; `rallypoint token list` shows them"
            )))
        }
        other => other?,
    };
    let token = revocation.token;
    let when = token.revoked_at.map(cli_time).unwrap_or_default();
    if revocation.already_revoked {
        println!(
            "token {} ({}) was already revoked on {when}",
            token.id, token.name
        );
    } else {
        println!(
            "revoked token {} ({}); {} board session(s) ended",
            token.id, token.name, revocation.sessions_ended
        );
    }
    Ok(())
}

fn run_worker(settings: Settings) -> Result<(), CliError> {
    let db = startup::connect_and_migrate(&settings)?;
    let key = startup::load_manage_key(&db, &settings)?;
    let public_url = match settings.server.public_url.as_str() {
        "" => format!("http://{}", settings.server.bind),
        url => url.to_owned(),
    };
    let retention = crate::retention::spawn(db.clone(), settings.retention.clone());
    let webhooks = settings
        .webhooks
        .worker
        .then(|| startup::webhook_worker(&settings, db.clone(), key.clone()).spawn());
    let worker = startup::delivery_worker(&settings, db, &public_url, key)?.spawn();
    println!("delivering emails and webhooks; stop with Ctrl-C or SIGTERM");
    actix_web::rt::System::new().block_on(shutdown_signal())?;
    // Finishes the email and webhooks in flight (and the retention batch) before returning.
    worker.stop();
    if let Some(webhooks) = webhooks {
        webhooks.stop();
    }
    retention.stop();
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted,
        _ = terminate.recv() => Ok(()),
    }
}

fn serve(settings: Settings) -> Result<(), CliError> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        tracing::info!(address = %app.address(), database = %app.database().url().redacted(), "rallypoint is listening");
        // The bound address on stdout, for scripts that asked for port 0.
        println!("listening on http://{}", app.address());
        app.run_until_stopped().await?;
        Ok(())
    })
}

/// Where an export goes: the file named, or stdout. A workbook is binary: it is not
/// written to a terminal.
fn open_output(output: Option<&Path>, format: Format) -> Result<Box<dyn Write + Send>, CliError> {
    match output {
        Some(path) => Ok(Box::new(BufWriter::new(File::create(path)?))),
        None if format == Format::Xlsx && io::stdout().is_terminal() => Err(CliError::Usage(
            "an XLSX workbook is binary: give --output FILE or redirect stdout".into(),
        )),
        None => Ok(Box::new(BufWriter::new(io::stdout()))),
    }
}

fn export_counts(
    db: &Database,
    event: &str,
    by: ByArg,
    format: Format,
    output: Option<&Path>,
) -> Result<(), CliError> {
    let by = match by {
        ByArg::Country => CountsBy::Country,
        ByArg::SiteVisit => CountsBy::SiteVisit,
    };
    let event = event.to_owned();
    let counts = db.read_blocking(|conn| exports::counts(conn, &event, by, now()))?;
    let bytes = match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&export::json::counts(&counts))
                .map_err(|e| CliError::Export(e.to_string()))?;
            text.push('\n');
            text.into_bytes()
        }
        Format::Csv => export::csv::table(&export::counts_table(&counts)),
        Format::Xlsx => xlsx::table(&export::counts_table(&counts), "Counts")
            .map_err(|e| CliError::Export(e.to_string()))?,
    };
    let mut out = open_output(output, format)?;
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}

/// A progress bar on stderr, shown when a person watches the terminal and the data
/// itself is not going to that terminal.
fn progress(total: i64, output: Option<&Path>) -> ProgressBar {
    let watched = io::stderr().is_terminal() && (output.is_some() || !io::stdout().is_terminal());
    if !watched {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total.max(0) as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} attendees, {eta} left") {
        bar.set_style(style);
    }
    bar
}

fn export_attendees(
    db: &Database,
    event: &str,
    format: Format,
    output: Option<&Path>,
) -> Result<(), CliError> {
    if format == Format::Json {
        return Err(CliError::Usage(
            "the attendee list is exported as csv or xlsx".into(),
        ));
    }
    let (mut cursor, total) = db.read_blocking(|conn| {
        let cursor = AttendeeCursor::open(conn, event)?;
        let total = cursor.total(conn)?;
        Ok::<_, DomainError>((cursor, total))
    })?;
    if format == Format::Xlsx && total >= xlsx::MAX_ROWS {
        return Err(CliError::Usage(format!(
            "{total} attendees do not fit in one XLSX sheet; use --format csv"
        )));
    }
    let mut out = open_output(output, format)?;
    let bar = progress(total, output);
    let mut workbook = match format {
        Format::Xlsx => Some(
            xlsx::AttendeeWorkbook::new(&cursor.answer_columns())
                .map_err(|e| CliError::Export(e.to_string()))?,
        ),
        _ => {
            out.write_all(&export::csv::attendee_header(&cursor.answer_columns()))?;
            None
        }
    };
    loop {
        let page = db.read_blocking(|conn| cursor.next_page(conn))?;
        if page.is_empty() {
            break;
        }
        match workbook.as_mut() {
            Some(workbook) => workbook
                .append(&page)
                .map_err(|e| CliError::Export(e.to_string()))?,
            None => out.write_all(&export::csv::attendee_lines(&page))?,
        }
        bar.inc(page.len() as u64);
    }
    if let Some(workbook) = workbook {
        workbook
            .finish(&mut out)
            .map_err(|e| CliError::Export(e.to_string()))?;
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}
