//! Reminders before each site visit (docs/messages.md#reminders): an event's rules say
//! how many hours before each visit's own start its seated people are emailed. A person
//! is reminded once per visit and rule (`store::reminders::record`), whichever worker
//! gets there first and however often it runs; one who took the seat after the
//! reminder's time gets none for that rule; a visit whose start moves moves its pending
//! reminders (they are computed from the start when the worker runs).

use chrono::{Duration, NaiveDateTime};

use super::error::DomainError;
use super::event_rules::lock_for_seat_changes;
use super::notify::{event_info, visit_info};
use crate::db::DbConnection;
use crate::mail::content::{CalendarUpdate, EmailData, EmailKind, ReminderInfo};
use crate::store::events::EventRow;
use crate::store::outbox::{self, NewOutboxRow, PENDING};
use crate::store::registrations::{self, RegistrationRow, RegistrationStatus};
use crate::store::reminders::{self as stored, SentReminder};
use crate::store::site_visits::{self, SiteVisitRow};

/// An event's rules: hours before each visit's start, largest first.
pub fn rules(event: &EventRow) -> Vec<i32> {
    event
        .reminder_hours
        .split(',')
        .filter_map(|h| h.trim().parse().ok())
        .collect()
}

/// Queues the reminders due at `now`, at most `limit` (then returns, so that a caller
/// commits in batches); returns how many it queued. Takes each event's seat-change lock:
/// nobody loses or takes a seat in the visit while its reminders are written.
pub fn send_due(conn: &mut DbConnection, now: NaiveDateTime, limit: usize) -> Result<usize, DomainError> {
    let mut queued = 0;
    for event in stored::events_with_rules(conn)? {
        let rules = rules(&event);
        let visits = site_visits::list(conn, &event.id)?;
        let due: Vec<(&SiteVisitRow, i32, NaiveDateTime)> = visits
            .iter()
            .filter(|visit| visit.starts_at > now)
            .flat_map(|visit| {
                rules
                    .iter()
                    .map(move |&hours| (visit, hours, visit.starts_at - Duration::hours(i64::from(hours))))
            })
            .filter(|(_, _, at)| *at <= now)
            .collect();
        if due.is_empty() {
            continue;
        }
        lock_for_seat_changes(conn, &event)?;
        for (visit, hours, at) in due {
            let reminded = stored::reminded(conn, &visit.id, hours)?;
            let people: Vec<RegistrationRow> = registrations::seated_in(conn, &visit.id)?
                .into_iter()
                // Seated before the reminder's time: a later seat was just confirmed
                // by its own email.
                .filter(|(row, seated_at)| {
                    *seated_at <= at
                        && row.status == RegistrationStatus::Confirmed
                        && row.erased_at.is_none()
                        && !reminded.contains(&row.id)
                })
                .map(|(row, _)| row)
                .collect();
            for person in people {
                if queued == limit {
                    return Ok(queued);
                }
                let sent = SentReminder {
                    registration_id: &person.id,
                    site_visit_id: &visit.id,
                    hours_before: hours,
                    event_id: &event.id,
                    sent_at: now,
                };
                if stored::record(conn, &sent)? {
                    queue(conn, &event, visit, hours, &person, now)?;
                    queued += 1;
                }
            }
        }
    }
    Ok(queued)
}

fn queue(
    conn: &mut DbConnection,
    event: &EventRow,
    visit: &SiteVisitRow,
    hours: i32,
    person: &RegistrationRow,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let data = EmailData {
        kind: EmailKind::Reminder,
        reason: None,
        registration_id: person.id.clone(),
        language: person.language.clone(),
        event: event_info(event),
        first_name: person.first_name.clone(),
        last_name: person.last_name.clone(),
        email: person.email.clone(),
        status: person.status.as_str().to_owned(),
        event_waitlist_position: None,
        seat: Some(visit_info(event, visit, "assigned")),
        previous_visit: None,
        calendar: CalendarUpdate::None,
        ended_offer: None,
        offer: None,
        message: None,
        reminder: Some(ReminderInfo {
            hours_before: hours,
            bring: visit.bring.clone(),
        }),
        questions_pending: false,
    };
    let id = uuid::Uuid::now_v7().to_string();
    let payload = serde_json::to_string(&data).expect("email data serialises");
    outbox::insert(
        conn,
        &NewOutboxRow {
            id: &id,
            event_id: &event.id,
            registration_id: Some(&person.id),
            kind: EmailKind::Reminder.as_str(),
            recipient: &person.email,
            payload: &payload,
            status: PENDING,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        },
    )?;
    Ok(())
}
