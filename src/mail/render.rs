//! Turning an outbox row's data into a MIME message: subject, plain-text and HTML
//! alternatives from templates, the check-in QR code as an inline image of the HTML, and
//! an iCalendar attachment for the site visit.
//!
//! The parts, outermost first: `multipart/mixed` (when there is a calendar attachment)
//! holding `multipart/alternative`, whose HTML alternative is a `multipart/related` of
//! the HTML and its PNG (`Content-ID`, shown by `<img src="cid:…">`) when the person has
//! a check-in code. An inline part by Content-ID is what mail clients display; a `data:`
//! URI is blocked by Gmail and others, an SVG by most.

use chrono::{DateTime, FixedOffset, Utc};
use icalendar::{Calendar, Component, EventLike, EventStatus};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::content::{CalendarUpdate, EmailData, EmailKind, SeatInfo};
use crate::i18n::Lang;
use crate::qr::{grouped, CheckinQr};
use crate::store::registrations::RegistrationStatus;

#[derive(Debug, thiserror::Error)]
#[error("cannot render email: {0}")]
pub struct RenderError(String);

/// Renders emails; cheap to share between threads.
pub struct Renderer {
    templates: Environment<'static>,
    from: Mailbox,
    manage_link: ManageLink,
    checkin_code: CheckinCode,
}

/// How a registration's private manage link is made (the domain signs it; mail only
/// writes it into the message): registration id → URL.
pub type ManageLink = Box<dyn Fn(&str) -> String + Send + Sync>;

/// How a registration's check-in code is made (the domain derives it from the same key;
/// mail only draws it): registration id → code. Derived when the email is rendered, so
/// the outbox never holds the code.
pub type CheckinCode = Box<dyn Fn(&str) -> String + Send + Sync>;

#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    data: &'a EmailData,
    manage_url: String,
    /// The check-in code in groups of four, when the registration is confirmed.
    checkin_code: Option<String>,
    /// The Content-ID of the QR code's image part (without the angle brackets).
    checkin_cid: Option<String>,
    when: Option<String>,
    /// Until when an offered seat is held, in the event's time zone.
    offer_deadline: Option<String>,
    /// When the offered visit starts, in the event's time zone.
    offer_starts: Option<String>,
    subject: String,
    /// An organiser's message: its paragraphs (split at blank lines), each a list of lines.
    paragraphs: Vec<Vec<String>>,
}

/// Where a message sent as a test (to an organiser, not to a registration) shows the
/// personal link a participant's copy carries.
pub const TEST_MANAGE_URL: &str = "https://…/manage/(each participant's own link)";

impl Renderer {
    pub fn new(from: Mailbox, manage_link: ManageLink, checkin_code: CheckinCode) -> Self {
        let templates = templates();
        Self {
            templates,
            from,
            manage_link,
            checkin_code,
        }
    }

    /// The person's manage link; for a test message (no registration), a placeholder.
    pub fn manage_url(&self, registration_id: &str) -> String {
        if registration_id.is_empty() {
            return TEST_MANAGE_URL.to_owned();
        }
        (self.manage_link)(registration_id)
    }

    /// The message for outbox row `row_id`; its Message-ID is derived from the row, so a
    /// retry of the same row carries the same id and receivers can drop duplicates.
    pub fn render(&self, row_id: &str, data: &EmailData) -> Result<Message, RenderError> {
        let fail = |e: &dyn std::fmt::Display| RenderError(e.to_string());
        // Rows queued before languages existed, or with a language since dropped, are
        // written in English.
        let lang = Lang::parse(&data.language).unwrap_or_default();
        // The status is the one the change left: a cancellation, or a place on the event's
        // waiting list, carries no code (it would not check in).
        // An organiser's message carries its text, not the code.
        let message = data.message.as_ref().filter(|_| data.kind == EmailKind::Message);
        let code = RegistrationStatus::parse(&data.status)
            .filter(|status| status.shows_checkin_code() && message.is_none())
            // The email about an attempt to register the address again carries the
            // link only.
            .filter(|_| data.kind != EmailKind::RegistrationAttempt)
            .map(|_| (self.checkin_code)(&data.registration_id));
        let qr_png = code.as_deref().and_then(|code| {
            CheckinQr::new(code)
                .and_then(|qr| qr.png())
                // The code in text still lets the person check in.
                .inspect_err(|error| tracing::error!(%error, "check-in QR code not drawn"))
                .ok()
        });
        let checkin_cid = qr_png.as_ref().map(|_| format!("checkin-{row_id}@rallypoint"));
        let mut context = Context {
            data,
            manage_url: self.manage_url(&data.registration_id),
            checkin_code: code.as_deref().map(grouped),
            checkin_cid: checkin_cid.clone(),
            when: data.seat.as_ref().and_then(|seat| when(seat, lang)),
            offer_deadline: data
                .offer
                .as_ref()
                .and_then(|offer| parse_local(&offer.expires_at))
                .map(|at| lang.moment_with_offset(at)),
            offer_starts: data
                .offer
                .as_ref()
                .and_then(|offer| parse_local(&offer.starts_at))
                .map(|at| lang.moment_with_offset(at)),
            subject: String::new(),
            paragraphs: message.map(|m| paragraphs(&m.body)).unwrap_or_default(),
        };
        let render = |name: &str, context: &Context<'_>| {
            let name = match lang {
                Lang::En => name.to_owned(),
                other => format!("{}/{name}", other.code()),
            };
            self.templates
                .get_template(&name)
                .and_then(|t| t.render(context))
                .map_err(|e| fail(&e))
        };
        let (text, html) = match message {
            Some(message) => {
                context.subject = message.subject.clone();
                (
                    render("message.txt.j2", &context)?,
                    render("message.html.j2", &context)?,
                )
            }
            None if data.kind == EmailKind::Reminder => {
                context.subject = render("reminder_subject.txt.j2", &context)?.trim().to_owned();
                (
                    render("reminder.txt.j2", &context)?,
                    render("reminder.html.j2", &context)?,
                )
            }
            None => {
                context.subject = render("subject.txt.j2", &context)?.trim().to_owned();
                (
                    render("body.txt.j2", &context)?,
                    render("body.html.j2", &context)?,
                )
            }
        };

        // A line break cannot be put in a header (lettre panics on it): registrations
        // made before names were held to one line may still have one.
        let name = format!("{} {}", data.first_name, data.last_name).replace(['\r', '\n'], " ");
        let to = Mailbox::new(Some(name), data.email.parse().map_err(|e| fail(&e))?);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(context.subject.clone())
            .message_id(Some(format!("<{row_id}@rallypoint>")))
            .date_now();
        if !data.event.contact_email.is_empty() {
            if let Ok(contact) = data.event.contact_email.parse() {
                builder = builder.reply_to(contact);
            }
        }
        let alternative = MultiPart::alternative().singlepart(SinglePart::plain(text));
        let alternative = match (qr_png, checkin_cid) {
            (Some(png), Some(cid)) => alternative.multipart(
                MultiPart::related()
                    .singlepart(SinglePart::html(html))
                    .singlepart(
                        Attachment::new_inline_with_name(cid, "checkin-code.png".into())
                            .body(png, ContentType::parse("image/png").map_err(|e| fail(&e))?),
                    ),
            ),
            _ => alternative.singlepart(SinglePart::html(html)),
        };
        let body = match self.calendar(data, lang, &context.manage_url)? {
            Some((ics, method)) => {
                let content_type =
                    ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                        .map_err(|e| fail(&e))?;
                MultiPart::mixed()
                    .multipart(alternative)
                    .singlepart(Attachment::new("site-visit.ics".into()).body(ics, content_type))
            }
            None => alternative,
        };
        builder.multipart(body).map_err(|e| fail(&e))
    }

    /// The iCalendar attachment and its METHOD. One UID per registration: a move updates
    /// the entry (higher SEQUENCE), losing the seat cancels it.
    fn calendar(
        &self,
        data: &EmailData,
        lang: Lang,
        manage_url: &str,
    ) -> Result<Option<(String, &'static str)>, RenderError> {
        let (visit, sequence, method, status) = match &data.calendar {
            CalendarUpdate::None => return Ok(None),
            CalendarUpdate::Request { sequence } => match &data.seat {
                Some(seat) => (seat, *sequence, "REQUEST", EventStatus::Confirmed),
                None => return Ok(None),
            },
            CalendarUpdate::Cancel { sequence, visit } => {
                (visit, *sequence, "CANCEL", EventStatus::Cancelled)
            }
        };
        let (Some(starts), Some(ends)) = (utc(&visit.starts_at), utc(&visit.ends_at)) else {
            return Err(RenderError(format!("bad visit times in {}", visit.slug)));
        };
        let (meeting_point, manage) = match lang {
            Lang::En => ("Meeting point:", "Manage your registration:"),
            Lang::Fr => ("Point de rendez-vous :", "Gérer votre inscription :"),
        };
        let mut description = format!("{} — {}", visit.name, data.event.name);
        if !visit.meeting_point.is_empty() {
            description.push_str(&format!("\n{meeting_point} {}", visit.meeting_point));
        }
        description.push_str(&format!("\n{manage} {manage_url}"));
        let organiser = if data.event.contact_email.is_empty() {
            self.from.email.to_string()
        } else {
            data.event.contact_email.clone()
        };
        let event = icalendar::Event::new()
            .uid(&format!("{}@rallypoint", data.registration_id))
            .sequence(sequence)
            .summary(&format!("{} ({})", visit.name, data.event.name))
            .description(&description)
            .location(&visit.location)
            .starts(starts)
            .ends(ends)
            .status(status)
            .add_property("ORGANIZER", format!("mailto:{organiser}"))
            .add_property("ATTENDEE", format!("mailto:{}", data.email))
            .done();
        let calendar = Calendar::new()
            .append_property(("METHOD", method))
            .push(event)
            .done();
        Ok(Some((calendar.to_string(), method)))
    }
}

/// The email templates, compiled.
fn templates() -> Environment<'static> {
    let mut templates = Environment::new();
    templates.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    for (name, source) in [
        (
            "subject.txt.j2",
            include_str!("../../templates/email/subject.txt.j2"),
        ),
        ("body.txt.j2", include_str!("../../templates/email/body.txt.j2")),
        ("body.html.j2", include_str!("../../templates/email/body.html.j2")),
        (
            "fr/subject.txt.j2",
            include_str!("../../templates/email/fr/subject.txt.j2"),
        ),
        (
            "fr/body.txt.j2",
            include_str!("../../templates/email/fr/body.txt.j2"),
        ),
        (
            "fr/body.html.j2",
            include_str!("../../templates/email/fr/body.html.j2"),
        ),
        (
            "reminder_subject.txt.j2",
            include_str!("../../templates/email/reminder_subject.txt.j2"),
        ),
        (
            "reminder.txt.j2",
            include_str!("../../templates/email/reminder.txt.j2"),
        ),
        (
            "reminder.html.j2",
            include_str!("../../templates/email/reminder.html.j2"),
        ),
        (
            "fr/reminder_subject.txt.j2",
            include_str!("../../templates/email/fr/reminder_subject.txt.j2"),
        ),
        (
            "fr/reminder.txt.j2",
            include_str!("../../templates/email/fr/reminder.txt.j2"),
        ),
        (
            "fr/reminder.html.j2",
            include_str!("../../templates/email/fr/reminder.html.j2"),
        ),
        (
            "message.txt.j2",
            include_str!("../../templates/email/message.txt.j2"),
        ),
        (
            "message.html.j2",
            include_str!("../../templates/email/message.html.j2"),
        ),
        (
            "fr/message.txt.j2",
            include_str!("../../templates/email/fr/message.txt.j2"),
        ),
        (
            "fr/message.html.j2",
            include_str!("../../templates/email/fr/message.html.j2"),
        ),
    ] {
        templates
            .add_template(name, source)
            .expect("the email templates compile");
    }
    templates
}

/// The subject and plain text of an organiser's message as `data`'s person gets it,
/// with the manage link as a placeholder: what the organiser previews.
pub fn preview_message(data: &EmailData) -> Result<(String, String), RenderError> {
    static TEMPLATES: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    let message = data
        .message
        .as_ref()
        .ok_or_else(|| RenderError("not a message".into()))?;
    let lang = Lang::parse(&data.language).unwrap_or_default();
    let context = Context {
        data,
        manage_url: TEST_MANAGE_URL.to_owned(),
        checkin_code: None,
        checkin_cid: None,
        when: None,
        offer_deadline: None,
        offer_starts: None,
        subject: message.subject.clone(),
        paragraphs: paragraphs(&message.body),
    };
    let name = match lang {
        Lang::En => "message.txt.j2".to_owned(),
        other => format!("{}/message.txt.j2", other.code()),
    };
    let text = TEMPLATES
        .get_or_init(templates)
        .get_template(&name)
        .and_then(|t| t.render(&context))
        .map_err(|e| RenderError(e.to_string()))?;
    Ok((message.subject.clone(), text))
}

/// A text's paragraphs (separated by blank lines), each as its lines.
fn paragraphs(text: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut current = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line.to_owned());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn parse_local(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

fn utc(text: &str) -> Option<DateTime<Utc>> {
    parse_local(text).map(|t| t.with_timezone(&Utc))
}

/// "Thursday 5 December 2024, 13:30–17:30 (UTC+01:00)" in the event's time zone.
fn when(seat: &SeatInfo, lang: Lang) -> Option<String> {
    let starts = parse_local(&seat.starts_at)?;
    let ends = parse_local(&seat.ends_at)?;
    Some(format!(
        "{} (UTC{})",
        lang.time_range(starts, ends),
        starts.format("%:z")
    ))
}
