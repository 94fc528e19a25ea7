//! The read model of a registration: what its holder, the organisers and the emails
//! see of it (status, ranking, seat or waitlist place, times in the event's zone).

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::country::country_name;
use super::error::DomainError;
use super::event_rules::{event_timezone, local_time, seats_at_once};
use super::offers::{offer_view, OfferView};
use crate::db::DbConnection;
use crate::store::events::EventRow;
use crate::store::offers;
pub use crate::store::registrations::RegistrationStatus;
use crate::store::registrations::{self, RegistrationRow};
use crate::store::site_visits::SiteVisitRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeatStatus {
    Assigned,
    Waitlisted,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeatView {
    pub slug: String,
    pub name: String,
    pub status: SeatStatus,
    pub waitlist_position: Option<i64>,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    pub location: String,
    pub meeting_point: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistrationView {
    pub id: String,
    pub event: String,
    pub status: RegistrationStatus,
    /// Place on the event-wide waitlist when `status` is `waitlisted`.
    pub waitlist_position: Option<i64>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub organisation: String,
    pub country: String,
    pub country_name: String,
    pub job_title: Option<String>,
    pub dietary: Option<String>,
    pub preferences: Vec<String>,
    pub site_visit: Option<SeatView>,
    pub registered_at: DateTime<FixedOffset>,
    pub cancelled_at: Option<DateTime<FixedOffset>>,
    /// `en` or `fr`: the language of the person's emails.
    pub language: String,
    /// A seat held for the person (events that make offers): accept or decline it
    /// before `expires_at`.
    pub offer: Option<OfferView>,
}

/// What the caller of [`view_of`] already knows.
#[derive(Clone, Copy, Debug)]
pub(super) enum Known {
    /// Nothing beyond the ranking and the seat.
    Rows,
    /// A registration written in this unit of work: it holds no offer, and its place
    /// in its first choice's queue (if it joined) is this.
    New { position: Option<i64> },
}

/// The registration as its holder sees it: status, ranking, seat or waitlist place.
pub fn registration_view(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    registration: &RegistrationRow,
) -> Result<RegistrationView, DomainError> {
    let ranked = registrations::preferences(conn, &registration.id)?;
    let seat = registrations::seat(conn, &registration.id)?;
    view_of(
        conn,
        event,
        visits,
        registration,
        &ranked,
        seat.as_deref(),
        Known::Rows,
    )
}

/// [`registration_view`] from a ranking and seat the caller already knows, and what
/// else it knows (saves the queries on the registration hot path).
pub(super) fn view_of(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    registration: &RegistrationRow,
    ranked: &[String],
    seat: Option<&str>,
    known: Known,
) -> Result<RegistrationView, DomainError> {
    let tz = event_timezone(event);
    let slug_of = |id: &str| visits.iter().find(|v| v.id == id);
    let seat_view = |visit: &SiteVisitRow, status, waitlist_position| SeatView {
        slug: visit.slug.clone(),
        name: visit.name.clone(),
        status,
        waitlist_position,
        starts_at: local_time(tz, visit.starts_at),
        ends_at: local_time(tz, visit.ends_at),
        location: visit.location.clone(),
        meeting_point: visit.meeting_point.clone(),
    };
    let first_choice = ranked.first().and_then(|id| slug_of(id));
    let (site_visit, waitlist_position) = match registration.status {
        RegistrationStatus::Cancelled => (None, None),
        RegistrationStatus::Waitlisted => (
            first_choice.map(|v| seat_view(v, SeatStatus::Waitlisted, None)),
            registrations::event_waitlist_position(conn, registration)?,
        ),
        _ => match seat {
            Some(seat) => (
                slug_of(seat).map(|v| seat_view(v, SeatStatus::Assigned, None)),
                None,
            ),
            // An organiser took them out of every visit: they wait for none.
            None if !registration.auto_seat => (None, None),
            None => match first_choice {
                Some(visit) if seats_at_once(event) => {
                    let position = match known {
                        Known::New { position } => position,
                        Known::Rows => registrations::waitlist_position(conn, &visit.id, &registration.id)?,
                    };
                    (Some(seat_view(visit, SeatStatus::Waitlisted, position)), None)
                }
                Some(visit) => (Some(seat_view(visit, SeatStatus::Waitlisted, None)), None),
                None => (None, None),
            },
        },
    };
    let offer = match known {
        Known::Rows if registration.status == RegistrationStatus::Confirmed => {
            offers::of(conn, &registration.id)?.and_then(|offer| offer_view(event, visits, &offer))
        }
        _ => None,
    };
    Ok(RegistrationView {
        offer,
        id: registration.id.clone(),
        event: event.slug.clone(),
        status: registration.status,
        waitlist_position,
        first_name: registration.first_name.clone(),
        last_name: registration.last_name.clone(),
        email: registration.email.clone(),
        organisation: registration.organisation.clone(),
        country: registration.country.clone(),
        country_name: country_name(&registration.country).to_owned(),
        job_title: registration.job_title.clone(),
        dietary: registration.dietary.clone(),
        preferences: ranked
            .iter()
            .filter_map(|id| slug_of(id).map(|v| v.slug.clone()))
            .collect(),
        site_visit,
        registered_at: local_time(tz, registration.created_at),
        cancelled_at: registration.cancelled_at.map(|t| local_time(tz, t)),
        language: registration.language.clone(),
    })
}
