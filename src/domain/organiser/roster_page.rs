//! One page of a visit's roster (or of the confirmed people without a seat), as the
//! organisers' board shows it: searched, filtered, sorted and cut into pages of
//! [`ROSTER_PAGE_SIZE`]. The waitlist is read as the API roster reads it, so its order
//! and positions are the API roster's; a page only chooses which of them to show.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::rosters::{entries, ROSTER_WAITLIST_LIMIT};
use super::{find_visit, PersonEntry};
use crate::db::DbConnection;
use crate::domain::catalog::{self, EventView, SiteVisitView};
use crate::domain::country::country_name;
use crate::domain::error::DomainError;
use crate::domain::event_rules::{event_timezone, find_event_with_visits, local_time};
use crate::domain::search::fold;
use crate::store::registrations::{self, RegistrationFilter, RosterKey};
use crate::store::{counts, offers};

/// People per roster page: a page stays small whatever the event's size.
pub const ROSTER_PAGE_SIZE: usize = 50;

/// Whose roster: a visit's, or the confirmed people who hold no seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RosterOf {
    Visit(String),
    WithoutSeat,
}

/// Where a row's person stands in the roster shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    Seated,
    Offered,
    Waiting,
    /// Confirmed, no seat (the without-seat roster).
    NoSeat,
}

impl RowStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "seated" => Some(Self::Seated),
            "offered" => Some(Self::Offered),
            "waiting" => Some(Self::Waiting),
            _ => None,
        }
    }
}

/// The order of a page's rows. `Roster` (the default): seated, then offered, then the
/// waitlist in its order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RosterSort {
    #[default]
    Roster,
    /// Last name, then first name, folded (so "Łobocka" sorts with the Ls).
    Name,
    Registered,
    /// Country code, then name.
    Country,
}

impl RosterSort {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "roster" => Some(Self::Roster),
            "name" => Some(Self::Name),
            "registered" => Some(Self::Registered),
            "country" => Some(Self::Country),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct RosterQuery {
    /// Searched as `domain::search` says: case and accents ignored.
    pub search: Option<String>,
    /// ISO code, any case.
    pub country: Option<String>,
    pub status: Option<RowStatus>,
    pub sort: RosterSort,
    /// 1-based; past the last page shows the last page.
    pub page: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct RosterRow {
    pub status: RowStatus,
    /// Place on the visit's waitlist (waiting rows only): the API roster's position.
    pub position: Option<usize>,
    /// Until when an offered seat is held.
    pub offer_expires_at: Option<DateTime<FixedOffset>>,
    pub person: PersonEntry,
}

#[derive(Clone, Debug, Serialize)]
pub struct RosterPage {
    pub event: EventView,
    /// The visit, for a visit's roster.
    pub visit: Option<SiteVisitView>,
    pub rows: Vec<RosterRow>,
    /// Rows matching the query, on every page.
    pub matching: usize,
    /// Rows of the whole roster, by status, before any filter.
    pub seated: usize,
    pub offered: usize,
    pub waiting: usize,
    pub without_seat: usize,
    /// The page shown (1-based) and how many there are (at least 1).
    pub page: usize,
    pub pages: usize,
    /// The page asked for was past the last one: the last one is shown.
    pub clamped: bool,
    /// Countries of the whole roster (code, name), for the filter.
    pub countries: Vec<(String, String)>,
}

/// A row of the roster before it is shown: what filters and sorts it, and where it
/// stands. Only the rows of the page shown become full [`PersonEntry`]s.
struct KeyRow {
    key: RosterKey,
    status: RowStatus,
    position: Option<usize>,
    offer_expires_at: Option<NaiveDateTime>,
}

fn name_key(key: &RosterKey) -> (String, String) {
    (fold(&key.last_name), fold(&key.first_name))
}

/// `keys` in the order of `ids`, each with its 1-based place in `ids`.
fn in_order(keys: Vec<RosterKey>, ids: &[String]) -> Vec<(usize, RosterKey)> {
    let place: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i + 1))
        .collect();
    let mut placed: Vec<(usize, RosterKey)> = keys
        .into_iter()
        .filter_map(|key| Some((*place.get(key.id.as_str())?, key)))
        .collect();
    placed.sort_by_key(|(place, _)| *place);
    placed
}

/// A page of `of`'s roster for `query`. Filters are applied by the database
/// (`registrations::keys`): only a few columns of each matching person are read, and
/// full entries are built for the page's rows alone, so a page costs about the same for
/// 100 people as for 10,000.
pub fn roster_page(
    conn: &mut DbConnection,
    event_slug: &str,
    of: &RosterOf,
    query: &RosterQuery,
    now: NaiveDateTime,
) -> Result<RosterPage, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let filter = RegistrationFilter {
        country: query
            .country
            .as_deref()
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty()),
        search: query.search.as_deref().map(fold).filter(|s| !s.is_empty()),
        ..RegistrationFilter::default()
    };
    let wanted = |status| query.status.is_none_or(|wanted| wanted == status);
    let unfiltered = filter.country.is_none() && filter.search.is_none();
    let counts = counts::of_event(conn, &event.id)?;
    let mut rows: Vec<KeyRow> = Vec::new();
    let (mut seated, mut offered, mut waiting, mut without_seat) = (0, 0, 0, 0);
    let (visit, country_codes): (Option<SiteVisitView>, BTreeSet<String>) = match of {
        RosterOf::Visit(slug) => {
            let visit = find_visit(&visits, slug)?;
            let seated_filter = RegistrationFilter {
                site_visit_id: Some(visit.id.clone()),
                ..filter.clone()
            };
            if wanted(RowStatus::Seated) {
                let keys = registrations::keys(conn, &event.id, &seated_filter)?;
                rows.extend(keys.into_iter().map(|key| KeyRow {
                    key,
                    status: RowStatus::Seated,
                    position: None,
                    offer_expires_at: None,
                }));
            }
            seated = if unfiltered && wanted(RowStatus::Seated) {
                rows.len()
            } else {
                let everyone = RegistrationFilter {
                    site_visit_id: Some(visit.id.clone()),
                    ..RegistrationFilter::default()
                };
                registrations::count(conn, &event.id, &everyone)? as usize
            };
            let open: Vec<_> = offers::of_event(conn, &event.id)?
                .into_iter()
                .filter(|o| o.site_visit_id == visit.id)
                .collect();
            offered = open.len();
            if wanted(RowStatus::Offered) && !open.is_empty() {
                let ids: Vec<String> = open.iter().map(|o| o.registration_id.clone()).collect();
                let keys = registrations::keys_among(conn, &event.id, &filter, &ids)?;
                rows.extend(in_order(keys, &ids).into_iter().map(|(place, key)| KeyRow {
                    key,
                    status: RowStatus::Offered,
                    position: None,
                    offer_expires_at: Some(open[place - 1].expires_at),
                }));
            }
            // The waitlist as the API roster reads it, so positions are the same.
            let ids = registrations::waiting_for(conn, &visit.id, true, ROSTER_WAITLIST_LIMIT)?;
            waiting = ids.len();
            if wanted(RowStatus::Waiting) && !ids.is_empty() {
                let keys = registrations::keys_among(conn, &event.id, &filter, &ids)?;
                rows.extend(in_order(keys, &ids).into_iter().map(|(place, key)| KeyRow {
                    key,
                    status: RowStatus::Waiting,
                    position: Some(place),
                    offer_expires_at: None,
                }));
            }
            let codes = counts
                .iter()
                .filter(|row| row.site_visit_id == visit.id)
                .map(|row| row.country.clone())
                .collect();
            let view = catalog::event_view(conn, event_slug, now)?
                .site_visits
                .into_iter()
                .find(|v| v.slug == visit.slug)
                .ok_or(DomainError::NotFound("site visit"))?;
            (Some(view), codes)
        }
        RosterOf::WithoutSeat => {
            let without = RegistrationFilter {
                without_seat: true,
                ..filter.clone()
            };
            let keys = registrations::keys(conn, &event.id, &without)?;
            without_seat = if unfiltered {
                keys.len()
            } else {
                let everyone = RegistrationFilter {
                    without_seat: true,
                    ..RegistrationFilter::default()
                };
                registrations::count(conn, &event.id, &everyone)? as usize
            };
            rows.extend(keys.into_iter().map(|key| KeyRow {
                key,
                status: RowStatus::NoSeat,
                position: None,
                offer_expires_at: None,
            }));
            let codes = counts
                .iter()
                .filter(|row| row.site_visit_id == counts::COUNTRY_ROW && row.registered > 0)
                .map(|row| row.country.clone())
                .collect();
            (None, codes)
        }
    };
    match query.sort {
        RosterSort::Roster => {}
        RosterSort::Name => rows.sort_by_cached_key(|row| (name_key(&row.key), row.key.id.clone())),
        RosterSort::Registered => {
            rows.sort_by(|a, b| (a.key.created_at, &a.key.id).cmp(&(b.key.created_at, &b.key.id)))
        }
        RosterSort::Country => {
            rows.sort_by_cached_key(|row| (row.key.country.clone(), name_key(&row.key), row.key.id.clone()))
        }
    }
    let matching = rows.len();
    let pages = matching.div_ceil(ROSTER_PAGE_SIZE).max(1);
    let asked = query.page.max(1);
    let page = asked.min(pages);
    let shown: Vec<KeyRow> = rows
        .into_iter()
        .skip((page - 1) * ROSTER_PAGE_SIZE)
        .take(ROSTER_PAGE_SIZE)
        .collect();
    let ids: Vec<String> = shown.iter().map(|row| row.key.id.clone()).collect();
    let rank_of = match of {
        RosterOf::Visit(slug) => visits.iter().find(|v| &v.slug == slug).map(|v| v.id.as_str()),
        RosterOf::WithoutSeat => None,
    };
    let found = registrations::find_many(conn, &ids)?;
    let mut people: HashMap<String, PersonEntry> = entries(conn, &event, &visits, found, rank_of)?
        .into_iter()
        .map(|person| (person.id.clone(), person))
        .collect();
    let tz = event_timezone(&event);
    let rows = shown
        .into_iter()
        .filter_map(|row| {
            Some(RosterRow {
                status: row.status,
                position: row.position,
                offer_expires_at: row.offer_expires_at.map(|at| local_time(tz, at)),
                person: people.remove(&row.key.id)?,
            })
        })
        .collect();
    Ok(RosterPage {
        event: catalog::event_view(conn, event_slug, now)?,
        visit,
        rows,
        matching,
        seated,
        offered,
        waiting,
        without_seat,
        page,
        pages,
        clamped: asked > pages,
        countries: country_codes
            .into_iter()
            .map(|code| {
                let name = country_name(&code).to_owned();
                (code, name)
            })
            .collect(),
    })
}

/// "First Last" of the event's registrations among `ids` (others are left out).
pub fn names_of(
    conn: &mut DbConnection,
    event_slug: &str,
    ids: &[String],
) -> Result<HashMap<String, String>, DomainError> {
    let (event, _) = find_event_with_visits(conn, event_slug)?;
    Ok(registrations::find_many(conn, ids)?
        .into_iter()
        .filter(|row| row.event_id == event.id)
        .map(|row| (row.id, format!("{} {}", row.first_name, row.last_name)))
        .collect())
}
