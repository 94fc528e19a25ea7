//! RFC 9457 problem documents: every error a client sees is one, mapped here once.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::domain::{DomainError, FieldErrors};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("this action needs the {0} role")]
    Forbidden(&'static str),
    /// A browser's write from another site (see `cross_site`).
    #[error("the API refuses writes sent by a browser from another site; use the pages' forms")]
    CrossSite,
    #[error("{0}")]
    NotFound(String),
    /// The path exists, the method does not; carries the `Allow` list.
    #[error("this resource allows {0}")]
    MethodNotAllowed(String),
    #[error("too many requests from this client; retry in {0} s")]
    RateLimited(u64),
    /// A failure of ours outside storage (e.g. a workbook that cannot be written): logged,
    /// never shown.
    #[error("{0}")]
    Internal(String),
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        Self::Domain(DomainError::Storage(error))
    }
}

/// What went wrong, as the `type` of a problem document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemType {
    ValidationFailed,
    MalformedRequest,
    DuplicateRegistration,
    RegistrationClosed,
    CapacityExceeded,
    NoOpenOffer,
    /// Answers to questions can no longer change (the event's `answers_close_at`).
    AnswersClosed,
    /// A question that people answered cannot be deleted.
    QuestionInUse,
    /// Check-in (409): the person is checked in on this list already.
    AlreadyCheckedIn,
    /// Check-in (409): the person belongs to another list (another visit).
    WrongList,
    /// Check-in (409): cancelled, waitlisted, or without a seat for a visit's list.
    NotActive,
    NotFound,
    MethodNotAllowed,
    Unauthorized,
    Forbidden,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    ServiceUnavailable,
    Internal,
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Serialize, ToSchema)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: ProblemType,
    /// Short and the same for every problem of this type.
    #[schema(value_type = String)]
    pub title: &'a str,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What happened in this case, for a person to read.
    pub detail: String,
    /// A reference to this occurrence; not sent by this version (RFC 9457 makes it optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub instance: Option<String>,
    /// Validation failures only: every field at fault and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, Vec<String>>>, nullable = false)]
    pub errors: Option<&'a FieldErrors>,
}

impl ApiError {
    /// (status, type, title) of the problem document.
    fn classify(&self) -> (StatusCode, ProblemType, &'static str) {
        use DomainError as D;
        use ProblemType as P;
        match self {
            Self::Domain(D::Validation(_)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                P::ValidationFailed,
                "Validation failed",
            ),
            Self::Domain(D::NotFound(_)) | Self::NotFound(_) => {
                (StatusCode::NOT_FOUND, P::NotFound, "Not found")
            }
            Self::Domain(D::DuplicateRegistration) => (
                StatusCode::CONFLICT,
                P::DuplicateRegistration,
                "Already registered",
            ),
            Self::Domain(D::RegistrationClosed(_)) => {
                (StatusCode::CONFLICT, P::RegistrationClosed, "Registration closed")
            }
            Self::Domain(D::CapacityExceeded(_)) => {
                (StatusCode::CONFLICT, P::CapacityExceeded, "Capacity exceeded")
            }
            Self::Domain(D::NoOpenOffer(_)) => (StatusCode::CONFLICT, P::NoOpenOffer, "No open offer"),
            Self::Domain(D::AnswersClosed(_)) => (StatusCode::CONFLICT, P::AnswersClosed, "Answers closed"),
            Self::Domain(D::QuestionInUse(_)) => (StatusCode::CONFLICT, P::QuestionInUse, "Question in use"),
            // A conflict that outlived its retries is contention too: the client retries.
            Self::Domain(D::Storage(DbError::Unavailable(_) | DbError::Conflict(_))) => (
                StatusCode::SERVICE_UNAVAILABLE,
                P::ServiceUnavailable,
                "Service unavailable",
            ),
            Self::Domain(D::Storage(_)) | Self::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, P::Internal, "Internal error")
            }
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, P::MalformedRequest, "Malformed request"),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                P::UnsupportedMediaType,
                "Unsupported media type",
            ),
            Self::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                P::PayloadTooLarge,
                "Payload too large",
            ),
            Self::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                P::MethodNotAllowed,
                "Method not allowed",
            ),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, P::Unauthorized, "Unauthorized"),
            Self::Forbidden(_) | Self::CrossSite => (StatusCode::FORBIDDEN, P::Forbidden, "Forbidden"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, P::RateLimited, "Too many requests"),
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Domain(DomainError::Validation(errors)) => {
                let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
                format!("check these fields: {}", fields.join(", "))
            }
            Self::Domain(DomainError::Storage(DbError::Unavailable(_) | DbError::Conflict(_))) => {
                "the database is busy or unreachable; retry shortly".into()
            }
            // Never leak internals (SQL, paths, causes) to the client.
            Self::Domain(DomainError::Storage(_)) | Self::Internal(_) => {
                "something went wrong on our side".into()
            }
            other => other.to_string(),
        }
    }
}

/// A problem document with extension members after the standard ones (RFC 9457,
/// section 3.2): answers that are outcomes rather than errors (a check-in scan that
/// found the person already in is recorded, then answered with 409).
pub fn problem_with(
    status: StatusCode,
    kind: ProblemType,
    title: &str,
    detail: String,
    extensions: serde_json::Map<String, serde_json::Value>,
) -> HttpResponse {
    let problem = Problem {
        kind,
        title,
        status: status.as_u16(),
        detail,
        instance: None,
        errors: None,
    };
    let mut body = extensions;
    if let Ok(serde_json::Value::Object(standard)) = serde_json::to_value(&problem) {
        body.extend(standard);
    }
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
        .body(serde_json::Value::Object(body).to_string())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.classify().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, kind, title) = self.classify();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => tracing::warn!(error = %self, "request shed"),
            s if s.is_server_error() => tracing::error!(error = ?self, "request failed"),
            _ => {}
        }
        let errors = match self {
            Self::Domain(DomainError::Validation(errors)) => Some(errors),
            _ => None,
        };
        let body = Problem {
            kind,
            title,
            status: status.as_u16(),
            detail: self.detail(),
            instance: None,
            errors,
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match (status, self) {
            (_, Self::RateLimited(seconds)) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            (StatusCode::SERVICE_UNAVAILABLE, _) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            (_, Self::MethodNotAllowed(allow)) => {
                if let Ok(allow) = HeaderValue::from_str(allow) {
                    response.insert_header((header::ALLOW, allow));
                }
            }
            (StatusCode::UNAUTHORIZED, _) => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&body).unwrap_or_default())
    }
}
