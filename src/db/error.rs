//! How storage failures reach callers: [`DbError`] classifies diesel's errors once, and
//! [`UnitError`] lets a unit of work's own error type carry them.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Storage failures, classified once so that callers map them without string matching.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Contention or an unreachable database: the client should retry (HTTP 503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A deadlock or serialization failure: the unit of work is rerun.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Query(DieselError),
    /// The unit of work panicked (a bug): its transaction was rolled back (HTTP 500).
    #[error("the unit of work failed: {0}")]
    Panicked(String),
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        use DatabaseErrorKind as Kind;
        match &error {
            DieselError::DatabaseError(Kind::SerializationFailure, info) => {
                Self::Conflict(info.message().to_owned())
            }
            DieselError::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::DatabaseError(_, info) => {
                // PostgreSQL reports these as plain errors (SQLSTATE 40P01, 55P03, 57014)
                // and SQLite as SQLITE_BUSY; diesel exposes only the message.
                let message = info.message();
                if message.contains("deadlock detected") {
                    Self::Conflict(message.to_owned())
                } else if message.contains("lock timeout")
                    || message.contains("statement timeout")
                    || message.contains("database is locked")
                    || message.contains("database table is locked")
                    || message.contains("terminating connection")
                    || message.contains("server closed the connection")
                    || message.contains("no connection to the server")
                    || message.contains("could not send data to server")
                    || message.contains("could not receive data from server")
                    || message.contains("the database system is")
                {
                    Self::Unavailable(message.to_owned())
                } else {
                    Self::Query(error)
                }
            }
            DieselError::BrokenTransactionManager => Self::Unavailable("broken transaction manager".into()),
            _ => Self::Query(error),
        }
    }
}

/// Error types that units of work return: they carry storage errors and say whether the
/// whole unit may be rerun (deadlock, serialization failure).
pub trait UnitError: From<DbError> + From<DieselError> + Send + 'static {
    fn is_conflict(&self) -> bool;
}

impl UnitError for DbError {
    fn is_conflict(&self) -> bool {
        matches!(self, DbError::Conflict(_))
    }
}
