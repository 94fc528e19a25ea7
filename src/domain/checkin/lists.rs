//! What the check-in lists show: each list's numbers, who is missing and who is a
//! no-show, the roster an offline device carries, and the check-in columns of rosters
//! and exports. Every number here is counted among the people the list expects now
//! (`List::expects`): someone checked in on a visit and then moved to another counts
//! in neither number of the first.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Serialize;

use super::{every_list, grace, List, ListName};
use crate::db::DbConnection;
use crate::domain::error::DomainError;
use crate::domain::event_rules::{event_timezone, find_event_with_visits, local_time};
use crate::domain::search::fold;
use crate::store::checkins::{self as stored, CheckinRow, ListPerson, ENTRY};
use crate::store::events::EventRow;
use crate::store::site_visits::SiteVisitRow;

/// When people seated in `visit` who have not checked in on its list become no-shows:
/// its start plus the event's `no_show_after_minutes`.
pub fn no_show_deadline(event: &EventRow, visit: &SiteVisitRow) -> NaiveDateTime {
    visit.starts_at + grace(event)
}

/// The no-show rule, the one place it is written: seated in `visit`, not checked in on
/// its list, and the deadline reached at `now`.
pub fn is_no_show(event: &EventRow, visit: &SiteVisitRow, checked_in: bool, now: NaiveDateTime) -> bool {
    !checked_in && now >= no_show_deadline(event, visit)
}

/// A list with its numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CheckinListView {
    /// `entry` or `visit:{slug}`.
    pub list: String,
    pub name: String,
    /// People the list expects: every confirmed registration (`entry`), or the people
    /// seated in the visit.
    pub expected: i64,
    /// Of those, checked in on the list.
    pub checked_in: i64,
    /// Of those, checked in and not gone out.
    pub inside: i64,
}

/// A person expected and not checked in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MissingPerson {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub organisation: String,
    pub country: String,
    /// Slug of the visit whose seat they hold.
    pub site_visit: Option<String>,
    /// Past the list's no-show deadline (visit lists only).
    pub no_show: bool,
}

/// A list's numbers and who is missing, as of a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ListStatus {
    pub list: String,
    pub name: String,
    pub expected: i64,
    pub checked_in: i64,
    pub inside: i64,
    /// Visit lists: from when those not checked in are no-shows (the visit's start plus
    /// the event's `no_show_after_minutes`); null for the entrance.
    pub no_show_from: Option<DateTime<FixedOffset>>,
    /// How many of `missing` are no-shows.
    pub no_show: i64,
    /// Expected and not checked in, by last name.
    pub missing: Vec<MissingPerson>,
}

/// A person on an offline roster: enough to find them by name or by the hash of the
/// code a camera reads, never the code itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RosterPerson {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub organisation: String,
    pub country: String,
    /// Slug of the visit whose seat they hold.
    pub visit: Option<String>,
    /// SHA-256 (lower-case hex) of the person's check-in code as read from the QR code.
    pub code_hash: Option<String>,
    /// When checked in on this list, if they are.
    pub checked_in_at: Option<DateTime<FixedOffset>>,
    pub inside: bool,
}

/// What a device needs to check people in on a list with no network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OfflineRoster {
    pub list: String,
    pub name: String,
    /// Everyone the list expects, by last name.
    pub people: Vec<RosterPerson>,
}

/// An event's confirmed people and check-ins, read once for the lists.
struct EventCheckins {
    event: EventRow,
    visits: Vec<SiteVisitRow>,
    people: Vec<ListPerson>,
    checkins: HashMap<(String, String), CheckinRow>,
}

impl EventCheckins {
    fn load(conn: &mut DbConnection, event_slug: &str) -> Result<Self, DomainError> {
        let (event, visits) = find_event_with_visits(conn, event_slug)?;
        let people = stored::confirmed_people(conn, &event.id)?;
        let checkins = stored::of_event(conn, &event.id)?
            .into_iter()
            .map(|c| ((c.registration_id.clone(), c.site_visit_id.clone()), c))
            .collect();
        Ok(Self {
            event,
            visits,
            people,
            checkins,
        })
    }

    fn list(&self, name: &ListName) -> Result<List<'_>, DomainError> {
        List::resolve(&self.visits, name).ok_or(DomainError::NotFound("check-in list"))
    }

    /// The people `list` expects, each with their check-in on it.
    fn expected<'a>(
        &'a self,
        list: List<'a>,
    ) -> impl Iterator<Item = (&'a ListPerson, Option<&'a CheckinRow>)> + 'a {
        self.people
            .iter()
            .filter(move |p| list.expects(p.seat.as_deref()))
            .map(move |p| (p, self.checkins.get(&(p.id.clone(), list.key().to_owned()))))
    }

    fn view(&self, list: List<'_>) -> CheckinListView {
        let (mut expected, mut checked_in, mut inside) = (0, 0, 0);
        for (_, checkin) in self.expected(list) {
            expected += 1;
            if let Some(checkin) = checkin {
                checked_in += 1;
                inside += i64::from(checkin.inside);
            }
        }
        CheckinListView {
            list: list.label(),
            name: list.name(),
            expected,
            checked_in,
            inside,
        }
    }

    fn slug_of(&self, visit_id: Option<&str>) -> Option<String> {
        visit_id
            .and_then(|id| self.visits.iter().find(|v| v.id == id))
            .map(|v| v.slug.clone())
    }
}

/// People by last name, then first name (accents and case folded), then id.
fn by_name(a: (&str, &str, &str), b: (&str, &str, &str)) -> std::cmp::Ordering {
    (fold(a.0), fold(a.1), a.2).cmp(&(fold(b.0), fold(b.1), b.2))
}

/// The event's lists with their numbers: the entrance, then each visit in display order.
pub fn checkin_lists(conn: &mut DbConnection, event_slug: &str) -> Result<Vec<CheckinListView>, DomainError> {
    let state = EventCheckins::load(conn, event_slug)?;
    Ok(every_list(&state.visits)
        .into_iter()
        .map(|list| state.view(list))
        .collect())
}

/// A list's numbers and who is missing at `now`.
pub fn list_status(
    conn: &mut DbConnection,
    event_slug: &str,
    name: &ListName,
    now: NaiveDateTime,
) -> Result<ListStatus, DomainError> {
    let state = EventCheckins::load(conn, event_slug)?;
    let list = state.list(name)?;
    let view = state.view(list);
    let tz = event_timezone(&state.event);
    let mut missing: Vec<MissingPerson> = state
        .expected(list)
        .filter(|(_, checkin)| checkin.is_none())
        .map(|(person, _)| MissingPerson {
            id: person.id.clone(),
            first_name: person.first_name.clone(),
            last_name: person.last_name.clone(),
            organisation: person.organisation.clone(),
            country: person.country.clone(),
            site_visit: state.slug_of(person.seat.as_deref()),
            no_show: list
                .visit
                .is_some_and(|visit| is_no_show(&state.event, visit, false, now)),
        })
        .collect();
    missing.sort_by(|a, b| {
        by_name(
            (&a.last_name, &a.first_name, &a.id),
            (&b.last_name, &b.first_name, &b.id),
        )
    });
    Ok(ListStatus {
        no_show_from: list
            .visit
            .map(|visit| local_time(tz, no_show_deadline(&state.event, visit))),
        no_show: missing.iter().filter(|m| m.no_show).count() as i64,
        list: view.list,
        name: view.name,
        expected: view.expected,
        checked_in: view.checked_in,
        inside: view.inside,
        missing,
    })
}

/// The roster a device keeps for `name`, to check people in offline.
pub fn offline_roster(
    conn: &mut DbConnection,
    event_slug: &str,
    name: &ListName,
) -> Result<OfflineRoster, DomainError> {
    let state = EventCheckins::load(conn, event_slug)?;
    let list = state.list(name)?;
    let tz = event_timezone(&state.event);
    let mut people: Vec<RosterPerson> = state
        .expected(list)
        .map(|(person, checkin)| RosterPerson {
            id: person.id.clone(),
            first_name: person.first_name.clone(),
            last_name: person.last_name.clone(),
            organisation: person.organisation.clone(),
            country: person.country.clone(),
            visit: state.slug_of(person.seat.as_deref()),
            code_hash: person.checkin_code_hash.clone(),
            checked_in_at: checkin.map(|c| local_time(tz, c.checked_in_at)),
            inside: checkin.is_some_and(|c| c.inside),
        })
        .collect();
    people.sort_by(|a, b| {
        by_name(
            (&a.last_name, &a.first_name, &a.id),
            (&b.last_name, &b.first_name, &b.id),
        )
    });
    Ok(OfflineRoster {
        list: list.label(),
        name: list.name(),
        people,
    })
}

/// Per visit slug: how many of its seated people are checked in on its list, and whether
/// its no-show deadline has passed at `now` (then every other seated person is a
/// no-show). Grouped in SQL: a row per visit, however many people.
pub fn visit_checkins(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    now: NaiveDateTime,
) -> Result<HashMap<String, (i64, bool)>, DomainError> {
    let counted: HashMap<String, i64> = stored::seated_checked_in(conn, &event.id)?.into_iter().collect();
    Ok(visits
        .iter()
        .map(|visit| {
            let checked_in = counted.get(&visit.id).copied().unwrap_or(0);
            (
                visit.slug.clone(),
                (checked_in, is_no_show(event, visit, false, now)),
            )
        })
        .collect())
}

/// A person's check-ins as rosters and exports show them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonCheckins {
    /// At the event's entrance.
    pub entry: Option<NaiveDateTime>,
    /// On the list of the visit whose seat they hold.
    pub visit: Option<NaiveDateTime>,
    /// Seated, not checked in on the visit's list, past its deadline.
    pub no_show: bool,
}

/// The check-ins of `people` (id, and the visit id whose seat they hold) at `now`.
pub fn person_checkins(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    people: &[(String, Option<String>)],
    now: NaiveDateTime,
) -> Result<HashMap<String, PersonCheckins>, DomainError> {
    let ids: Vec<String> = people.iter().map(|(id, _)| id.clone()).collect();
    let mut found: HashMap<(String, String), NaiveDateTime> = HashMap::new();
    for chunk in ids.chunks(500) {
        for checkin in stored::of_registrations(conn, chunk)? {
            found.insert(
                (checkin.registration_id, checkin.site_visit_id),
                checkin.checked_in_at,
            );
        }
    }
    Ok(people
        .iter()
        .map(|(id, seat)| {
            let at = |list: &str| found.get(&(id.clone(), list.to_owned())).copied();
            let visit = seat
                .as_deref()
                .and_then(|seat| visits.iter().find(|v| v.id == seat));
            let visit_checkin = visit.and_then(|v| at(&v.id));
            let checkins = PersonCheckins {
                entry: at(ENTRY),
                visit: visit_checkin,
                no_show: visit.is_some_and(|v| is_no_show(event, v, visit_checkin.is_some(), now)),
            };
            (id.clone(), checkins)
        })
        .collect())
}
