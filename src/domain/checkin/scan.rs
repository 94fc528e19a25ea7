//! Scans: parsed at the edge, applied in one unit of work with their record.
//!
//! A scan in checks the person in when they are not yet (a conditional insert); a scan
//! that carries an earlier `scanned_at` than the recorded check-in (an offline device
//! that syncs late) becomes the check-in instead, so the earliest scan wins whatever the
//! order of arrival; after a scan out, a later scan in lets the person back in. Any other
//! scan in is `already-checked-in`. Every scan is recorded with its outcome; a nonce seen
//! before writes nothing and answers what that scan stands for now.

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, SubsecRound};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{read_items, List, ListName};
use crate::db::{DbConnection, DbError};
use crate::domain::access::{hash_secret, normalise_checkin_code, Principal};
use crate::domain::country::country_name;
use crate::domain::error::DomainError;
use crate::domain::event_rules::{event_timezone, find_event_with_visits, local_time, lock_for_seat_changes};
use crate::domain::input::Fields;
use crate::domain::webhooks::{self, EventType};
use crate::store::checkins::{self as stored, CheckinRow, Named, NewCheckin, NewScan, ScanRow};
use crate::store::events::EventRow;
use crate::store::registrations::{self, RegistrationRow, RegistrationStatus};
use crate::store::site_visits::SiteVisitRow;

/// Most scans one batch may carry.
pub const BATCH_MAX: usize = 1_000;
const NONCE_MIN: usize = 8;
const NONCE_MAX: usize = 128;
const DEVICE_MAX: usize = 100;
/// Registration ids are UUIDs (36 characters); anything longer names nobody.
const REGISTRATION_MAX: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

/// Whom a scan names: the check-in code a camera read, or (a steward who found the
/// person by name, and has no code) the registration's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanTarget {
    /// In its one stored form (`normalise_checkin_code`).
    Code(String),
    /// A registration id, as the roster and the board show it.
    Registration(String),
}

/// A scan as a device sends it, parsed once.
#[derive(Clone, Debug)]
pub struct Scan {
    pub target: ScanTarget,
    pub list: ListName,
    pub direction: Direction,
    /// When the device scanned (offline scans); absent: when it arrives.
    pub scanned_at: Option<NaiveDateTime>,
    /// Chosen by the device, unique per scan: a scan is applied once per nonce.
    pub nonce: String,
    /// Which device scanned ('' when not said).
    pub device: String,
}

impl Scan {
    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let scan = Self::read(&mut fields);
        fields.finish(|| scan)
    }

    fn read(fields: &mut Fields) -> Option<Self> {
        let target = Self::read_target(fields);
        let list = fields.required_text("list", 80).and_then(|text| {
            ListName::parse(&text).or_else(|| {
                fields.error("list", "must be `entry` or `visit:{slug}`");
                None
            })
        });
        let direction = fields
            .required_text("direction", 8)
            .and_then(|text| match text.as_str() {
                "in" => Some(Direction::In),
                "out" => Some(Direction::Out),
                _ => {
                    fields.error("direction", "must be in or out");
                    None
                }
            });
        let scanned_at = fields.optional_time("scanned_at");
        let nonce = fields.required_text("nonce", NONCE_MAX).and_then(|nonce| {
            let shaped = nonce.len() >= NONCE_MIN && nonce.bytes().all(|b| b.is_ascii_graphic());
            if !shaped {
                fields.error(
                    "nonce",
                    format!(
                        "must be {NONCE_MIN} to {NONCE_MAX} visible ASCII characters, e.g. a random UUID"
                    ),
                );
            }
            shaped.then_some(nonce)
        });
        let device = fields.optional_text("device", DEVICE_MAX).unwrap_or_default();
        Some(Self {
            target: target?,
            list: list?,
            direction: direction?,
            scanned_at,
            nonce: nonce?,
            device,
        })
    }

    /// `code` or `registration`, exactly one of them (a blank one, as forms send, is
    /// absent).
    fn read_target(fields: &mut Fields) -> Option<ScanTarget> {
        if fields.has_value("registration") && !fields.has_value("code") {
            // A blank `code` is none: taken, so it is not an unknown field.
            let _ = fields.optional_text("code", 64);
            return fields
                .required_text("registration", REGISTRATION_MAX)
                .map(ScanTarget::Registration);
        }
        if fields.has_value("registration") {
            // Both read, so that each is checked (and known) before the refusal.
            let _ = fields.optional_text("registration", REGISTRATION_MAX);
            let _ = fields.optional_text("code", 64);
            fields.error(
                "registration",
                "must not be sent with `code`: one names the person",
            );
            return None;
        }
        // A blank `registration` is none: taken, so it is not an unknown field.
        let _ = fields.optional_text("registration", REGISTRATION_MAX);
        let code = fields.required_text("code", 64)?;
        normalise_checkin_code(&code).map(ScanTarget::Code).or_else(|| {
            fields.error(
                "code",
                "is not a check-in code (20 characters, letters A-Z and digits 2-7)",
            );
            None
        })
    }

    /// When it counts as scanned: a time ahead of `now` (a device clock running fast)
    /// counts as `now`. In microseconds, as both backends store it, so that a check-in
    /// answered from what was written equals the one read back later.
    fn time(&self, now: NaiveDateTime) -> NaiveDateTime {
        self.scanned_at.map_or(now, |at| at.min(now)).trunc_subsecs(6)
    }
}

/// Scans uploaded together (from an offline device): 1 to [`BATCH_MAX`].
#[derive(Clone, Debug)]
pub struct ScanBatch(pub Vec<Scan>);

impl ScanBatch {
    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        read_items(body, "scans", BATCH_MAX, Scan::read).map(Self)
    }
}

/// What a scan did (stored with it; also the label of the scans metric).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Checked in on the list (201).
    CheckedIn,
    /// Back in after a scan out (201).
    ReEntered,
    /// Went out (201).
    CheckedOut,
    /// A scan out of someone who is not inside: nothing changes (200).
    NotInside,
    /// `already-checked-in` (409): checked in on this list before.
    AlreadyCheckedIn,
    /// `wrong-list` (409): seated in another visit.
    WrongList,
    /// `not-active` (409): cancelled, waitlisted, or without a seat for a visit's list.
    NotActive,
    /// No registration of this event has this code (404).
    UnknownCode,
}

impl Outcome {
    pub const ALL: [Self; 8] = [
        Self::CheckedIn,
        Self::ReEntered,
        Self::CheckedOut,
        Self::NotInside,
        Self::AlreadyCheckedIn,
        Self::WrongList,
        Self::NotActive,
        Self::UnknownCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckedIn => "checked_in",
            Self::ReEntered => "re_entered",
            Self::CheckedOut => "checked_out",
            Self::NotInside => "not_inside",
            Self::AlreadyCheckedIn => "already_checked_in",
            Self::WrongList => "wrong_list",
            Self::NotActive => "not_active",
            Self::UnknownCode => "unknown_code",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// Whether the scan moved its person in or out of the list.
    pub fn moves(self) -> bool {
        matches!(self, Self::CheckedIn | Self::ReEntered | Self::CheckedOut)
    }

    /// The HTTP status of a fresh scan with this outcome (a replay is 200).
    pub fn status(self) -> u16 {
        match self {
            Self::CheckedIn | Self::ReEntered | Self::CheckedOut => 201,
            Self::NotInside => 200,
            Self::AlreadyCheckedIn | Self::WrongList | Self::NotActive => 409,
            Self::UnknownCode => 404,
        }
    }
}

/// Why a person cannot be checked in on a list (`not-active`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotActiveReason {
    Cancelled,
    /// On the event's waitlist.
    Waitlisted,
    /// Confirmed, but holding no seat in any visit (a visit's list).
    NoSeat,
}

/// A list named for a person to read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ListRef {
    /// `entry` or `visit:{slug}`.
    pub list: String,
    pub name: String,
}

/// What a steward sees of the person scanned; nothing more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PersonSummary {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub organisation: String,
    pub country: String,
    pub country_name: String,
    /// Slug of the visit whose seat they hold.
    pub site_visit: Option<String>,
    pub site_visit_name: Option<String>,
}

/// What one scan did, or (replayed) what it stands for now.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ScanResult {
    pub nonce: String,
    /// `entry` or `visit:{slug}`.
    pub list: String,
    pub direction: Direction,
    pub outcome: Outcome,
    /// The nonce was seen before: nothing was written. `outcome` is what that scan stands
    /// for now (a scan in that an earlier one overtook is `already_checked_in`).
    pub replayed: bool,
    /// The status the single-scan endpoint answers with: 201, 200, 409 or 404.
    pub status: u16,
    pub scanned_at: DateTime<FixedOffset>,
    /// Null for an unknown code.
    pub person: Option<PersonSummary>,
    /// When the person was checked in on this list (the earliest scan in).
    pub checked_in_at: Option<DateTime<FixedOffset>>,
    /// The device of that check-in.
    pub checked_in_device: Option<String>,
    /// Whether the person is inside now (checked in and not gone out).
    pub inside: bool,
    /// `wrong_list`: the list the person belongs to.
    pub belongs_to: Option<ListRef>,
    /// `not_active`: why.
    pub reason: Option<NotActiveReason>,
}

/// The results of a batch, in the order the scans were sent.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    pub results: Vec<ScanResult>,
    /// Scans that checked someone in (including those that overtook a later check-in).
    pub checked_in: usize,
    /// Scans in of someone checked in on that list by another scan (the conflicts: the
    /// earliest scan is the check-in), as `already_checked_in` results.
    pub conflicts: usize,
    /// Scans whose nonce was seen before (nothing written).
    pub replayed: usize,
}

/// Applies one scan on the event `event_slug` as `scanner` at `now`.
pub fn scan(
    conn: &mut DbConnection,
    event_slug: &str,
    scanner: &Principal,
    scan: &Scan,
    now: NaiveDateTime,
) -> Result<ScanResult, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let list = List::resolve(&visits, &scan.list)
        .ok_or_else(|| DomainError::invalid("list", "is not a check-in list of this event"))?;
    apply(conn, &event, &visits, list, scanner, scan, now)
}

/// Applies a batch of scans, each once (by nonce), in the order they were made
/// (`scanned_at`, then nonce), whatever order they were sent in; answers in the order
/// sent. An unknown list anywhere refuses the whole batch before anything is written.
pub fn scan_batch(
    conn: &mut DbConnection,
    event_slug: &str,
    scanner: &Principal,
    batch: &ScanBatch,
    now: NaiveDateTime,
) -> Result<BatchResult, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let mut lists = Vec::with_capacity(batch.0.len());
    let mut errors = crate::domain::FieldErrors::new();
    for (index, scan) in batch.0.iter().enumerate() {
        match List::resolve(&visits, &scan.list) {
            Some(list) => lists.push(list),
            None => {
                errors.insert(
                    format!("scans[{index}].list"),
                    vec!["is not a check-in list of this event".into()],
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    // Batches of one event run one at a time (PostgreSQL): two devices' batches touch the
    // same people in different orders, and would otherwise deadlock and be rerun.
    lock_for_seat_changes(conn, &event)?;
    let mut order: Vec<usize> = (0..batch.0.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&batch.0[a], &batch.0[b]);
        (a.time(now), &a.nonce).cmp(&(b.time(now), &b.nonce))
    });
    let mut results: Vec<Option<ScanResult>> = vec![None; batch.0.len()];
    for index in order {
        let result = apply(conn, &event, &visits, lists[index], scanner, &batch.0[index], now)?;
        results[index] = Some(result);
    }
    let results: Vec<ScanResult> = results.into_iter().flatten().collect();
    let count = |f: &dyn Fn(&ScanResult) -> bool| results.iter().filter(|r| f(r)).count();
    Ok(BatchResult {
        checked_in: count(&|r| r.outcome == Outcome::CheckedIn),
        conflicts: count(&|r| r.outcome == Outcome::AlreadyCheckedIn),
        replayed: count(&|r| r.replayed),
        results,
    })
}

/// A person's standing on a list, before any movement: `Ok` when the list expects them.
fn eligibility(
    row: &RegistrationRow,
    seat: Option<&str>,
    list: List<'_>,
) -> Result<(), (Outcome, Option<NotActiveReason>)> {
    match row.status {
        RegistrationStatus::Cancelled => Err((Outcome::NotActive, Some(NotActiveReason::Cancelled))),
        RegistrationStatus::Waitlisted => Err((Outcome::NotActive, Some(NotActiveReason::Waitlisted))),
        RegistrationStatus::Confirmed if list.expects(seat) => Ok(()),
        RegistrationStatus::Confirmed if seat.is_some() => Err((Outcome::WrongList, None)),
        RegistrationStatus::Confirmed => Err((Outcome::NotActive, Some(NotActiveReason::NoSeat))),
    }
}

fn apply(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    list: List<'_>,
    scanner: &Principal,
    scan: &Scan,
    now: NaiveDateTime,
) -> Result<ScanResult, DomainError> {
    if let Some(kept) = stored::find_scan(conn, &event.id, &scan.nonce)? {
        return replay(conn, event, visits, kept);
    }
    let scanned_at = scan.time(now);
    let scan_id = uuid::Uuid::now_v7().to_string();
    let named = match &scan.target {
        ScanTarget::Code(code) => stored::person_with_seat(conn, Named::CodeHash(&hash_secret(code)))?,
        // An erased registration's code finds nobody (its hash is gone); its id must not
        // find it either.
        ScanTarget::Registration(id) => stored::person_with_seat(conn, Named::Registration(id))?
            .filter(|(row, _)| row.erased_at.is_none()),
    }
    .filter(|(row, _)| row.event_id == event.id);
    let (person, seat) = named.map_or((None, None), |(row, seat)| (Some(row), seat));
    let (outcome, inserted) = match &person {
        None => (Outcome::UnknownCode, None),
        Some(row) => match eligibility(row, seat.as_deref(), list) {
            Err((outcome, _)) => (outcome, None),
            Ok(()) => move_person(conn, event, row, list, scan, scanned_at, &scan_id)?,
        },
    };
    let recorded = stored::insert_scan(
        conn,
        &NewScan {
            id: &scan_id,
            event_id: &event.id,
            nonce: &scan.nonce,
            registration_id: person.as_ref().map(|row| row.id.as_str()),
            site_visit_id: list.key(),
            direction: scan.direction.as_str(),
            outcome: outcome.as_str(),
            scanned_by: &scanner.token_id,
            scanned_by_name: &scanner.name,
            device: &scan.device,
            scanned_at,
            received_at: now,
        },
    )?;
    if !recorded {
        // The same nonce was recorded by a request that committed since the look-up
        // above (PostgreSQL): undo everything and run again, which replays it.
        return Err(DomainError::Storage(DbError::Conflict(
            "a scan with this nonce was recorded meanwhile".into(),
        )));
    }
    if let (Some(row), true) = (&person, outcome.moves()) {
        // Told to webhook receivers in the scan's transaction (ids and facts only).
        let data = json!({
            "list": list.label(),
            "direction": scan.direction.as_str(),
            "outcome": outcome.as_str(),
            "scanned_at": scanned_at.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true),
            "device": &scan.device,
        });
        webhooks::record(conn, event, EventType::CheckinRecorded, Some(&row.id), data, now)?;
    }
    // A check-in this scan wrote is known; any other is read as it stands now.
    let checkin = match (&person, inserted) {
        (_, Some(row)) => Some(row),
        (Some(row), None) => stored::find(conn, &row.id, list.key())?,
        (None, None) => None,
    };
    Ok(result(
        event,
        visits,
        Recorded {
            nonce: &scan.nonce,
            list,
            direction: scan.direction,
            outcome,
            replayed: false,
            scanned_at,
        },
        person.as_ref(),
        seat.as_deref(),
        checkin.as_ref(),
    ))
}

/// The movement of a person the list expects: the conditional writes of `store::checkins`,
/// each checked by whether it changed a row. With the outcome, the check-in when this
/// scan inserted it (the first scan in).
fn move_person(
    conn: &mut DbConnection,
    event: &EventRow,
    row: &RegistrationRow,
    list: List<'_>,
    scan: &Scan,
    scanned_at: NaiveDateTime,
    scan_id: &str,
) -> Result<(Outcome, Option<CheckinRow>), DomainError> {
    let key = list.key();
    Ok(match scan.direction {
        Direction::In => {
            let first = NewCheckin {
                registration_id: &row.id,
                site_visit_id: key,
                event_id: &event.id,
                checked_in_at: scanned_at,
                scan_id,
                device: &scan.device,
                inside: true,
                moved_at: scanned_at,
            };
            if stored::insert_checkin(conn, &first)? {
                (Outcome::CheckedIn, Some(CheckinRow::from(&first)))
            } else if scan.scanned_at.is_some()
                && stored::take_over_checkin(conn, &row.id, key, scanned_at, scan_id, &scan.device)?
            {
                // Only a scan that says when it was made can be earlier than the
                // recorded one; an online scan arrives after it by definition.
                (Outcome::CheckedIn, None)
            } else if stored::enter_again(conn, &row.id, key, scanned_at)? {
                (Outcome::ReEntered, None)
            } else {
                (Outcome::AlreadyCheckedIn, None)
            }
        }
        Direction::Out if stored::leave(conn, &row.id, key, scanned_at)? => (Outcome::CheckedOut, None),
        Direction::Out => (Outcome::NotInside, None),
    })
}

/// A scan seen before, as it stands now: nothing is written.
fn replay(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    kept: ScanRow,
) -> Result<ScanResult, DomainError> {
    let list = List::stored(visits, &kept.site_visit_id);
    let mut outcome = Outcome::parse(&kept.outcome).unwrap_or(Outcome::UnknownCode);
    let (person, seat, checkin) = match &kept.registration_id {
        Some(id) => {
            let person = registrations::find(conn, id)?;
            let seat = registrations::seat(conn, id)?;
            let checkin = stored::find(conn, id, &kept.site_visit_id)?;
            (person, seat, checkin)
        }
        None => (None, None, None),
    };
    if outcome == Outcome::CheckedIn && checkin.as_ref().is_some_and(|c| c.scan_id != kept.id) {
        // An earlier scan from another device arrived since: it is the check-in.
        outcome = Outcome::AlreadyCheckedIn;
    }
    let direction = if kept.direction == "out" {
        Direction::Out
    } else {
        Direction::In
    };
    Ok(result(
        event,
        visits,
        Recorded {
            nonce: &kept.nonce,
            list,
            direction,
            outcome,
            replayed: true,
            scanned_at: kept.scanned_at,
        },
        person.as_ref(),
        seat.as_deref(),
        checkin.as_ref(),
    ))
}

/// What a result says about its scan itself.
struct Recorded<'a, 'v> {
    nonce: &'a str,
    list: List<'v>,
    direction: Direction,
    outcome: Outcome,
    replayed: bool,
    scanned_at: NaiveDateTime,
}

fn result(
    event: &EventRow,
    visits: &[SiteVisitRow],
    scan: Recorded<'_, '_>,
    person: Option<&RegistrationRow>,
    seat: Option<&str>,
    checkin: Option<&CheckinRow>,
) -> ScanResult {
    let tz = event_timezone(event);
    let seat_visit = seat.and_then(|id| visits.iter().find(|v| v.id == id));
    let (belongs_to, reason) = match (scan.outcome, person) {
        (Outcome::WrongList, _) => (
            seat_visit.map(|visit| ListRef {
                list: List::visit(visit).label(),
                name: visit.name.clone(),
            }),
            None,
        ),
        (Outcome::NotActive, Some(row)) => (None, eligibility(row, seat, scan.list).err().and_then(|e| e.1)),
        _ => (None, None),
    };
    ScanResult {
        nonce: scan.nonce.to_owned(),
        list: scan.list.label(),
        direction: scan.direction,
        outcome: scan.outcome,
        replayed: scan.replayed,
        status: if scan.replayed { 200 } else { scan.outcome.status() },
        scanned_at: local_time(tz, scan.scanned_at),
        person: person.map(|row| PersonSummary {
            id: row.id.clone(),
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            organisation: row.organisation.clone(),
            country: row.country.clone(),
            country_name: country_name(&row.country).to_owned(),
            site_visit: seat_visit.map(|v| v.slug.clone()),
            site_visit_name: seat_visit.map(|v| v.name.clone()),
        }),
        checked_in_at: checkin.map(|c| local_time(tz, c.checked_in_at)),
        checked_in_device: checkin.map(|c| c.device.clone()),
        inside: checkin.is_some_and(|c| c.inside),
        belongs_to,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_scan_is_parsed_once_with_every_fault_named() {
        let scan = Scan::parse(object(json!({
            "code": "abcd efgh-ijkl mnop qrst", "list": "visit:tour", "direction": "in",
            "nonce": "0190-aaaa-bbbb", "scanned_at": "2030-06-02T13:30:00+02:00", "device": "gate 1"
        })))
        .unwrap();
        assert_eq!(scan.target, ScanTarget::Code("ABCDEFGHIJKLMNOPQRST".into()));
        assert_eq!(scan.list, ListName::Visit("tour".into()));
        assert_eq!(scan.direction, Direction::In);
        assert_eq!(scan.scanned_at.unwrap().to_string(), "2030-06-02 11:30:00");
        let Err(DomainError::Validation(errors)) = Scan::parse(object(json!({
            "code": "https://example.org", "list": "bus", "direction": "up", "nonce": "short",
            "scanned_at": "yesterday", "colour": "red"
        }))) else {
            panic!("accepted")
        };
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["code", "colour", "direction", "list", "nonce", "scanned_at"]
        );
    }

    #[test]
    fn a_scan_names_its_person_by_code_or_by_registration_never_both() {
        let by_id = Scan::parse(object(json!({
            "registration": "0190aaaa-0000-7000-8000-000000000001", "list": "entry",
            "direction": "in", "nonce": "nonce-0001"
        })))
        .unwrap();
        assert_eq!(
            by_id.target,
            ScanTarget::Registration("0190aaaa-0000-7000-8000-000000000001".into())
        );
        let both = json!({"registration": "r", "code": "ABCDEFGHIJKLMNOPQRST", "list": "entry", "direction": "in", "nonce": "nonce-0001"});
        let Err(DomainError::Validation(errors)) = Scan::parse(object(both.clone())) else {
            panic!("accepted {both}")
        };
        assert!(errors.contains_key("registration"), "{errors:?}");
        // A blank one is none, as forms send it.
        let blank_id = Scan::parse(object(json!({
            "registration": " ", "code": "ABCDEFGHIJKLMNOPQRST", "list": "entry",
            "direction": "in", "nonce": "nonce-0001"
        })))
        .unwrap();
        assert_eq!(blank_id.target, ScanTarget::Code("ABCDEFGHIJKLMNOPQRST".into()));
        let blank_code = Scan::parse(object(json!({
            "registration": "r", "code": "", "list": "entry", "direction": "in", "nonce": "nonce-0001"
        })))
        .unwrap();
        assert_eq!(blank_code.target, ScanTarget::Registration("r".into()));
        for neither in [
            json!({"list": "entry", "direction": "in", "nonce": "nonce-0001"}),
            json!({"registration": "", "code": "", "list": "entry", "direction": "in", "nonce": "nonce-0001"}),
        ] {
            let Err(DomainError::Validation(errors)) = Scan::parse(object(neither.clone())) else {
                panic!("accepted {neither}")
            };
            assert!(errors.contains_key("code"), "{errors:?}");
            assert_eq!(errors.len(), 1, "{errors:?}");
        }
    }

    #[test]
    fn a_batch_holds_one_to_a_thousand_scans() {
        let one = json!({"code": "ABCDEFGHIJKLMNOPQRST", "list": "entry", "direction": "in", "nonce": "nonce-0001"});
        assert_eq!(
            ScanBatch::parse(object(json!({"scans": [one]}))).unwrap().0.len(),
            1
        );
        for bad in [
            json!({}),
            json!({"scans": []}),
            json!({"scans": vec![one.clone(); BATCH_MAX + 1]}),
            json!({"scans": "all"}),
        ] {
            let Err(DomainError::Validation(errors)) = ScanBatch::parse(object(bad.clone())) else {
                panic!("accepted {bad}")
            };
            assert!(errors.contains_key("scans"), "{errors:?}");
        }
        let Err(DomainError::Validation(errors)) =
            ScanBatch::parse(object(json!({"scans": [one, {"code": "x"}, 3]})))
        else {
            panic!("accepted")
        };
        assert!(errors.contains_key("scans[1].code"), "{errors:?}");
        assert!(errors.contains_key("scans[1].nonce"), "{errors:?}");
        assert!(errors.contains_key("scans[2]"), "{errors:?}");
    }

    #[test]
    fn statuses_follow_outcomes() {
        assert_eq!(Outcome::CheckedIn.status(), 201);
        assert_eq!(Outcome::NotInside.status(), 200);
        assert_eq!(Outcome::WrongList.status(), 409);
        assert_eq!(Outcome::UnknownCode.status(), 404);
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
    }
}
