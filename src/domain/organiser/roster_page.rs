//! One page of a visit's roster (or of the confirmed people without a seat), as the
//! organisers' board shows it: searched, filtered, sorted and cut into pages of
//! [`ROSTER_PAGE_SIZE`]. The rows come from [`roster`] itself, so the waitlist's order
//! and positions are the API roster's; a page only chooses which of them to show.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::rosters::{entries, roster};
use super::PersonEntry;
use crate::db::DbConnection;
use crate::domain::catalog::{self, EventView, SiteVisitView};
use crate::domain::error::DomainError;
use crate::domain::event_rules::find_event_with_visits;
use crate::domain::search::{fold, search_text};
use crate::store::registrations;

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

fn sort_key_name(person: &PersonEntry) -> (String, String) {
    (fold(&person.last_name), fold(&person.first_name))
}

/// A page of `of`'s roster for `query`.
pub fn roster_page(
    conn: &mut DbConnection,
    event_slug: &str,
    of: &RosterOf,
    query: &RosterQuery,
    now: NaiveDateTime,
) -> Result<RosterPage, DomainError> {
    let (all, visit) = match of {
        RosterOf::Visit(slug) => {
            let roster = roster(conn, event_slug, slug, now)?;
            let mut rows: Vec<RosterRow> = roster
                .assigned
                .into_iter()
                .map(|seated| RosterRow {
                    status: RowStatus::Seated,
                    position: None,
                    offer_expires_at: None,
                    person: seated.person,
                })
                .collect();
            rows.extend(roster.offered.into_iter().map(|offer| RosterRow {
                status: RowStatus::Offered,
                position: None,
                offer_expires_at: Some(offer.expires_at),
                person: offer.person,
            }));
            rows.extend(roster.waitlist.into_iter().map(|entry| RosterRow {
                status: RowStatus::Waiting,
                position: Some(entry.position),
                offer_expires_at: None,
                person: entry.person,
            }));
            (rows, Some(roster.site_visit))
        }
        RosterOf::WithoutSeat => {
            let (event, visits) = find_event_with_visits(conn, event_slug)?;
            let rows = registrations::confirmed_without_seat(conn, &event.id)?;
            let rows = entries(conn, &event, &visits, rows, None)?
                .into_iter()
                .map(|person| RosterRow {
                    status: RowStatus::NoSeat,
                    position: None,
                    offer_expires_at: None,
                    person,
                })
                .collect();
            (rows, None)
        }
    };
    let event = catalog::event_view(conn, event_slug, now)?;
    Ok(page_of(event, visit, all, query))
}

/// Filters, sorts and cuts `all` (in roster order): the pure part of [`roster_page`].
fn page_of(
    event: EventView,
    visit: Option<SiteVisitView>,
    all: Vec<RosterRow>,
    query: &RosterQuery,
) -> RosterPage {
    let count = |status| all.iter().filter(|row| row.status == status).count();
    let (seated, offered, waiting, without_seat) = (
        count(RowStatus::Seated),
        count(RowStatus::Offered),
        count(RowStatus::Waiting),
        count(RowStatus::NoSeat),
    );
    let countries: BTreeMap<String, String> = all
        .iter()
        .map(|row| (row.person.country.clone(), row.person.country_name.clone()))
        .collect();
    let search = query.search.as_deref().map(fold).filter(|s| !s.is_empty());
    let country = query
        .country
        .as_deref()
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty());
    let mut rows: Vec<RosterRow> = all
        .into_iter()
        .filter(|row| query.status.is_none_or(|status| row.status == status))
        .filter(|row| country.as_ref().is_none_or(|c| row.person.country == *c))
        .filter(|row| {
            search.as_ref().is_none_or(|s| {
                let p = &row.person;
                search_text(&p.first_name, &p.last_name, &p.organisation, &p.email).contains(s.as_str())
            })
        })
        .collect();
    match query.sort {
        RosterSort::Roster => {}
        RosterSort::Name => {
            rows.sort_by_cached_key(|row| (sort_key_name(&row.person), row.person.id.clone()))
        }
        RosterSort::Registered => rows.sort_by_key(|row| (row.person.registered_at, row.person.id.clone())),
        RosterSort::Country => rows.sort_by_cached_key(|row| {
            (
                row.person.country.clone(),
                sort_key_name(&row.person),
                row.person.id.clone(),
            )
        }),
    }
    let matching = rows.len();
    let pages = matching.div_ceil(ROSTER_PAGE_SIZE).max(1);
    let asked = query.page.max(1);
    let page = asked.min(pages);
    let rows = rows
        .into_iter()
        .skip((page - 1) * ROSTER_PAGE_SIZE)
        .take(ROSTER_PAGE_SIZE)
        .collect();
    RosterPage {
        event,
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
        countries: countries.into_iter().collect(),
    }
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
