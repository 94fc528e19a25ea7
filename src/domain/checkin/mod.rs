//! Check-in at the gate and the coach (docs/checkin.md): a code per registration, one
//! list for the event's entrance and one per site visit, scans in and out (online, or
//! uploaded later from an offline device), and what the lists show (expected, checked
//! in, inside, missing, no-shows).
//!
//! - The code is derived from the registration id under the manage key
//!   ([`ManageKey::checkin_code_for`]); only its SHA-256 is stored, and that hash is also
//!   all an offline roster carries.
//! - Lists: `entry` holds every confirmed registration; `visit:{slug}` the people seated
//!   in that visit. A person is checked in at most once per list (invariant 11): the
//!   earliest scan in is the check-in; `inside` follows the latest movement.
//! - A visit's seated people not checked in on its list are no-shows from its start plus
//!   the event's `no_show_after_minutes`: computed from the clock when read
//!   ([`is_no_show`]), never written by a job.
//!
//! `scan` applies scans; `lists` reads the lists. Both take `now` from their caller, so
//! tests move the clock by passing another time.

mod lists;
mod scan;

pub use lists::{
    checkin_lists, is_no_show, list_status, no_show_deadline, offline_roster, person_checkins,
    visit_checkins, CheckinListView, ListStatus, MissingPerson, OfflineRoster, PersonCheckins, RosterPerson,
};
pub use scan::{
    scan, scan_batch, BatchResult, Direction, ListRef, NotActiveReason, Outcome, PersonSummary, Scan,
    ScanBatch, ScanResult, ScanTarget, BATCH_MAX,
};

use serde_json::{Map, Value};

use super::access::{hash_secret, ManageKey};
use super::error::DomainError;
use crate::db::DbConnection;
use crate::store::checkins::{self as stored, ENTRY};
use crate::store::events::EventRow;
use crate::store::site_visits::SiteVisitRow;

/// A check-in list as clients name it: `entry`, or `visit:{slug}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListName {
    Entry,
    Visit(String),
}

impl ListName {
    pub fn parse(text: &str) -> Option<Self> {
        if text == "entry" {
            return Some(Self::Entry);
        }
        let slug = text.strip_prefix("visit:")?;
        let slug_shaped = !slug.is_empty()
            && slug.len() <= 64
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        slug_shaped.then(|| Self::Visit(slug.to_owned()))
    }
}

impl std::fmt::Display for ListName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Entry => f.write_str("entry"),
            Self::Visit(slug) => write!(f, "visit:{slug}"),
        }
    }
}

/// A list of one event: the entrance, or one of its visits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct List<'a> {
    visit: Option<&'a SiteVisitRow>,
}

impl<'a> List<'a> {
    const ENTRANCE_NAME: &'static str = "Event entrance";

    /// The list `name` names among the event's visits.
    fn resolve(visits: &'a [SiteVisitRow], name: &ListName) -> Option<Self> {
        match name {
            ListName::Entry => Some(Self { visit: None }),
            ListName::Visit(slug) => visits
                .iter()
                .find(|v| &v.slug == slug)
                .map(|visit| Self { visit: Some(visit) }),
        }
    }

    /// The list stored as `site_visit_id` ([`ENTRY`] or a visit id).
    fn stored(visits: &'a [SiteVisitRow], id: &str) -> Self {
        Self {
            visit: visits.iter().find(|v| v.id == id),
        }
    }

    fn entrance() -> Self {
        Self { visit: None }
    }

    fn visit(visit: &'a SiteVisitRow) -> Self {
        Self { visit: Some(visit) }
    }

    /// The key of its rows: [`ENTRY`] or the visit's id.
    fn key(&self) -> &'a str {
        self.visit.map_or(ENTRY, |v| v.id.as_str())
    }

    /// As clients name it.
    fn label(&self) -> String {
        self.visit.map_or_else(
            || ListName::Entry.to_string(),
            |v| ListName::Visit(v.slug.clone()).to_string(),
        )
    }

    fn name(&self) -> String {
        self.visit
            .map_or_else(|| Self::ENTRANCE_NAME.to_owned(), |v| v.name.clone())
    }

    /// Whether a confirmed person holding a seat in `seat` (a visit id) is expected.
    fn expects(&self, seat: Option<&str>) -> bool {
        match self.visit {
            None => true,
            Some(visit) => seat == Some(visit.id.as_str()),
        }
    }
}

/// Registrations (not erased) made before codes were stored get their code's hash, a
/// batch of `limit` per call; how many it filled (0: none left). Start-up runs it until
/// none is left, as it folds the search text.
pub fn fill_stored_code_hashes(
    conn: &mut DbConnection,
    key: &ManageKey,
    limit: i64,
) -> Result<usize, DomainError> {
    let ids = stored::without_code_hash(conn, limit)?;
    for id in &ids {
        stored::set_code_hash(conn, id, &hash_secret(&key.checkin_code_for(id)))?;
    }
    Ok(ids.len())
}

/// Reads a list of objects from `field` with `read` (each item's errors prefixed
/// `{field}[i].`), at most `max` items.
fn read_items<T>(
    body: Map<String, Value>,
    field: &str,
    max: usize,
    read: impl Fn(&mut super::input::Fields) -> Option<T>,
) -> Result<Vec<T>, DomainError> {
    use super::error::FieldErrors;
    use super::input::Fields;
    let mut fields = Fields::new(body);
    let present = fields.contains(field);
    let values = fields.take_list(field);
    let mut errors = FieldErrors::new();
    let mut items = Vec::new();
    if !present {
        errors.insert(field.to_owned(), vec!["is required".into()]);
    } else if values.is_empty() && !fields.has_error(field) {
        errors.insert(field.to_owned(), vec!["must hold at least one item".into()]);
    } else if values.len() > max {
        errors.insert(
            field.to_owned(),
            vec![format!(
                "must hold at most {max} items; send the rest in another request"
            )],
        );
    } else {
        for (index, value) in values.into_iter().enumerate() {
            let prefix = format!("{field}[{index}].");
            match value {
                Value::Object(map) => {
                    let mut item_fields = Fields::with_prefix(map, &prefix);
                    let item = read(&mut item_fields);
                    match item_fields.finish(|| item) {
                        Ok(item) => items.push(item),
                        Err(DomainError::Validation(e)) => errors.extend(e),
                        Err(other) => return Err(other),
                    }
                }
                _ => {
                    errors.insert(format!("{field}[{index}]"), vec!["must be an object".into()]);
                }
            }
        }
    }
    match fields.finish(|| Some(())) {
        Ok(()) if errors.is_empty() => Ok(items),
        Ok(()) => Err(DomainError::Validation(errors)),
        Err(DomainError::Validation(mut e)) => {
            e.extend(errors);
            Err(DomainError::Validation(e))
        }
        Err(other) => Err(other),
    }
}

/// The event's entrance list and one list per visit, in display order.
fn every_list(visits: &[SiteVisitRow]) -> Vec<List<'_>> {
    std::iter::once(List::entrance())
        .chain(visits.iter().map(List::visit))
        .collect()
}

/// The event row's no-show setting as a duration.
fn grace(event: &EventRow) -> chrono::Duration {
    chrono::Duration::minutes(i64::from(event.no_show_after_minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_are_entry_or_a_visit_slug() {
        assert_eq!(ListName::parse("entry"), Some(ListName::Entry));
        assert_eq!(
            ListName::parse("visit:aperam-chatelet"),
            Some(ListName::Visit("aperam-chatelet".into()))
        );
        for bad in [
            "",
            "Entry",
            "visit:",
            "visit:A",
            "vehicle:1",
            "visit:a b",
            "visit:../x",
        ] {
            assert_eq!(ListName::parse(bad), None, "{bad}");
        }
        assert_eq!(ListName::Visit("a".into()).to_string(), "visit:a");
    }
}
