//! The schema migrations this build embeds, per backend: applying them, and telling
//! whether any is still pending.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{DbConnection, DbError};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies pending migrations of the connection's backend; returns the versions applied.
pub(super) fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConnection::Sqlite(conn) => conn
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect()),
        DbConnection::Postgres(conn) => {
            // Several instances may start at once: one migrates, the others wait.
            conn.batch_execute(
                "SET lock_timeout = 0; SET statement_timeout = 0; SELECT pg_advisory_lock(7261090411)",
            )?;
            let applied = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|versions| versions.iter().map(ToString::to_string).collect());
            conn.batch_execute("SELECT pg_advisory_unlock(7261090411)")?;
            applied
        }
    };
    applied.map_err(|e| DbError::Unavailable(format!("migrations failed: {e}")))
}

/// True when a migration this build embeds is not yet applied.
pub(super) fn has_pending(conn: &mut DbConnection) -> diesel::migration::Result<bool> {
    match conn {
        DbConnection::Sqlite(conn) => sqlite_has_pending_migration(conn),
        DbConnection::Postgres(conn) => conn.has_pending_migration(POSTGRES_MIGRATIONS),
    }
}

/// Whether a migration this build embeds is not recorded as applied, read without
/// writing: diesel's `has_pending_migration` first creates its bookkeeping table, which a
/// read-only SQLite connection refuses ("attempt to write a readonly database"), and
/// `/readyz` would never be ready.
fn sqlite_has_pending_migration(conn: &mut SqliteConnection) -> diesel::migration::Result<bool> {
    use diesel::migration::MigrationSource;
    diesel::table! {
        __diesel_schema_migrations (version) {
            version -> Text,
        }
    }
    let applied: Vec<String> = __diesel_schema_migrations::table
        .select(__diesel_schema_migrations::version)
        .load(conn)?;
    let embedded = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)?;
    Ok(embedded
        .iter()
        .any(|migration| !applied.contains(&migration.name().version().to_string())))
}
