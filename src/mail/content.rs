//! What an email says, as data: snapshotted into the outbox row when the change happens,
//! rendered into a message only when it is sent.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// A new registration: seat, visit waitlist or event waitlist.
    Registered,
    /// A seat was given, changed or taken away by someone else's action.
    SeatChanged,
    /// The person changed their ranking.
    PreferencesChanged,
    /// The registration was cancelled.
    Cancelled,
    /// An organiser's message to a group (`EmailData::message`).
    Message,
    /// A reminder before the person's site visit (`EmailData::reminder`).
    Reminder,
    /// Someone registered the person's address again for the same event: nothing
    /// changed, here is the link to the registration they have (invariant 13).
    RegistrationAttempt,
}

impl EmailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::SeatChanged => "seat_changed",
            Self::PreferencesChanged => "preferences_changed",
            Self::Cancelled => "cancelled",
            Self::Message => "message",
            Self::Reminder => "reminder",
            Self::RegistrationAttempt => "registration_attempt",
        }
    }
}

/// Why a seat changed hands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatReason {
    /// From a waitlist into a seat.
    Promoted,
    /// From a lower-ranked seat to a better one.
    Upgraded,
    /// An organiser moved the person.
    Moved,
    /// The seat was taken away (the person's change or an organiser's).
    Released,
    /// A place of the event became free for someone on the event waitlist.
    EventPlaceConfirmed,
    /// The organisers ran the preference allocation.
    Allocated,
    /// A seat is held for the person until `EmailData::offer.expires_at`.
    Offered,
    /// The person accepted an offer: the seat is theirs.
    OfferAccepted,
    /// The person declined an offer (the visit left their ranking).
    OfferDeclined,
    /// The offer ended unanswered (the visit left their ranking).
    OfferExpired,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    pub slug: String,
    pub name: String,
    pub venue: String,
    pub contact_email: String,
    pub timezone: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatInfo {
    pub slug: String,
    pub name: String,
    pub location: String,
    pub meeting_point: String,
    /// RFC 3339 in the event's time zone.
    pub starts_at: String,
    pub ends_at: String,
    /// `assigned` or `waitlisted`.
    pub status: String,
    pub waitlist_position: Option<i64>,
}

/// The calendar attachment to send with the email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum CalendarUpdate {
    None,
    /// Publish or update the visit in the person's calendar.
    Request {
        sequence: u32,
    },
    /// Remove the visit from the person's calendar.
    Cancel {
        sequence: u32,
        visit: SeatInfo,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailData {
    pub kind: EmailKind,
    pub reason: Option<SeatReason>,
    pub registration_id: String,
    pub language: String,
    pub event: EventInfo,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// `confirmed`, `waitlisted` (event waitlist) or `cancelled`.
    pub status: String,
    pub event_waitlist_position: Option<i64>,
    pub seat: Option<SeatInfo>,
    /// The visit the person left, when the change moved them out of one.
    pub previous_visit: Option<String>,
    pub calendar: CalendarUpdate,
    /// The visit of an offer that ended unaccepted (declined or expired): it left the
    /// person's ranking.
    #[serde(default)]
    pub ended_offer: Option<String>,
    /// The open offer, when the person holds one.
    #[serde(default)]
    pub offer: Option<OfferInfo>,
    /// An organiser's message, in the person's language.
    #[serde(default)]
    pub message: Option<MessageText>,
    /// A reminder's rule and what to bring (the visit is `seat`).
    #[serde(default)]
    pub reminder: Option<ReminderInfo>,
    /// The person's visit has questions they have not answered yet: the email asks them
    /// to answer on the manage page (docs/questions.md).
    #[serde(default)]
    pub questions_pending: bool,
}

/// What a reminder adds to the person's seat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderInfo {
    /// The rule: this many hours before the visit starts.
    pub hours_before: i32,
    /// What to bring, as the organisers wrote it ('' for nothing said).
    pub bring: String,
}

/// What an organiser wrote to a group, in one language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageText {
    pub subject: String,
    pub body: String,
}

/// A seat held for the person: accept or decline through the manage link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferInfo {
    pub slug: String,
    pub name: String,
    /// RFC 3339 in the event's time zone.
    pub starts_at: String,
    pub expires_at: String,
}
