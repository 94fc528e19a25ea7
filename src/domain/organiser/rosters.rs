//! What organisers read: a visit's roster and waitlist, the filtered list of
//! registrations, and the audit trail.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Serialize;

use super::{find_visit, slug_of};
use crate::db::DbConnection;
use crate::domain::audit;
use crate::domain::catalog::{self, SiteVisitView};
use crate::domain::checkin;
use crate::domain::country::country_name;
use crate::domain::error::DomainError;
use crate::domain::event_rules::{event_timezone, find_event, find_event_with_visits, local_time};
use crate::domain::search;
use crate::store::events::EventRow;
use crate::store::offers;
use crate::store::registrations::{self, RegistrationFilter, RegistrationRow, RegistrationStatus};
use crate::store::site_visits::SiteVisitRow;

/// A person in a roster or list, as organisers see them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PersonEntry {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub organisation: String,
    pub country: String,
    pub country_name: String,
    pub status: RegistrationStatus,
    /// Which choice this visit was for them (1 = first), if they ranked it.
    pub rank: Option<usize>,
    /// The visit whose seat they hold, if any.
    pub site_visit: Option<String>,
    /// False when an organiser placed them: no automatic changes apply.
    pub auto_seat: bool,
    pub preferences: Vec<String>,
    pub registered_at: DateTime<FixedOffset>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WaitlistEntry {
    pub position: usize,
    #[serde(flatten)]
    pub person: PersonEntry,
}

/// A person a seat of the visit is held for (events that make offers).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OfferEntry {
    pub offered_at: DateTime<FixedOffset>,
    /// The seat goes to the next person if not accepted by then.
    pub expires_at: DateTime<FixedOffset>,
    #[serde(flatten)]
    pub person: PersonEntry,
}

/// A person seated in the visit, with their check-in on its list.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SeatedEntry {
    /// When checked in on the visit's list (null: not yet).
    pub checked_in_at: Option<DateTime<FixedOffset>>,
    /// Not checked in and past the visit's no-show deadline (docs/checkin.md).
    pub no_show: bool,
    #[serde(flatten)]
    pub person: PersonEntry,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Roster {
    pub site_visit: SiteVisitView,
    pub assigned: Vec<SeatedEntry>,
    /// Open offers for a seat of this visit, the earliest first.
    pub offered: Vec<OfferEntry>,
    /// In the order seats will be given: people without a seat first, then people
    /// holding a seat they ranked lower, each by registration time.
    pub waitlist: Vec<WaitlistEntry>,
}

/// Builds entries for `rows`, loading their rankings and seats in two queries.
pub(super) fn entries(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    rows: Vec<RegistrationRow>,
    rank_of: Option<&str>,
) -> Result<Vec<PersonEntry>, DomainError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    // By person, once: looking each person up in the lists would cost people × rows.
    let mut rankings: HashMap<String, Vec<String>> = HashMap::with_capacity(ids.len());
    for (id, _, visit) in registrations::preferences_of(conn, &ids)? {
        rankings.entry(id).or_default().push(visit);
    }
    let seats: HashMap<String, String> = registrations::seats_of(conn, &ids)?.into_iter().collect();
    let tz = event_timezone(event);
    Ok(rows
        .into_iter()
        .map(|row| {
            let ranked: Vec<&String> = rankings
                .get(&row.id)
                .map(|r| r.iter().collect())
                .unwrap_or_default();
            let seat = seats.get(&row.id).map(String::as_str);
            PersonEntry {
                rank: rank_of.and_then(|visit| ranked.iter().position(|v| *v == visit).map(|p| p + 1)),
                site_visit: slug_of(visits, seat),
                preferences: ranked.iter().filter_map(|v| slug_of(visits, Some(v))).collect(),
                country_name: country_name(&row.country).to_owned(),
                registered_at: local_time(tz, row.created_at),
                id: row.id,
                first_name: row.first_name,
                last_name: row.last_name,
                email: row.email,
                organisation: row.organisation,
                country: row.country,
                status: row.status,
                auto_seat: row.auto_seat,
            }
        })
        .collect())
}

/// `rows` in the order of `ids` (a lookup table, not a search per row).
fn in_order_of(mut rows: Vec<RegistrationRow>, ids: &[String]) -> Vec<RegistrationRow> {
    let place: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    rows.sort_by_key(|row| place.get(row.id.as_str()).copied());
    rows
}

/// Longest waitlist a roster shows.
const ROSTER_WAITLIST_LIMIT: i64 = 10_000;

pub fn roster(
    conn: &mut DbConnection,
    event_slug: &str,
    visit_slug: &str,
    now: NaiveDateTime,
) -> Result<Roster, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let visit = find_visit(&visits, visit_slug)?;
    let seated: Vec<RegistrationRow> = registrations::seated_in(conn, &visit.id)?
        .into_iter()
        .map(|(row, _)| row)
        .collect();
    let people: Vec<(String, Option<String>)> = seated
        .iter()
        .map(|row| (row.id.clone(), Some(visit.id.clone())))
        .collect();
    let checkins = checkin::person_checkins(conn, &event, &visits, &people, now)?;
    let tz = event_timezone(&event);
    let assigned = entries(conn, &event, &visits, seated, Some(&visit.id))?
        .into_iter()
        .map(|person| {
            let checkin = checkins.get(&person.id).cloned().unwrap_or_default();
            SeatedEntry {
                checked_in_at: checkin.visit.map(|t| local_time(tz, t)),
                no_show: checkin.no_show,
                person,
            }
        })
        .collect();
    let waiting = registrations::waiting_for(conn, &visit.id, true, ROSTER_WAITLIST_LIMIT)?;
    let rows = in_order_of(registrations::find_many(conn, &waiting)?, &waiting);
    let waitlist = entries(conn, &event, &visits, rows, Some(&visit.id))?
        .into_iter()
        .enumerate()
        .map(|(index, person)| WaitlistEntry {
            position: index + 1,
            person,
        })
        .collect();
    let open: Vec<_> = offers::of_event(conn, &event.id)?
        .into_iter()
        .filter(|o| o.site_visit_id == visit.id)
        .collect();
    let ids: Vec<String> = open.iter().map(|o| o.registration_id.clone()).collect();
    let rows = in_order_of(registrations::find_many(conn, &ids)?, &ids);
    let offered = entries(conn, &event, &visits, rows, Some(&visit.id))?
        .into_iter()
        .zip(&open)
        .map(|(person, offer)| OfferEntry {
            offered_at: local_time(tz, offer.offered_at),
            expires_at: local_time(tz, offer.expires_at),
            person,
        })
        .collect();
    let site_visit = catalog::event_view(conn, event_slug, now)?
        .site_visits
        .into_iter()
        .find(|v| v.slug == visit_slug)
        .ok_or(DomainError::NotFound("site visit"))?;
    Ok(Roster {
        site_visit,
        assigned,
        offered,
        waitlist,
    })
}

/// The list filters as given (slugs, codes), resolved against the event.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub status: Option<RegistrationStatus>,
    pub country: Option<String>,
    pub site_visit: Option<String>,
    pub search: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RegistrationPage {
    pub registrations: Vec<PersonEntry>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub fn list_registrations(
    conn: &mut DbConnection,
    event_slug: &str,
    query: &ListQuery,
) -> Result<RegistrationPage, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let site_visit_id = match &query.site_visit {
        Some(slug) => Some(
            find_visit(&visits, slug)
                .map_err(|_| {
                    DomainError::invalid(
                        "site_visit",
                        format!("`{slug}` is not a site visit of this event"),
                    )
                })?
                .id,
        ),
        None => None,
    };
    let filter = RegistrationFilter {
        status: query.status,
        country: query.country.clone(),
        site_visit_id,
        search: query
            .search
            .as_deref()
            .map(search::fold)
            .filter(|s| !s.is_empty()),
        without_seat: false,
    };
    let (rows, total) = registrations::list_for_event(conn, &event.id, &filter, query.limit, query.offset)?;
    Ok(RegistrationPage {
        registrations: entries(conn, &event, &visits, rows, None)?,
        total,
        limit: query.limit,
        offset: query.offset,
    })
}

/// The event's audit trail (admins).
pub fn audit_trail(
    conn: &mut DbConnection,
    event_slug: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<audit::AuditView>, DomainError> {
    let event = find_event(conn, event_slug)?;
    audit::list(conn, &event.id, limit, offset)
}
