//! Messages to a group (docs/messages.md): an organiser writes a subject and a text, in
//! English, French or both, to an audience chosen like the board's lists; each recipient
//! gets it in their registration's language, else in the other. A dry run counts the
//! recipients and renders what the first of them would get; a send writes the message
//! and one outbox email per recipient in one transaction; a test goes to one address only.
//!
//! Erased people are never recipients (their rows have no address left), and an erasure
//! takes the person's unsent email out of a message already sent (`outbox::
//! forget_registration`): the message keeps its text, its recipients list honours it.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::access::Principal;
use super::audit::{self, AuditEntry};
use super::error::DomainError;
use super::event_rules::find_event_with_visits;
use super::input::Fields;
use super::notify::event_info;
use super::registration::Email;
use super::webhooks::{self, EventType};
use crate::db::DbConnection;
use crate::i18n::Lang;
use crate::mail::content::{CalendarUpdate, EmailData, EmailKind, MessageText};
use crate::mail::render::preview_message;
use crate::store::checkins::{self, ENTRY};
use crate::store::events::EventRow;
use crate::store::messages::{self as stored, MessageRow, NewMessageEmail};
use crate::store::outbox::{FAILED, PENDING, SENT};
use crate::store::registrations::{self, RegistrationFilter, RegistrationRow, RegistrationStatus};
use crate::store::site_visits::SiteVisitRow;
use crate::store::{offers, queues};

const SUBJECT_MAX: usize = 200;
/// Per language; two of them stay well inside the server's 64 KiB body limit.
const BODY_MAX: usize = 10_000;
/// Recipients listed per page of a message's status.
pub const RECIPIENTS_PAGE: i64 = 200;

/// Whom a message goes to among the event's active registrations (never cancelled or
/// erased ones).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Audience {
    /// A site visit's slug: its people of `status` (default `assigned`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_visit: Option<String>,
    /// Without a site visit: `confirmed` or `waitlisted` (the event's waiting list),
    /// both when absent. With one: `assigned` (seated), `waitlisted` (waiting for it) or
    /// `offered` (holding an offer of a seat in it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Checked in (true) or not yet (false) on the site visit's list, or on the
    /// entrance list without a site visit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_in: Option<bool>,
}

const EVENT_STATUSES: [&str; 2] = ["confirmed", "waitlisted"];
const VISIT_STATUSES: [&str; 3] = ["assigned", "waitlisted", "offered"];

impl Audience {
    fn read(fields: &mut Fields) -> Self {
        let site_visit = fields.optional_text("site_visit", 64);
        let status = fields.optional_text("status", 16);
        let allowed: &[&str] = if site_visit.is_some() {
            &VISIT_STATUSES
        } else {
            &EVENT_STATUSES
        };
        if let Some(status) = &status {
            if !allowed.contains(&status.as_str()) {
                let with = if site_visit.is_some() {
                    "with a site visit"
                } else {
                    "without a site visit"
                };
                fields.error("status", format!("must be one of {} {with}", allowed.join(", ")));
            }
        }
        let country = fields.optional_text("country", 2).map(|c| c.to_ascii_uppercase());
        let checked_in = fields.flag("checked_in");
        Self {
            site_visit,
            status,
            country,
            checked_in,
        }
    }
}

/// What an organiser writes: the texts by language (at least one), to whom, and whether
/// to send, only count, or test.
#[derive(Clone, Debug)]
pub struct Compose {
    pub audience: Audience,
    pub en: Option<MessageText>,
    pub fr: Option<MessageText>,
    pub dry_run: bool,
    /// Send it (in each language written) to this address only, as a test.
    pub test_to: Option<Email>,
}

impl Compose {
    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let audience = fields.take_object("audience");
        let audience = fields.nested("audience", audience, Audience::read);
        let subject = fields.take_object("subject");
        let subjects = fields.nested("subject", subject, |f| {
            let mut read = |lang: &str| {
                let text = f.optional_text(lang, SUBJECT_MAX)?;
                if text.contains('\n') {
                    f.error(lang, "must be one line");
                    return None;
                }
                Some(text)
            };
            (read("en"), read("fr"))
        });
        let body = fields.take_object("body");
        let bodies = fields.nested("body", body, |f| {
            (f.optional_text("en", BODY_MAX), f.optional_text("fr", BODY_MAX))
        });
        let mut text = |lang: &str, subject: Option<String>, body: Option<String>| match (subject, body) {
            (Some(subject), Some(body)) => Some(MessageText { subject, body }),
            (Some(_), None) => {
                fields.error(
                    &format!("body.{lang}"),
                    "is required with a subject in this language",
                );
                None
            }
            (None, Some(_)) => {
                fields.error(
                    &format!("subject.{lang}"),
                    "is required with a text in this language",
                );
                None
            }
            (None, None) => None,
        };
        let en = text("en", subjects.0, bodies.0);
        let fr = text("fr", subjects.1, bodies.1);
        if en.is_none() && fr.is_none() && !fields.has_error("subject.en") && !fields.has_error("subject.fr")
        {
            let missing = "give a subject and a text in English (en), French (fr) or both";
            if !fields.has_error("body.en") && !fields.has_error("body.fr") {
                fields.error("subject", missing);
            }
        }
        let dry_run = fields.flag("dry_run").unwrap_or(false);
        let test_to = fields
            .optional_text("test_to", 254)
            .and_then(|address| match Email::parse(&address) {
                Ok(email) => Some(email),
                Err(message) => {
                    fields.error("test_to", message);
                    None
                }
            });
        fields.finish(|| {
            Some(Self {
                audience,
                en: en.clone(),
                fr: fr.clone(),
                dry_run,
                test_to: test_to.clone(),
            })
        })
    }

    /// The text for a person whose registration is in `language`: theirs, else the other.
    fn text_for(&self, language: &str) -> (Lang, &MessageText) {
        match (Lang::parse(language).unwrap_or_default(), &self.en, &self.fr) {
            (Lang::Fr, _, Some(fr)) | (_, None, Some(fr)) => (Lang::Fr, fr),
            (_, Some(en), _) => (Lang::En, en),
            (_, None, None) => unreachable!("a parsed message has a text"),
        }
    }
}

/// A message as its recipients read it (the first recipient's, or a sample's).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// `en` or `fr`.
    pub language: String,
    pub subject: String,
    /// The plain-text email.
    pub text: String,
}

/// What composing did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Composed {
    /// The message's id; none for a dry run or a test.
    pub id: Option<String>,
    pub recipients: usize,
    /// Recipients who get it in English and in French.
    pub english: usize,
    pub french: usize,
    pub dry_run: bool,
    /// The address a test went to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_sent_to: Option<String>,
    pub preview: Preview,
}

/// The event's active registrations `audience` names, in registration order.
fn recipients(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    audience: &Audience,
) -> Result<Vec<RegistrationRow>, DomainError> {
    let visit = match audience.site_visit.as_deref() {
        Some(slug) => Some(visits.iter().find(|v| v.slug == slug).ok_or_else(|| {
            DomainError::invalid("audience.site_visit", "is not a site visit of this event")
        })?),
        None => None,
    };
    let filter = RegistrationFilter {
        country: audience.country.clone(),
        ..RegistrationFilter::default()
    };
    let mut rows: Vec<RegistrationRow> = match (&visit, audience.status.as_deref()) {
        (None, status) => {
            let status = status.and_then(RegistrationStatus::parse);
            let (rows, _) = registrations::list_for_event(
                conn,
                &event.id,
                &RegistrationFilter { status, ..filter },
                i64::MAX,
                0,
            )?;
            rows.into_iter()
                .filter(|row| row.status != RegistrationStatus::Cancelled)
                .collect()
        }
        (Some(visit), None | Some("assigned")) => {
            let seated = RegistrationFilter {
                site_visit_id: Some(visit.id.clone()),
                ..filter
            };
            registrations::list_for_event(conn, &event.id, &seated, i64::MAX, 0)?.0
        }
        (Some(visit), Some(status)) => {
            let ids: Vec<String> = if status == "offered" {
                offers::of_event(conn, &event.id)?
                    .into_iter()
                    .filter(|offer| offer.site_visit_id == visit.id)
                    .map(|offer| offer.registration_id)
                    .collect()
            } else {
                let mut waiting = queues::first(conn, &visit.id, i64::MAX)?;
                waiting.extend(registrations::upgrades_page(conn, &visit.id, 0, i64::MAX)?);
                waiting
            };
            let mut rows: Vec<RegistrationRow> = registrations::find_many(conn, &ids)?
                .into_iter()
                .filter(|row| row.event_id == event.id && row.status != RegistrationStatus::Cancelled)
                .filter(|row| filter.country.as_ref().is_none_or(|c| &row.country == c))
                .collect();
            rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            rows
        }
    };
    rows.retain(|row| row.erased_at.is_none());
    if let Some(wanted) = audience.checked_in {
        let list = visit.map_or(ENTRY, |v| v.id.as_str());
        let checked: HashSet<String> = checkins::of_event(conn, &event.id)?
            .into_iter()
            .filter(|c| c.site_visit_id == list)
            .map(|c| c.registration_id)
            .collect();
        rows.retain(|row| checked.contains(&row.id) == wanted);
    }
    Ok(rows)
}

/// The email of `compose` to `row` (or, for a test, to `to` in `lang`).
fn email_data(event: &EventRow, compose: &Compose, person: Person<'_>) -> EmailData {
    let (lang, text) = match person {
        Person::Registered(row) => compose.text_for(&row.language),
        Person::Test { lang, .. } => compose.text_for(lang.code()),
    };
    let (registration_id, first_name, last_name, email, status) = match person {
        Person::Registered(row) => (
            row.id.clone(),
            row.first_name.clone(),
            row.last_name.clone(),
            row.email.clone(),
            row.status.as_str().to_owned(),
        ),
        // No registration: the manage link is a placeholder (`mail::render`).
        Person::Test { name, to, .. } => (
            String::new(),
            name.to_owned(),
            String::new(),
            to.to_owned(),
            RegistrationStatus::Confirmed.as_str().to_owned(),
        ),
    };
    EmailData {
        kind: EmailKind::Message,
        reason: None,
        registration_id,
        language: lang.code().to_owned(),
        event: event_info(event),
        first_name,
        last_name,
        email,
        status,
        event_waitlist_position: None,
        seat: None,
        previous_visit: None,
        calendar: CalendarUpdate::None,
        ended_offer: None,
        offer: None,
        message: Some(text.clone()),
        reminder: None,
        questions_pending: false,
    }
}

#[derive(Clone, Copy)]
enum Person<'a> {
    Registered(&'a RegistrationRow),
    Test { lang: Lang, name: &'a str, to: &'a str },
}

/// Composes a message on the event `event_slug` as `sender` at `now`: counts and
/// previews it (dry run), sends it as a test, or sends it to every recipient.
pub fn compose(
    conn: &mut DbConnection,
    event_slug: &str,
    sender: &Principal,
    compose: &Compose,
    now: NaiveDateTime,
) -> Result<Composed, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let people = recipients(conn, &event, &visits, &compose.audience)?;
    let french = people
        .iter()
        .filter(|row| compose.text_for(&row.language).0 == Lang::Fr)
        .count();
    let sample_lang = if compose.en.is_some() { Lang::En } else { Lang::Fr };
    let sample = match people.first() {
        Some(row) => email_data(&event, compose, Person::Registered(row)),
        None => email_data(
            &event,
            compose,
            Person::Test {
                lang: sample_lang,
                name: &sender.name,
                to: "participant@example.org",
            },
        ),
    };
    let (subject, text) = preview_message(&sample)
        .map_err(|e| DomainError::invalid("body", format!("cannot be written: {e}")))?;
    let mut composed = Composed {
        id: None,
        recipients: people.len(),
        english: people.len() - french,
        french,
        dry_run: compose.dry_run,
        test_sent_to: None,
        preview: Preview {
            language: sample.language.clone(),
            subject,
            text,
        },
    };
    if compose.dry_run {
        return Ok(composed);
    }
    if let Some(to) = &compose.test_to {
        let langs = [(Lang::En, compose.en.is_some()), (Lang::Fr, compose.fr.is_some())];
        let tests: Vec<(String, String)> = langs
            .into_iter()
            .filter(|(_, written)| *written)
            .map(|(lang, _)| {
                let data = email_data(
                    &event,
                    compose,
                    Person::Test {
                        lang,
                        name: &sender.name,
                        to: to.as_str(),
                    },
                );
                (uuid::Uuid::now_v7().to_string(), payload(&data))
            })
            .collect();
        let rows: Vec<NewMessageEmail<'_>> = tests
            .iter()
            .map(|(id, payload)| new_email(&event, id, None, to.as_str(), payload, None, now))
            .collect();
        stored::insert_emails(conn, &rows)?;
        composed.test_sent_to = Some(to.as_str().to_owned());
        return Ok(composed);
    }
    if people.is_empty() {
        return Err(DomainError::invalid(
            "audience",
            "has no recipients: nobody of this event matches it",
        ));
    }
    let message = MessageRow {
        id: uuid::Uuid::now_v7().to_string(),
        event_id: event.id.clone(),
        audience: serde_json::to_string(&compose.audience).unwrap_or_else(|_| "{}".into()),
        subject_en: compose.en.as_ref().map(|t| t.subject.clone()).unwrap_or_default(),
        subject_fr: compose.fr.as_ref().map(|t| t.subject.clone()).unwrap_or_default(),
        body_en: compose.en.as_ref().map(|t| t.body.clone()).unwrap_or_default(),
        body_fr: compose.fr.as_ref().map(|t| t.body.clone()).unwrap_or_default(),
        recipients: people.len() as i32,
        sent_by: sender.token_id.clone(),
        sent_by_name: sender.name.clone(),
        created_at: now,
    };
    stored::insert(conn, &message)?;
    let emails: Vec<(String, String)> = people
        .iter()
        .map(|row| {
            let data = email_data(&event, compose, Person::Registered(row));
            (uuid::Uuid::now_v7().to_string(), payload(&data))
        })
        .collect();
    let rows: Vec<NewMessageEmail<'_>> = people
        .iter()
        .zip(&emails)
        .map(|(row, (id, payload))| {
            new_email(
                &event,
                id,
                Some(&row.id),
                &row.email,
                payload,
                Some(&message.id),
                now,
            )
        })
        .collect();
    stored::insert_emails(conn, &rows)?;
    audit::record(
        conn,
        AuditEntry {
            event_id: Some(&event.id),
            actor: &sender.token_id,
            action: "message",
            subject: Some(&message.id),
            before: None,
            after: Some(json!({ "recipients": people.len(), "audience": compose.audience })),
        },
        now,
    )?;
    // One message to webhook receivers for the whole send (not one per recipient: the
    // recipients are on the message's status page).
    let data = json!({
        "message": {
            "id": &message.id,
            "recipients": people.len(),
            "audience": compose.audience,
            "languages": { "en": composed.english, "fr": composed.french },
        }
    });
    webhooks::record(conn, &event, EventType::MessageSent, None, data, now)?;
    composed.id = Some(message.id);
    Ok(composed)
}

fn payload(data: &EmailData) -> String {
    serde_json::to_string(data).expect("email data serialises")
}

fn new_email<'a>(
    event: &'a EventRow,
    id: &'a str,
    registration_id: Option<&'a str>,
    recipient: &'a str,
    payload: &'a str,
    message_id: Option<&'a str>,
    now: NaiveDateTime,
) -> NewMessageEmail<'a> {
    NewMessageEmail {
        id,
        event_id: &event.id,
        registration_id,
        kind: EmailKind::Message.as_str(),
        recipient,
        payload,
        status: PENDING,
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        message_id,
    }
}

/// How many of a message's emails are queued (not sent yet), sent and failed.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
}

/// One recipient's email.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RecipientStatus {
    /// None for a test.
    pub registration_id: Option<String>,
    pub email: String,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// A message as sent, what became of its emails, and a page of its recipients.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MessageStatus {
    pub id: String,
    pub audience: Value,
    pub subject: Texts,
    pub body: Texts,
    /// How many it was sent to.
    pub recipients: i32,
    pub sent_by: String,
    pub created_at: DateTime<Utc>,
    pub totals: Totals,
    pub page: i64,
    pub pages: i64,
    pub emails: Vec<RecipientStatus>,
}

/// A text in each language written.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Texts {
    pub en: Option<String>,
    pub fr: Option<String>,
}

impl Texts {
    fn of(en: &str, fr: &str) -> Self {
        let given = |t: &str| (!t.is_empty()).then(|| t.to_owned());
        Self {
            en: given(en),
            fr: given(fr),
        }
    }
}

/// A recipient's status: their email's, with pending and sending both `queued`.
fn status_word(outbox_status: &str) -> &'static str {
    match outbox_status {
        SENT => "sent",
        FAILED => "failed",
        _ => "queued",
    }
}

/// The status of message `id` of the event, with page `page` of its recipients.
pub fn status(
    conn: &mut DbConnection,
    event_slug: &str,
    id: &str,
    page: i64,
) -> Result<MessageStatus, DomainError> {
    let (event, _) = find_event_with_visits(conn, event_slug)?;
    let message = stored::find(conn, &event.id, id)?.ok_or(DomainError::NotFound("message"))?;
    let mut totals = Totals::default();
    for (status, count) in stored::totals(conn, &message.id)? {
        match status_word(&status) {
            "sent" => totals.sent += count,
            "failed" => totals.failed += count,
            _ => totals.queued += count,
        }
    }
    let listed = totals.queued + totals.sent + totals.failed;
    let pages = (listed + RECIPIENTS_PAGE - 1).div_euclid(RECIPIENTS_PAGE).max(1);
    let page = page.clamp(1, pages);
    let emails = stored::recipients(conn, &message.id, (page - 1) * RECIPIENTS_PAGE, RECIPIENTS_PAGE)?
        .into_iter()
        .map(|email| RecipientStatus {
            registration_id: email.registration_id,
            email: email.recipient,
            status: status_word(&email.status).to_owned(),
            sent_at: email.sent_at.map(|t| t.and_utc()),
            error: email.last_error,
        })
        .collect();
    Ok(MessageStatus {
        audience: serde_json::from_str(&message.audience).unwrap_or(Value::Null),
        subject: Texts::of(&message.subject_en, &message.subject_fr),
        body: Texts::of(&message.body_en, &message.body_fr),
        recipients: message.recipients,
        sent_by: message.sent_by_name,
        created_at: message.created_at.and_utc(),
        totals,
        page,
        pages,
        emails,
        id: message.id,
    })
}

/// The event's latest messages (for the board), newest first.
pub fn recent(conn: &mut DbConnection, event_slug: &str, limit: i64) -> Result<Vec<MessageRow>, DomainError> {
    let (event, _) = find_event_with_visits(conn, event_slug)?;
    Ok(stored::of_event(conn, &event.id, limit)?)
}
