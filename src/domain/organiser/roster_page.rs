//! One page of a visit's roster (or of the confirmed people without a seat), as the
//! organisers' board shows it: searched, filtered, sorted and cut into pages of
//! [`ROSTER_PAGE_SIZE`]. The waitlist is read as the API roster reads it, so its order
//! and positions are the API roster's; a page only chooses which of them to show.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::rosters::entries;
use super::{find_visit, PersonEntry};
use crate::db::DbConnection;
use crate::domain::catalog::{self, EventView, SiteVisitView};
use crate::domain::checkin;
use crate::domain::country::country_name;
use crate::domain::error::DomainError;
use crate::domain::event_rules::{event_timezone, find_event_with_visits, local_time};
use crate::domain::search::fold;
use crate::store::events::EventRow;
use crate::store::registrations::{self, RegistrationFilter, RosterKey};
use crate::store::site_visits::SiteVisitRow;
use crate::store::{counts, offers, queues};

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
    /// Seated rows: when checked in on the visit's list.
    pub checked_in_at: Option<DateTime<FixedOffset>>,
    /// Seated rows: not checked in past the visit's no-show deadline.
    pub no_show: bool,
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

/// The rows of the page shown, and where it stands among the pages.
struct Paged {
    rows: Vec<KeyRow>,
    matching: usize,
    page: usize,
    pages: usize,
}

fn paging(matching: usize, asked: usize) -> (usize, usize) {
    let pages = matching.div_ceil(ROSTER_PAGE_SIZE).max(1);
    (asked.min(pages), pages)
}

fn key_row(key: RosterKey, status: RowStatus) -> KeyRow {
    KeyRow {
        key,
        status,
        position: None,
        offer_expires_at: None,
    }
}

/// Sorts every matching row as asked and keeps the page's.
fn sort_and_cut(mut rows: Vec<KeyRow>, sort: RosterSort, asked: usize) -> Paged {
    match sort {
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
    let (page, pages) = paging(matching, asked);
    let rows = rows
        .into_iter()
        .skip((page - 1) * ROSTER_PAGE_SIZE)
        .take(ROSTER_PAGE_SIZE)
        .collect();
    Paged {
        rows,
        matching,
        page,
        pages,
    }
}

/// A visit's roster in its own order (seated, offered, then the waitlist), unfiltered:
/// the page's window is read from each part with an offset, so a page costs the same
/// wherever it is. The parts' sizes are the maintained counters.
fn visit_window(
    conn: &mut DbConnection,
    event: &EventRow,
    visit: &SiteVisitRow,
    parts: [(RowStatus, usize); 3],
    asked: usize,
) -> Result<Paged, DomainError> {
    let matching = parts.iter().map(|(_, size)| size).sum();
    let (page, pages) = paging(matching, asked);
    let (start, end) = ((page - 1) * ROSTER_PAGE_SIZE, page * ROSTER_PAGE_SIZE);
    let mut rows = Vec::new();
    let mut base = 0;
    for (status, size) in parts {
        let (from, to) = (start.max(base), end.min(base + size));
        base += size;
        if from >= to {
            continue;
        }
        let (offset, limit) = (from - (base - size), to - from);
        match status {
            RowStatus::Seated => rows.extend(
                registrations::seated_keys(conn, &visit.id, offset as i64, limit as i64)?
                    .into_iter()
                    .map(|key| key_row(key, status)),
            ),
            RowStatus::Offered => {
                let open: Vec<_> = offers::of_event(conn, &event.id)?
                    .into_iter()
                    .filter(|o| o.site_visit_id == visit.id)
                    .skip(offset)
                    .take(limit)
                    .collect();
                let ids: Vec<String> = open.iter().map(|o| o.registration_id.clone()).collect();
                let keys = registrations::keys_among(conn, &event.id, &RegistrationFilter::default(), &ids)?;
                rows.extend(in_order(keys, &ids).into_iter().map(|(place, key)| KeyRow {
                    offer_expires_at: Some(open[place - 1].expires_at),
                    ..key_row(key, status)
                }));
            }
            // Not a part of a visit's roster.
            RowStatus::NoSeat => {}
            RowStatus::Waiting => {
                let queued = queues::length(conn, &visit.id)? as usize;
                let mut ids = if offset < queued {
                    queues::slice(conn, &visit.id, offset as i64, limit.min(queued - offset) as i64)?
                } else {
                    Vec::new()
                };
                if ids.len() < limit {
                    let skip = offset.saturating_sub(queued);
                    ids.extend(registrations::upgrades_page(
                        conn,
                        &visit.id,
                        skip as i64,
                        (limit - ids.len()) as i64,
                    )?);
                }
                let keys = registrations::keys_among(conn, &event.id, &RegistrationFilter::default(), &ids)?;
                rows.extend(in_order(keys, &ids).into_iter().map(|(place, key)| KeyRow {
                    position: Some(offset + place),
                    ..key_row(key, status)
                }));
            }
        }
    }
    Ok(Paged {
        rows,
        matching,
        page,
        pages,
    })
}

/// Every row of a visit's roster that `filter` keeps, in the roster's order; waiting
/// rows without their positions yet ([`place_waiting`] gives the page's).
fn visit_matches(
    conn: &mut DbConnection,
    event: &EventRow,
    visit: &SiteVisitRow,
    filter: &RegistrationFilter,
    wanted: impl Fn(RowStatus) -> bool,
    upgrades: &mut Upgrades,
) -> Result<Vec<KeyRow>, DomainError> {
    let mut rows = Vec::new();
    if wanted(RowStatus::Seated) {
        let seated = RegistrationFilter {
            site_visit_id: Some(visit.id.clone()),
            ..filter.clone()
        };
        rows.extend(
            registrations::keys(conn, &event.id, &seated)?
                .into_iter()
                .map(|key| key_row(key, RowStatus::Seated)),
        );
    }
    if wanted(RowStatus::Offered) {
        let open: Vec<_> = offers::of_event(conn, &event.id)?
            .into_iter()
            .filter(|o| o.site_visit_id == visit.id)
            .collect();
        let ids: Vec<String> = open.iter().map(|o| o.registration_id.clone()).collect();
        let keys = registrations::keys_among(conn, &event.id, filter, &ids)?;
        rows.extend(in_order(keys, &ids).into_iter().map(|(place, key)| KeyRow {
            offer_expires_at: Some(open[place - 1].expires_at),
            ..key_row(key, RowStatus::Offered)
        }));
    }
    if wanted(RowStatus::Waiting) {
        let (waiting, keys) = if filter.country.is_none() && filter.search.is_none() {
            // Everyone waiting: the queue, then those who would move up.
            let mut ids = queues::first(conn, &visit.id, i64::MAX)?;
            ids.extend(upgrades.all(conn, &visit.id)?.iter().cloned());
            let keys = registrations::keys_among(conn, &event.id, filter, &ids)?;
            (ids, keys)
        } else {
            // The people the filter keeps, then which of them wait: the queue's members
            // in its order, then those who would move up.
            let candidates = registrations::keys(conn, &event.id, filter)?;
            let ids: Vec<String> = candidates.iter().map(|key| key.id.clone()).collect();
            let mut waiting = queues::members_among(conn, &visit.id, &ids)?;
            waiting.extend(registrations::upgrades_among(conn, &visit.id, &ids)?);
            (waiting, candidates)
        };
        rows.extend(
            in_order(keys, &waiting)
                .into_iter()
                .map(|(_, key)| key_row(key, RowStatus::Waiting)),
        );
    }
    Ok(rows)
}

/// Gives the page's waiting rows their positions: in the visit's queue (read for those
/// rows alone), else after the queue among those who would move up.
fn place_waiting(
    conn: &mut DbConnection,
    visit: &SiteVisitRow,
    rows: &mut [KeyRow],
    upgrades: &mut Upgrades,
) -> Result<(), DomainError> {
    let unplaced: Vec<String> = rows
        .iter()
        .filter(|row| row.status == RowStatus::Waiting && row.position.is_none())
        .map(|row| row.key.id.clone())
        .collect();
    if unplaced.is_empty() {
        return Ok(());
    }
    let in_queue: HashMap<String, i64> = queues::positions_of(conn, &unplaced)?
        .into_iter()
        .filter(|(_, queue, _)| *queue == visit.id)
        .map(|(id, _, position)| (id, position))
        .collect();
    let mut after_queue: Option<HashMap<&str, usize>> = None;
    for row in rows
        .iter_mut()
        .filter(|row| row.status == RowStatus::Waiting && row.position.is_none())
    {
        row.position = match in_queue.get(&row.key.id) {
            Some(position) => Some(*position as usize),
            None => {
                if after_queue.is_none() {
                    let queued = queues::length(conn, &visit.id)? as usize;
                    let order = upgrades.all(conn, &visit.id)?;
                    after_queue = Some(
                        order
                            .iter()
                            .enumerate()
                            .map(|(i, id)| (id.as_str(), queued + i + 1))
                            .collect(),
                    );
                }
                after_queue
                    .as_ref()
                    .and_then(|order| order.get(row.key.id.as_str()).copied())
            }
        };
    }
    Ok(())
}

/// Those who would move up to a visit from a lower seat, in their order: read once per
/// page (the `visit_upgrades` view's scan of everyone who ranked the visit), when first
/// needed.
#[derive(Default)]
struct Upgrades(Option<Vec<String>>);

impl Upgrades {
    fn all(&mut self, conn: &mut DbConnection, visit_id: &str) -> Result<&[String], DomainError> {
        if self.0.is_none() {
            self.0 = Some(registrations::upgrades_page(conn, visit_id, 0, i64::MAX)?);
        }
        Ok(self.0.as_deref().unwrap_or_default())
    }
}

/// A page of `of`'s roster for `query`. In the roster's own order and unfiltered, the
/// page's rows alone are read ([`visit_window`]); otherwise the database filters
/// (`registrations::keys`: a few columns per matching person) and the rows are sorted
/// here. Either way full entries are built for the page's rows only.
pub fn roster_page(
    conn: &mut DbConnection,
    event_slug: &str,
    of: &RosterOf,
    query: &RosterQuery,
    now: NaiveDateTime,
) -> Result<RosterPage, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let event_view = catalog::event_view(conn, event_slug, now)?;
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
    let asked = query.page.max(1);
    let counts = counts::of_event(conn, &event.id)?;
    let (mut seated, mut offered, mut waiting, mut without_seat) = (0, 0, 0, 0);
    let (visit, paged, country_codes): (Option<SiteVisitView>, Paged, BTreeSet<String>) = match of {
        RosterOf::Visit(slug) => {
            let visit = find_visit(&visits, slug)?;
            let view = event_view
                .site_visits
                .iter()
                .find(|v| v.slug == visit.slug)
                .cloned()
                .ok_or(DomainError::NotFound("site visit"))?;
            (seated, offered, waiting) = (
                view.assigned.max(0) as usize,
                view.offered.max(0) as usize,
                view.waitlisted.max(0) as usize,
            );
            let mut upgrades = Upgrades::default();
            let mut paged = if unfiltered && query.sort == RosterSort::Roster {
                let parts = [
                    (RowStatus::Seated, seated),
                    (RowStatus::Offered, offered),
                    (RowStatus::Waiting, waiting),
                ]
                .map(|(status, size)| (status, if wanted(status) { size } else { 0 }));
                visit_window(conn, &event, &visit, parts, asked)?
            } else {
                let rows = visit_matches(conn, &event, &visit, &filter, wanted, &mut upgrades)?;
                sort_and_cut(rows, query.sort, asked)
            };
            place_waiting(conn, &visit, &mut paged.rows, &mut upgrades)?;
            let codes = counts
                .iter()
                .filter(|row| row.site_visit_id == visit.id)
                .map(|row| row.country.clone())
                .collect();
            (Some(view), paged, codes)
        }
        RosterOf::WithoutSeat => {
            let everyone = RegistrationFilter {
                without_seat: true,
                ..RegistrationFilter::default()
            };
            let keys = registrations::keys(
                conn,
                &event.id,
                &RegistrationFilter {
                    without_seat: true,
                    ..filter.clone()
                },
            )?;
            without_seat = if unfiltered {
                keys.len()
            } else {
                registrations::count(conn, &event.id, &everyone)? as usize
            };
            let rows = keys
                .into_iter()
                .map(|key| key_row(key, RowStatus::NoSeat))
                .collect();
            let codes = counts
                .iter()
                .filter(|row| row.site_visit_id == counts::COUNTRY_ROW && row.registered > 0)
                .map(|row| row.country.clone())
                .collect();
            (None, sort_and_cut(rows, query.sort, asked), codes)
        }
    };
    let ids: Vec<String> = paged.rows.iter().map(|row| row.key.id.clone()).collect();
    let rank_of = visit
        .as_ref()
        .and_then(|view| visits.iter().find(|v| v.slug == view.slug))
        .map(|v| v.id.as_str());
    let found = registrations::find_many(conn, &ids)?;
    let mut people: HashMap<String, PersonEntry> = entries(conn, &event, &visits, found, rank_of)?
        .into_iter()
        .map(|person| (person.id.clone(), person))
        .collect();
    // Check-ins of the page's seated rows, on the visit's list.
    let seated_here: Vec<(String, Option<String>)> = paged
        .rows
        .iter()
        .filter(|row| row.status == RowStatus::Seated)
        .map(|row| (row.key.id.clone(), rank_of.map(str::to_owned)))
        .collect();
    let checkins = checkin::person_checkins(conn, &event, &visits, &seated_here, now)?;
    let tz = event_timezone(&event);
    let rows = paged
        .rows
        .into_iter()
        .filter_map(|row| {
            let checkin = checkins.get(&row.key.id).cloned().unwrap_or_default();
            Some(RosterRow {
                status: row.status,
                position: row.position,
                offer_expires_at: row.offer_expires_at.map(|at| local_time(tz, at)),
                checked_in_at: checkin.visit.map(|at| local_time(tz, at)),
                no_show: checkin.no_show,
                person: people.remove(&row.key.id)?,
            })
        })
        .collect();
    Ok(RosterPage {
        event: event_view,
        visit,
        rows,
        matching: paged.matching,
        seated,
        offered,
        waiting,
        without_seat,
        page: paged.page,
        pages: paged.pages,
        clamped: asked > paged.pages,
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
