//! The flash message: what an action did, or why it was refused, shown once on the
//! page the action redirects to.

use std::collections::BTreeMap;

use actix_web::cookie::time::Duration as CookieAge;
use actix_web::HttpRequest;
use serde::Serialize;

use super::{board_cookie, FLASH_COOKIE};
use crate::domain::DomainError;
use crate::http::pages::{OrPage, PageError, PageRequest};

/// A message for the next page, in a cookie that lives a minute: it survives the
/// redirect and cannot be forged through a link.
#[derive(Serialize)]
pub(super) struct Flash {
    error: bool,
    text: String,
}

pub(super) fn set_flash(page: &mut PageRequest, flash: Result<String, String>) {
    let (kind, text) = match flash {
        Ok(text) => ("ok", text),
        Err(text) => ("error", text),
    };
    let value = form_urlencoded::Serializer::new(String::new())
        .append_pair("kind", kind)
        .append_pair("text", &text)
        .finish();
    let secure = page.secure();
    page.add_cookie(board_cookie(FLASH_COOKIE, value, CookieAge::minutes(1), secure));
}

pub(super) fn take_flash(req: &HttpRequest, page: &mut PageRequest) -> Option<Flash> {
    let cookie = req.cookie(FLASH_COOKIE)?;
    let secure = page.secure();
    page.add_cookie(board_cookie(FLASH_COOKIE, String::new(), CookieAge::ZERO, secure));
    let fields: BTreeMap<String, String> = form_urlencoded::parse(cookie.value().as_bytes())
        .into_owned()
        .collect();
    Some(Flash {
        error: fields.get("kind").is_some_and(|k| k == "error"),
        text: fields.get("text")?.clone(),
    })
}

/// What an organiser reads when an action is refused.
fn refusal(error: &DomainError) -> Option<String> {
    match error {
        DomainError::Validation(errors) => Some(
            errors
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
                .collect::<Vec<_>>()
                .join(". "),
        ),
        DomainError::CapacityExceeded(message)
        | DomainError::RegistrationClosed(message)
        | DomainError::NoOpenOffer(message) => Some(message.clone()),
        DomainError::NotFound(what) => Some(format!("{what} not found")),
        DomainError::DuplicateRegistration | DomainError::Storage(_) => None,
    }
}

/// The flash of an action's outcome: its message, or why it was refused; failures of
/// the service itself are error pages.
pub(super) fn outcome_flash<T>(
    page: &PageRequest,
    outcome: Result<T, DomainError>,
    message: impl FnOnce(T) -> String,
) -> Result<Result<String, String>, PageError> {
    match outcome {
        Ok(value) => Ok(Ok(message(value))),
        Err(error) => match refusal(&error) {
            Some(text) => Ok(Err(text)),
            None => Err(error).or_page(page),
        },
    }
}
