//! The command line: `serve` (the default), `migrate`, `event import`, `token create`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::domain::access::{self, Role};
use crate::domain::{now, DomainError};
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
    /// Deliver queued emails only (no HTTP), until SIGINT or SIGTERM.
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
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RoleArg {
    Admin,
    Organiser,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Organiser => Role::Organiser,
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
}

pub fn run(cli: Cli, settings: Settings) -> Result<(), CliError> {
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
        Command::Token {
            action: TokenAction::Create { role, name },
        } => {
            let db = startup::connect_and_migrate(&settings)?;
            let role = Role::from(role);
            let secret = db.write_blocking(move |conn| access::create_api_token(conn, role, &name, now()))?;
            println!(
                "created a {} token; keep it secret, it is shown only once:",
                role.as_str()
            );
            println!("{secret}");
            Ok(())
        }
    }
}

fn run_worker(settings: Settings) -> Result<(), CliError> {
    let db = startup::connect_and_migrate(&settings)?;
    let key = startup::load_manage_key(&db, &settings)?;
    let public_url = match settings.server.public_url.as_str() {
        "" => format!("http://{}", settings.server.bind),
        url => url.to_owned(),
    };
    let worker = crate::mail::delivery_worker(&settings, db, &public_url, key)
        .map_err(StartupError::Mail)?
        .spawn();
    println!("delivering emails; stop with Ctrl-C or SIGTERM");
    actix_web::rt::System::new().block_on(shutdown_signal())?;
    // Finishes the email in flight before returning.
    worker.stop();
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
