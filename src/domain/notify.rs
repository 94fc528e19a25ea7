//! Invariant 5: every change a participant must hear about writes its email into the
//! outbox in the same transaction as the change. This module turns domain changes into
//! outbox rows; `mail` renders and delivers them later. Each email's change is also
//! recorded for webhooks, in the same transaction (`webhooks::notice_messages`).

use chrono::NaiveDateTime;

use super::error::DomainError;
use super::event_rules::{event_timezone, local_time};
use super::seats::SeatChange;
use super::view::{registration_view, RegistrationStatus, RegistrationView, SeatStatus, SeatView};
use super::webhooks::{self, Messages};
use crate::db::DbConnection;
use crate::mail::content::{
    CalendarUpdate, EmailData, EmailKind, EventInfo, OfferInfo, SeatInfo, SeatReason,
};
use crate::store::events::EventRow;
use crate::store::outbox::{self, NewOutboxRow, PENDING};
use crate::store::registrations::{self, RegistrationRow};
use crate::store::site_visits::SiteVisitRow;

fn seat_info(seat: &SeatView) -> SeatInfo {
    SeatInfo {
        slug: seat.slug.clone(),
        name: seat.name.clone(),
        location: seat.location.clone(),
        meeting_point: seat.meeting_point.clone(),
        starts_at: seat.starts_at.to_rfc3339(),
        ends_at: seat.ends_at.to_rfc3339(),
        status: match seat.status {
            SeatStatus::Assigned => "assigned",
            SeatStatus::Waitlisted => "waitlisted",
        }
        .into(),
        waitlist_position: seat.waitlist_position,
    }
}

/// A visit as emails name it, with the person's `status` in it (`assigned`, or
/// `released` for one whose calendar entry is cancelled).
pub fn visit_info(event: &EventRow, visit: &SiteVisitRow, status: &str) -> SeatInfo {
    let tz = event_timezone(event);
    SeatInfo {
        slug: visit.slug.clone(),
        name: visit.name.clone(),
        location: visit.location.clone(),
        meeting_point: visit.meeting_point.clone(),
        starts_at: local_time(tz, visit.starts_at).to_rfc3339(),
        ends_at: local_time(tz, visit.ends_at).to_rfc3339(),
        status: status.into(),
        waitlist_position: None,
    }
}

/// The event as every email names it.
pub fn event_info(event: &EventRow) -> EventInfo {
    EventInfo {
        slug: event.slug.clone(),
        name: event.name.clone(),
        venue: event.venue.clone(),
        contact_email: event.contact_email.clone(),
        timezone: event.timezone.clone(),
    }
}

/// What to tell a person.
#[derive(Clone, Copy, Debug)]
pub struct Notice<'a> {
    pub kind: EmailKind,
    pub reason: Option<SeatReason>,
    /// The visit id the person held before the change, if any: when they hold no seat
    /// now, its calendar entry is cancelled.
    pub previous_visit: Option<&'a str>,
    /// The visit id of an offer that ended unaccepted (declined or expired).
    pub ended_offer: Option<&'a str>,
    /// The person's seat changed with this (taken, moved or given up): webhooks report
    /// `seat.assigned` or `seat.lost`. Set by [`Notice::of`] for a new registration only.
    pub seat_changed: bool,
}

impl Notice<'_> {
    pub fn of(kind: EmailKind) -> Self {
        Self {
            kind,
            reason: None,
            previous_visit: None,
            ended_offer: None,
            seat_changed: kind == EmailKind::Registered,
        }
    }
}

/// An email about a registration, ready for the outbox, with the webhook messages of
/// the same change.
pub struct Email {
    id: String,
    event_id: String,
    registration_id: String,
    kind: EmailKind,
    recipient: String,
    payload: String,
    now: NaiveDateTime,
    webhooks: Messages,
}

impl Email {
    /// The outbox row (pending, due now).
    pub fn row(&self) -> NewOutboxRow<'_> {
        NewOutboxRow {
            id: &self.id,
            event_id: &self.event_id,
            registration_id: Some(&self.registration_id),
            kind: self.kind.as_str(),
            recipient: &self.recipient,
            payload: &self.payload,
            status: PENDING,
            attempts: 0,
            next_attempt_at: self.now,
            created_at: self.now,
        }
    }

    /// The webhook messages of the change the email is about.
    pub fn webhooks(&self) -> &Messages {
        &self.webhooks
    }
}

/// Queues one email about `view`.
pub fn queue_email(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    view: &RegistrationView,
    notice: Notice<'_>,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let sequence = match notice.kind {
        EmailKind::Registered => 0,
        _ => outbox::count_for_registration(conn, &view.id)? as u32,
    };
    let hooks = webhooks::may_have_subscribers(conn)?;
    let pending = questions_pending(conn, event, visits, view)?;
    let email = email(event, visits, view, notice, sequence, hooks, pending, now);
    outbox::insert(conn, &email.row())?;
    email.webhooks.record(conn)?;
    Ok(())
}

/// The email of a new registration (the first of its emails: no query needed), for a
/// caller that writes it with other rows; with its webhook messages when `webhooks`
/// ([`webhooks::may_have_subscribers`]).
pub fn registered_email(
    event: &EventRow,
    visits: &[SiteVisitRow],
    view: &RegistrationView,
    webhooks: bool,
    questions_pending: bool,
    now: NaiveDateTime,
) -> Email {
    let notice = Notice::of(EmailKind::Registered);
    email(event, visits, view, notice, 0, webhooks, questions_pending, now)
}

/// Whether the person is seated in a visit whose questions they have not all answered
/// (the email then asks them to answer on the manage page).
fn questions_pending(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    view: &RegistrationView,
) -> Result<bool, DomainError> {
    let seat = view
        .site_visit
        .as_ref()
        .filter(|seat| seat.status == SeatStatus::Assigned && view.status == RegistrationStatus::Confirmed)
        .and_then(|seat| visits.iter().find(|v| v.slug == seat.slug));
    match seat {
        Some(visit) => super::questions::visit_questions_pending(conn, &event.id, &view.id, &visit.id),
        None => Ok(false),
    }
}

/// The email about `view`, the `sequence`-th of the registration (its calendar
/// SEQUENCE), and its webhook messages when `hooks`.
#[allow(clippy::too_many_arguments)]
fn email(
    event: &EventRow,
    visits: &[SiteVisitRow],
    view: &RegistrationView,
    notice: Notice<'_>,
    sequence: u32,
    hooks: bool,
    questions_pending: bool,
    now: NaiveDateTime,
) -> Email {
    let Notice {
        kind,
        reason,
        previous_visit,
        ended_offer,
        seat_changed: _,
    } = notice;
    let previous = previous_visit.and_then(|id| visits.iter().find(|v| v.id == id));
    let holds_seat = view
        .site_visit
        .as_ref()
        .is_some_and(|seat| seat.status == SeatStatus::Assigned);
    let calendar = match previous {
        _ if holds_seat => CalendarUpdate::Request { sequence },
        Some(visit) => CalendarUpdate::Cancel {
            sequence,
            visit: visit_info(event, visit, "released"),
        },
        None => CalendarUpdate::None,
    };
    let data = EmailData {
        kind,
        reason,
        registration_id: view.id.clone(),
        language: view.language.clone(),
        event: event_info(event),
        first_name: view.first_name.clone(),
        last_name: view.last_name.clone(),
        email: view.email.clone(),
        status: view.status.as_str().to_owned(),
        event_waitlist_position: view.waitlist_position,
        seat: view.site_visit.as_ref().map(seat_info),
        previous_visit: previous.map(|v| v.name.clone()),
        ended_offer: ended_offer
            .and_then(|id| visits.iter().find(|v| v.id == id))
            .map(|v| v.name.clone()),
        calendar,
        offer: view.offer.as_ref().map(|offer| OfferInfo {
            slug: offer.site_visit.clone(),
            name: offer.name.clone(),
            starts_at: visits
                .iter()
                .find(|v| v.slug == offer.site_visit)
                .map(|v| local_time(event_timezone(event), v.starts_at).to_rfc3339())
                .unwrap_or_default(),
            expires_at: offer.expires_at.to_rfc3339(),
        }),
        message: None,
        reminder: None,
        questions_pending,
    };
    Email {
        id: uuid::Uuid::now_v7().to_string(),
        event_id: event.id.clone(),
        registration_id: view.id.clone(),
        kind,
        recipient: view.email.clone(),
        payload: serde_json::to_string(&data).expect("email data serialises"),
        now,
        webhooks: if hooks {
            webhooks::notice_messages(event, visits, view, &notice, now)
        } else {
            Messages::none(event, &view.id, now)
        },
    }
}

/// Queues the email telling the owner of an address that someone registered it again
/// for the event (invariant 13): the link to the registration they have, and nothing
/// looked up beyond the row (no seat, no calendar, no check-in code), so that the
/// duplicate's answer costs about what a registration costs.
pub fn queue_attempt_email(
    conn: &mut DbConnection,
    event: &EventRow,
    registration: &RegistrationRow,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let kind = EmailKind::RegistrationAttempt;
    let data = EmailData {
        kind,
        reason: None,
        registration_id: registration.id.clone(),
        language: registration.language.clone(),
        event: event_info(event),
        first_name: registration.first_name.clone(),
        last_name: registration.last_name.clone(),
        email: registration.email.clone(),
        status: registration.status.as_str().to_owned(),
        event_waitlist_position: None,
        seat: None,
        previous_visit: None,
        calendar: CalendarUpdate::None,
        ended_offer: None,
        offer: None,
        message: None,
        reminder: None,
        questions_pending: false,
    };
    let id = uuid::Uuid::now_v7().to_string();
    let payload = serde_json::to_string(&data).expect("email data serialises");
    let row = NewOutboxRow {
        id: &id,
        event_id: &event.id,
        registration_id: Some(&registration.id),
        kind: kind.as_str(),
        recipient: &registration.email,
        payload: &payload,
        status: PENDING,
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
    };
    outbox::insert(conn, &row)?;
    Ok(())
}

/// Queues an email for a registration by id, from its current state.
pub fn queue_for(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    registration_id: &str,
    notice: Notice<'_>,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let registration =
        registrations::find(conn, registration_id)?.ok_or(DomainError::NotFound("registration"))?;
    let view = registration_view(conn, event, visits, &registration)?;
    queue_email(conn, event, visits, &view, notice, now)
}

/// Emails everyone whose seat changed as a side effect (waitlist promotions, upgrades)
/// and everyone confirmed from the event waitlist — except `actor`, who gets their own
/// email about what they did. A person who moved twice in one chain gets one email.
pub fn side_effects(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    changes: &[SeatChange],
    confirmed_from_event_waitlist: &[String],
    actor: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    // Per person: the seat before the chain, and the last change (a seat or an offer).
    let mut people: Vec<(String, Option<String>, &SeatChange)> = Vec::new();
    for change in changes {
        match people.iter_mut().find(|(id, _, _)| *id == change.registration_id) {
            Some(entry) => entry.2 = change,
            None => people.push((change.registration_id.clone(), change.from_visit.clone(), change)),
        }
    }
    for id in confirmed_from_event_waitlist {
        if Some(id.as_str()) != actor {
            let notice = Notice {
                reason: Some(SeatReason::EventPlaceConfirmed),
                // Seated at once when the event gives seats at once.
                seat_changed: true,
                ..Notice::of(EmailKind::SeatChanged)
            };
            queue_for(conn, event, visits, id, notice, now)?;
        }
    }
    for (id, from, last) in people {
        let to = &last.to_visit;
        let offered = last.offered_until.is_some();
        if Some(id.as_str()) == actor
            || confirmed_from_event_waitlist.contains(&id)
            || (from == *to && !offered)
        {
            continue;
        }
        let reason = match (&from, to) {
            _ if offered => SeatReason::Offered,
            (None, _) => SeatReason::Promoted,
            (Some(_), Some(_)) => SeatReason::Upgraded,
            (Some(_), None) => SeatReason::Released,
        };
        let notice = Notice {
            kind: EmailKind::SeatChanged,
            reason: Some(reason),
            // An offer changes no seat yet: no calendar entry is cancelled.
            previous_visit: if offered { None } else { from.as_deref() },
            ended_offer: None,
            seat_changed: !offered,
        };
        queue_for(conn, event, visits, &id, notice, now)?;
    }
    Ok(())
}
