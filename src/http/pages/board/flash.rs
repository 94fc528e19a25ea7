//! The flash message: what an action did, or why it was refused, shown once on the
//! page the action redirects to.

use std::collections::BTreeMap;

use actix_web::cookie::time::Duration as CookieAge;
use actix_web::HttpRequest;
use serde::Serialize;

use super::{board_cookie, FLASH_COOKIE};
use crate::domain::DomainError;
use crate::http::pages::{OrPage, PageError, PageRequest};
use crate::i18n::Lang;

/// A message for the next page, in a cookie that lives a minute: it survives the
/// redirect and cannot be forged through a link.
#[derive(Serialize)]
pub(super) struct Flash {
    error: bool,
    text: String,
}

impl Flash {
    /// A message shown on the page itself (no redirect).
    pub(super) fn ok(text: String) -> Self {
        Self { error: false, text }
    }
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

/// What an organiser reads when an action is refused, in the page's language. The
/// domain's reasons are English (the API's words); the ones a board action meets are
/// written again in French here, like `Lang::field_error` does for the forms, and any
/// other shows as the domain wrote it.
fn refusal(error: &DomainError, lang: Lang) -> Option<String> {
    let text = match error {
        DomainError::Validation(errors) => errors
            .iter()
            .map(|(field, messages)| match lang {
                Lang::En => format!("{field}: {}", messages.join("; ")),
                Lang::Fr => {
                    let label = lang
                        .text(&format!("board.field_{field}"))
                        .unwrap_or(field.as_str());
                    let messages: Vec<String> = messages.iter().map(|m| french_reason(m)).collect();
                    format!("{label} : {}", messages.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join(". "),
        DomainError::CapacityExceeded(message)
        | DomainError::RegistrationClosed(message)
        | DomainError::NoOpenOffer(message)
        | DomainError::AnswersClosed(message)
        | DomainError::QuestionInUse(message) => match lang {
            Lang::En => message.clone(),
            Lang::Fr => french_reason(message),
        },
        DomainError::NotFound(what) => match lang
            .text(&format!("board.not_found.{}", what.replace(' ', "_")))
            .filter(|_| lang == Lang::Fr)
        {
            Some(text) => text.to_owned(),
            None => format!("{what} not found"),
        },
        DomainError::DuplicateRegistration | DomainError::Storage(_) => return None,
    };
    Some(text)
}

/// A domain reason in French when it is one the board's actions meet; otherwise as it
/// is. Validation messages go through `Lang::field_error` when it knows them.
fn french_reason(message: &str) -> String {
    let fr = Lang::Fr;
    if let Some((visit, rest)) = message.rsplit_once(" is full (") {
        if let Some((taken, capacity)) = rest
            .strip_suffix(" seats taken)")
            .and_then(|numbers| numbers.split_once(" of "))
        {
            if let Ok(taken) = taken.parse::<i64>() {
                return fr.count(
                    "board.refused_full",
                    taken,
                    &[("visit", &visit), ("capacity", &capacity)],
                );
            }
        }
    }
    if let Some((taken, visit)) = message
        .strip_suffix(" are taken: the capacity cannot go below that")
        .and_then(|rest| rest.split_once(" seats of "))
        .and_then(|(taken, visit)| Some((taken.parse::<i64>().ok()?, visit)))
    {
        return fr.count("board.refused_below", taken, &[("visit", &visit)]);
    }
    let key = match message {
        "this registration is cancelled" => "board.refused_cancelled",
        "the person is on the event's waitlist: the event is full" => "board.refused_event_full",
        "must be a whole number" | "is required" => return fr.field_error(message),
        m if m.starts_with("must be at most ") || m.ends_with("is not a site visit of this event") => {
            return fr.field_error(m)
        }
        other => return other.to_owned(),
    };
    fr.fill(key, &[])
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
        Err(error) => match refusal(&error, page.lang) {
            Some(text) => Ok(Err(text)),
            None => Err(error).or_page(page),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusals_of_board_actions_are_written_in_french_too() {
        let full = DomainError::CapacityExceeded("Visit a is full (1 of 1 seats taken)".into());
        assert_eq!(
            refusal(&full, Lang::En).unwrap(),
            "Visit a is full (1 of 1 seats taken)"
        );
        assert_eq!(
            refusal(&full, Lang::Fr).unwrap(),
            "Visit a est complète (1 place prise sur 1)"
        );
        let below = DomainError::CapacityExceeded(
            "2 seats of Visit a are taken: the capacity cannot go below that".into(),
        );
        assert!(refusal(&below, Lang::Fr)
            .unwrap()
            .starts_with("2 places de Visit a sont prises"));
        let invalid = DomainError::invalid("capacity", "must be a whole number");
        assert_eq!(
            refusal(&invalid, Lang::En).unwrap(),
            "capacity: must be a whole number"
        );
        assert_eq!(
            refusal(&invalid, Lang::Fr).unwrap(),
            "capacité : Saisissez un nombre entier."
        );
        assert_eq!(
            refusal(&DomainError::NotFound("site visit"), Lang::Fr).unwrap(),
            "visite introuvable"
        );
        assert_eq!(
            refusal(&DomainError::NotFound("token"), Lang::Fr).unwrap(),
            "token not found"
        );
        let odd = DomainError::NoOpenOffer("the offer is no longer open".into());
        assert_eq!(refusal(&odd, Lang::Fr).unwrap(), "the offer is no longer open");
    }
}
