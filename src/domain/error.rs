//! The domain's error: what went wrong in terms a client can act on. The HTTP edge maps
//! each variant once to a problem document (`http::problem`).

use std::collections::BTreeMap;

use crate::db::{DbError, UnitError};

/// Field name → messages, as rendered in the problem document's `errors` member.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("an active registration with this email already exists for this event")]
    DuplicateRegistration,
    #[error("{0}")]
    RegistrationClosed(String),
    #[error("{0}")]
    CapacityExceeded(String),
    /// Accepting or declining an offer that is not open (none, expired, already ended).
    #[error("{0}")]
    NoOpenOffer(String),
    /// Answers to questions changed after the event's `answers_close_at`.
    #[error("{0}")]
    AnswersClosed(String),
    /// A question that people answered cannot be deleted.
    #[error("{0}")]
    QuestionInUse(String),
    #[error(transparent)]
    Storage(#[from] DbError),
}

impl DomainError {
    /// A single-field validation error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message.into()]);
        Self::Validation(errors)
    }
}

impl From<diesel::result::Error> for DomainError {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::NotFound => Self::NotFound("record"),
            other => Self::Storage(DbError::from(other)),
        }
    }
}

impl UnitError for DomainError {
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Storage(DbError::Conflict(_)))
    }
}
