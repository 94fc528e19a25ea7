//! Signed webhooks (docs/webhooks.md): what a message says, and its recording in the
//! transaction of the change it reports — the transactional outbox of invariant 5, for
//! other systems. Every change a participant is emailed about is also a webhook message
//! ([`notice_messages`], called by `notify` for each email it queues); check-in and group
//! messages call [`record`]. Each message goes to every active endpoint subscribed to its
//! type (and to its event); with no such endpoint nothing is written. The admins'
//! actions on endpoints are in [`endpoints`].
//!
//! What a payload tells: the registration's id, status, ranking, seat or waitlist place
//! and open offer, and what changed — never a name, address or organisation, unless the
//! endpoint was registered with `personal_data` (then the person's names, email,
//! organisation, country, job title and language too; never dietary needs).

pub mod endpoints;

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::error::DomainError;
use super::notify::Notice;
use super::view::{RegistrationStatus, RegistrationView, SeatStatus};
use crate::db::DbConnection;
use crate::mail::content::EmailKind;
use crate::mail::content::SeatReason;
use crate::store::events::EventRow;
use crate::store::site_visits::SiteVisitRow;
use crate::store::webhooks::{self, MessageBatch, NewMessage};

/// What a message reports; its `type` on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// A new registration (with its seat or waitlist place).
    RegistrationCreated,
    /// The person changed their ranking, or a place of the event's waitlist became theirs.
    RegistrationChanged,
    /// Cancelled by the person or the staff (an erasure cancels first).
    RegistrationCancelled,
    /// The person's data was erased (at their request, or by retention): forget it too.
    RegistrationErased,
    /// The person holds a seat they did not hold before (a new one, or another visit).
    SeatAssigned,
    /// The person no longer holds a seat.
    SeatLost,
    /// A seat is held for the person until `expires_at` (events that make offers).
    OfferMade,
    /// The person took the offered seat.
    OfferAccepted,
    /// The person declined the offer; the visit left their ranking.
    OfferDeclined,
    /// The offer ended unanswered; the visit left their ranking.
    OfferExpired,
    /// A check-in scan checked the person in or out (recorded by the scan path).
    CheckinRecorded,
    /// An organiser sent a group message (one per send, about no single registration:
    /// its recipients are on the message's status).
    MessageSent,
}

impl EventType {
    pub const ALL: [Self; 12] = [
        Self::RegistrationCreated,
        Self::RegistrationChanged,
        Self::RegistrationCancelled,
        Self::RegistrationErased,
        Self::SeatAssigned,
        Self::SeatLost,
        Self::OfferMade,
        Self::OfferAccepted,
        Self::OfferDeclined,
        Self::OfferExpired,
        Self::CheckinRecorded,
        Self::MessageSent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegistrationCreated => "registration.created",
            Self::RegistrationChanged => "registration.changed",
            Self::RegistrationCancelled => "registration.cancelled",
            Self::RegistrationErased => "registration.erased",
            Self::SeatAssigned => "seat.assigned",
            Self::SeatLost => "seat.lost",
            Self::OfferMade => "offer.made",
            Self::OfferAccepted => "offer.accepted",
            Self::OfferDeclined => "offer.declined",
            Self::OfferExpired => "offer.expired",
            Self::CheckinRecorded => "checkin.recorded",
            Self::MessageSent => "message.sent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// One message, as written for each subscribed endpoint.
struct Message {
    id: String,
    event_type: EventType,
    /// The body for endpoints without `personal_data`.
    payload: String,
    /// The body for endpoints with `personal_data`.
    personal: String,
}

/// The messages of one change, ready to be written with it.
pub struct Messages {
    event_id: String,
    registration_id: Option<String>,
    created_at: NaiveDateTime,
    items: Vec<Message>,
}

impl Messages {
    /// As the store writes them.
    pub fn batch(&self) -> MessageBatch<'_> {
        MessageBatch {
            event_id: Some(&self.event_id),
            registration_id: self.registration_id.as_deref(),
            created_at: self.created_at,
            messages: self
                .items
                .iter()
                .map(|m| NewMessage {
                    id: &m.id,
                    event_type: m.event_type.as_str(),
                    payload: &m.payload,
                    personal_payload: &m.personal,
                })
                .collect(),
        }
    }

    /// Writes them for their subscribers, in the caller's transaction.
    pub fn record(&self, conn: &mut DbConnection) -> Result<(), DomainError> {
        Ok(webhooks::record(conn, &self.batch())?)
    }

    /// No message (nobody to send one to).
    pub fn none(event: &EventRow, registration_id: &str, now: NaiveDateTime) -> Self {
        Self {
            event_id: event.id.clone(),
            registration_id: Some(registration_id.to_owned()),
            created_at: now,
            items: Vec::new(),
        }
    }

    /// Adds a message whose `data` is `data`, as every endpoint gets it, and as
    /// `personal` when given (for endpoints with `personal_data`).
    fn push<D: Serialize>(&mut self, event: &EventRow, event_type: EventType, data: D, personal: Option<D>) {
        let id = uuid::Uuid::now_v7().to_string();
        let created_at = self
            .created_at
            .and_utc()
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let body = |data| {
            serde_json::to_string(&Body {
                id: &id,
                event_type: event_type.as_str(),
                created_at: &created_at,
                event: &event.slug,
                data,
            })
            .expect("a webhook body serialises")
        };
        let payload = body(data);
        let personal = personal.map_or_else(|| payload.clone(), body);
        self.items.push(Message {
            id,
            event_type,
            payload,
            personal,
        });
    }
}

/// The body of a message.
#[derive(Serialize)]
struct Body<'a, D> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    created_at: &'a str,
    /// The event's slug.
    event: &'a str,
    data: D,
}

/// The `data` of a message about a registration: the registration, and what the type
/// adds. Borrowed and serialised at once: this is made on the registration path (on
/// SQLite, on the single writer thread).
#[derive(Serialize)]
struct RegistrationNews<'a> {
    registration: RegistrationData<'a>,
    #[serde(flatten)]
    news: &'a Map<String, Value>,
}

/// The registration as every message about it describes it.
#[derive(Serialize)]
struct RegistrationData<'a> {
    id: &'a str,
    status: RegistrationStatus,
    waitlist_position: Option<i64>,
    preferences: &'a [String],
    site_visit: Option<SeatData<'a>>,
    offer: Option<OfferData<'a>>,
    /// Only for endpoints registered with `personal_data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    person: Option<PersonData<'a>>,
}

#[derive(Serialize)]
struct SeatData<'a> {
    slug: &'a str,
    status: SeatStatus,
    waitlist_position: Option<i64>,
}

#[derive(Serialize)]
struct OfferData<'a> {
    site_visit: &'a str,
    expires_at: DateTime<FixedOffset>,
}

/// Who the person is. Never dietary needs (they can reveal health or religion).
#[derive(Serialize)]
struct PersonData<'a> {
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
    organisation: &'a str,
    country: &'a str,
    job_title: Option<&'a str>,
    language: &'a str,
}

impl<'a> RegistrationData<'a> {
    fn of(view: &'a RegistrationView, with_person: bool) -> Self {
        Self {
            id: &view.id,
            status: view.status,
            waitlist_position: view.waitlist_position,
            preferences: &view.preferences,
            site_visit: view.site_visit.as_ref().map(|seat| SeatData {
                slug: &seat.slug,
                status: seat.status,
                waitlist_position: seat.waitlist_position,
            }),
            offer: view.offer.as_ref().map(|offer| OfferData {
                site_visit: &offer.site_visit,
                expires_at: offer.expires_at,
            }),
            person: with_person.then(|| PersonData {
                first_name: &view.first_name,
                last_name: &view.last_name,
                email: &view.email,
                organisation: &view.organisation,
                country: &view.country,
                job_title: view.job_title.as_deref(),
                language: &view.language,
            }),
        }
    }
}

/// Whether a change's messages are worth making ([`webhooks::may_have_subscribers`]):
/// false only when no endpoint can receive them.
pub fn may_have_subscribers(conn: &mut DbConnection) -> Result<bool, DomainError> {
    Ok(webhooks::may_have_subscribers(conn)?)
}

/// What a notice (the email a change sends) reports to webhooks: the registration's own
/// news (`registration.*`, `offer.*`), then its seat's (`seat.assigned` when it holds a
/// seat it did not hold, `seat.lost` when it lost the one it held).
pub fn notice_messages(
    event: &EventRow,
    visits: &[SiteVisitRow],
    view: &RegistrationView,
    notice: &Notice<'_>,
    now: NaiveDateTime,
) -> Messages {
    let slug = |id: &str| visits.iter().find(|v| v.id == id).map(|v| v.slug.clone());
    let seat = view
        .site_visit
        .as_ref()
        .filter(|seat| seat.status == SeatStatus::Assigned)
        .map(|seat| seat.slug.clone());
    let previous = notice.previous_visit.and_then(slug);
    let reason = match (notice.kind, notice.reason) {
        (EmailKind::SeatChanged, Some(reason)) => reason_text(reason),
        (kind, _) => kind.as_str().to_owned(),
    };
    let mut news = Vec::new();
    match (notice.kind, notice.reason) {
        (EmailKind::Registered, _) => news.push((EventType::RegistrationCreated, json!({}))),
        (EmailKind::PreferencesChanged, _)
        | (EmailKind::SeatChanged, Some(SeatReason::EventPlaceConfirmed)) => {
            news.push((EventType::RegistrationChanged, json!({ "reason": reason })))
        }
        (EmailKind::Cancelled, _) => news.push((EventType::RegistrationCancelled, json!({}))),
        (EmailKind::SeatChanged, Some(SeatReason::Offered)) => {
            let offer = view.offer.as_ref();
            news.push((
                EventType::OfferMade,
                json!({
                    "site_visit": offer.map(|o| o.site_visit.clone()),
                    "expires_at": offer.map(|o| o.expires_at),
                }),
            ))
        }
        (EmailKind::SeatChanged, Some(SeatReason::OfferAccepted)) => {
            news.push((EventType::OfferAccepted, json!({ "site_visit": seat })))
        }
        (EmailKind::SeatChanged, Some(ended @ (SeatReason::OfferDeclined | SeatReason::OfferExpired))) => {
            let event_type = if ended == SeatReason::OfferDeclined {
                EventType::OfferDeclined
            } else {
                EventType::OfferExpired
            };
            news.push((
                event_type,
                json!({ "site_visit": notice.ended_offer.and_then(slug) }),
            ))
        }
        (EmailKind::SeatChanged, _) => {}
        // Not changes of a registration: a message is `message.sent` of its own, and a
        // reminder changes nothing; an attempt to register the address again changes
        // nothing either.
        (EmailKind::Message | EmailKind::Reminder | EmailKind::RegistrationAttempt, _) => {}
    }
    if notice.seat_changed {
        match (&seat, &previous) {
            (Some(now_held), _) => news.push((
                EventType::SeatAssigned,
                json!({ "site_visit": now_held, "previous_site_visit": previous, "reason": reason }),
            )),
            (None, Some(lost)) => news.push((
                EventType::SeatLost,
                json!({ "site_visit": lost, "reason": reason }),
            )),
            (None, None) => {}
        }
    }
    let mut messages = Messages {
        event_id: event.id.clone(),
        registration_id: Some(view.id.clone()),
        created_at: now,
        items: Vec::with_capacity(news.len()),
    };
    for (event_type, news) in news {
        let Value::Object(news) = news else { continue };
        let data = |with_person| RegistrationNews {
            registration: RegistrationData::of(view, with_person),
            news: &news,
        };
        messages.push(event, event_type, data(false), Some(data(true)));
    }
    messages
}

fn reason_text(reason: SeatReason) -> String {
    match serde_json::to_value(reason) {
        Ok(Value::String(text)) => text,
        _ => "changed".into(),
    }
}

/// Records one message about `event` (and the registration, when there is one) for
/// every endpoint subscribed to `event_type`, in the caller's transaction: the hook for
/// changes that send no email (a check-in scan, a group message). `data` becomes the
/// message's `data` (an object; the registration's id is added as
/// `data.registration.id`). Give ids, not personal data: the same body goes to every
/// endpoint.
pub fn record(
    conn: &mut DbConnection,
    event: &EventRow,
    event_type: EventType,
    registration_id: Option<&str>,
    data: Value,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let mut data = match data {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => Map::from_iter([("value".to_owned(), other)]),
    };
    if let Some(id) = registration_id {
        let registration = data.entry("registration").or_insert_with(|| json!({}));
        if let Some(registration) = registration.as_object_mut() {
            registration.insert("id".into(), json!(id));
        }
    }
    let mut messages = Messages {
        event_id: event.id.clone(),
        registration_id: registration_id.map(str::to_owned),
        created_at: now,
        items: Vec::with_capacity(1),
    };
    messages.push(event, event_type, Value::Object(data), None);
    messages.record(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_read_back_and_are_dotted() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::parse(event_type.as_str()), Some(event_type));
            assert!(event_type.as_str().contains('.'));
        }
        assert_eq!(EventType::parse("*"), None);
        assert_eq!(
            reason_text(SeatReason::EventPlaceConfirmed),
            "event_place_confirmed"
        );
    }
}
