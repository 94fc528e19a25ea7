//! What the admin exports report: attendee counts by country and by site visit, and the
//! attendee list. The numbers are defined here once (their wording for admins is in
//! `docs/exports-and-data-protection.md`):
//!
//! - `registered`: active registrations (confirmed, or on the event waitlist);
//! - `assigned`: those holding a seat;
//! - `waitlisted` by country: active registrations without a seat that ranked at least
//!   one visit and still wait for one;
//! - `waitlisted` by visit: the event view's number (`catalog::event_view`), so that the
//!   export and the public page never disagree.
//!
//! `counts_from_rows` and `counts_by_country_from_rows`, the same numbers aggregated
//! from the rows, are reference implementations behind the `reference` feature: tests and
//! benches check the counters against them; the product does not carry them.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use chrono_tz::Tz;

use super::catalog::{self, EventView};
use super::checkin;
use super::country::country_name;
use super::error::DomainError;
use super::event_rules::{event_timezone, find_event_with_visits, local_time, seats_at_once};
use super::questions::Question;
use super::view::SeatStatus;
use crate::db::DbConnection;
use crate::store::events::EventRow;
use crate::store::registrations::{self, RegistrationStatus};
use crate::store::site_visits::SiteVisitRow;
use crate::store::{counts, exports, offers, queues};

/// The label of the row that adds up every other.
pub const TOTAL: &str = "TOTAL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountsBy {
    Country,
    SiteVisit,
}

impl CountsBy {
    pub const CHOICES: [&'static str; 2] = ["country", "site_visit"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "country" => Some(Self::Country),
            "site_visit" => Some(Self::SiteVisit),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Country => "country",
            Self::SiteVisit => "site_visit",
        }
    }
}

/// One line of the by-country table; `per_visit` follows [`CountryCounts::visits`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountryLine {
    /// ISO code, or [`TOTAL`].
    pub country: String,
    /// Empty on the total line.
    pub country_name: String,
    pub registered: i64,
    pub assigned: i64,
    pub waitlisted: i64,
    /// Open offers held by this country's people (seats held, not yet taken).
    pub offered: i64,
    /// Seats this country's people hold in each visit.
    pub per_visit: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountryCounts {
    pub event: String,
    /// Visit slugs in display order: the extra columns.
    pub visits: Vec<String>,
    /// Countries with at least one active registration, by code.
    pub lines: Vec<CountryLine>,
    pub total: CountryLine,
}

/// A by-visit line, as the counts JSON shows it too (`export::json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = VisitCountsLine)]
pub struct VisitLine {
    /// Slug, or [`TOTAL`] on the total line.
    pub site_visit: String,
    pub name: String,
    pub capacity: i64,
    pub assigned: i64,
    pub waitlisted: i64,
    pub seats_left: i64,
    /// Seats held as open offers (not in `assigned`, not in `seats_left`).
    pub offered: i64,
    /// Of the people seated (`assigned`), those checked in on the visit's list.
    pub checked_in: i64,
    /// Of the people seated, those not checked in once the visit's no-show deadline has
    /// passed (0 before it; docs/checkin.md).
    pub no_show: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitCounts {
    pub event: String,
    pub lines: Vec<VisitLine>,
    pub total: VisitLine,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Counts {
    ByCountry(CountryCounts),
    BySiteVisit(VisitCounts),
}

impl Counts {
    pub fn event(&self) -> &str {
        match self {
            Self::ByCountry(counts) => &counts.event,
            Self::BySiteVisit(counts) => &counts.event,
        }
    }

    pub fn by(&self) -> CountsBy {
        match self {
            Self::ByCountry(_) => CountsBy::Country,
            Self::BySiteVisit(_) => CountsBy::SiteVisit,
        }
    }
}

/// The counts of an event, read in one transaction (one snapshot) from the maintained
/// counters (`store::counts`): a few rows per country and visit, however many people.
pub fn counts(
    conn: &mut DbConnection,
    event_slug: &str,
    by: CountsBy,
    now: NaiveDateTime,
) -> Result<Counts, DomainError> {
    Ok(match by {
        CountsBy::Country => Counts::ByCountry(counts_by_country(conn, event_slug)?),
        CountsBy::SiteVisit => {
            let mut counts = visit_counts(catalog::event_view(conn, event_slug, now)?);
            add_checkins(conn, &mut counts, now)?;
            Counts::BySiteVisit(counts)
        }
    })
}

/// The check-in columns of the counts by visit: `checked_in` counted in SQL per visit,
/// `no_show` the seated people not checked in once the deadline has passed.
fn add_checkins(
    conn: &mut DbConnection,
    counts: &mut VisitCounts,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let (event, visits) = find_event_with_visits(conn, &counts.event)?;
    let tallies = checkin::visit_checkins(conn, &event, &visits, now)?;
    counts.total.checked_in = 0;
    counts.total.no_show = 0;
    for line in &mut counts.lines {
        let (checked_in, past_deadline) = tallies.get(&line.site_visit).copied().unwrap_or_default();
        line.checked_in = checked_in;
        line.no_show = if past_deadline {
            (line.assigned - checked_in).max(0)
        } else {
            0
        };
        counts.total.checked_in += line.checked_in;
        counts.total.no_show += line.no_show;
    }
    Ok(())
}

/// The same counts aggregated from the registrations' rows at read time (seconds for a
/// million people): what the counters must always equal, kept as the tests' oracle.
#[cfg(feature = "reference")]
pub fn counts_from_rows(
    conn: &mut DbConnection,
    event_slug: &str,
    by: CountsBy,
    now: NaiveDateTime,
) -> Result<Counts, DomainError> {
    exports::from_rows::plan_for_actual_event(conn)?;
    Ok(match by {
        CountsBy::Country => Counts::ByCountry(counts_by_country_from_rows(conn, event_slug)?),
        CountsBy::SiteVisit => {
            let mut counts = visit_counts(catalog::event_view_from_rows(conn, event_slug, now)?);
            add_checkins(conn, &mut counts, now)?;
            Counts::BySiteVisit(counts)
        }
    })
}

/// Counts by country from the counters: a country's own row gives `registered` and
/// `waitlisted`, its visit rows the seats it holds in each visit.
pub fn counts_by_country(conn: &mut DbConnection, event_slug: &str) -> Result<CountryCounts, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let column = visit_columns(&visits);
    let mut lines: BTreeMap<String, CountryLine> = BTreeMap::new();
    let width = visits.len();
    for row in counts::of_event(conn, &event.id)? {
        if row.site_visit_id == counts::COUNTRY_ROW {
            if row.registered != 0 || row.waitlisted != 0 {
                let line = country_line(&mut lines, &row.country, width);
                line.registered = row.registered;
                line.waitlisted = row.waitlisted;
            }
        } else if row.assigned != 0 {
            let line = country_line(&mut lines, &row.country, width);
            line.assigned += row.assigned;
            if let Some(&i) = column.get(row.site_visit_id.as_str()) {
                line.per_visit[i] = row.assigned;
            }
        }
    }
    add_offers(conn, &event.id, &mut lines, width)?;
    Ok(country_counts(event.slug, visits, lines))
}

/// Counts by country aggregated from the rows (the oracle of [`counts_by_country`]).
#[cfg(feature = "reference")]
pub fn counts_by_country_from_rows(
    conn: &mut DbConnection,
    event_slug: &str,
) -> Result<CountryCounts, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let column = visit_columns(&visits);
    let mut lines: BTreeMap<String, CountryLine> = BTreeMap::new();
    let width = visits.len();
    for (code, n) in exports::from_rows::registered_by_country(conn, &event.id)? {
        country_line(&mut lines, &code, width).registered = n;
    }
    for (code, visit, n) in exports::from_rows::seats_by_country(conn, &event.id)? {
        let line = country_line(&mut lines, &code, width);
        line.assigned += n;
        if let Some(&i) = column.get(visit.as_str()) {
            line.per_visit[i] = n;
        }
    }
    for (code, n) in exports::from_rows::waiting_by_country(conn, &event.id)? {
        country_line(&mut lines, &code, width).waitlisted = n;
    }
    add_offers(conn, &event.id, &mut lines, width)?;
    Ok(country_counts(event.slug, visits, lines))
}

/// The open offers by country: read from the offers themselves (only ever a few).
fn add_offers(
    conn: &mut DbConnection,
    event_id: &str,
    lines: &mut BTreeMap<String, CountryLine>,
    width: usize,
) -> Result<(), DomainError> {
    for (code, n) in offers::count_by_country(conn, event_id)? {
        country_line(lines, &code, width).offered = n;
    }
    Ok(())
}

fn visit_columns(visits: &[SiteVisitRow]) -> HashMap<&str, usize> {
    visits
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id.as_str(), i))
        .collect()
}

/// The lines in country order, and their TOTAL.
fn country_counts(
    event: String,
    visits: Vec<SiteVisitRow>,
    lines: BTreeMap<String, CountryLine>,
) -> CountryCounts {
    let lines: Vec<CountryLine> = lines.into_values().collect();
    let mut total = CountryLine {
        country: TOTAL.into(),
        per_visit: vec![0; visits.len()],
        ..CountryLine::default()
    };
    for line in &lines {
        total.registered += line.registered;
        total.assigned += line.assigned;
        total.waitlisted += line.waitlisted;
        total.offered += line.offered;
        for (sum, n) in total.per_visit.iter_mut().zip(&line.per_visit) {
            *sum += n;
        }
    }
    CountryCounts {
        event,
        visits: visits.into_iter().map(|v| v.slug).collect(),
        lines,
        total,
    }
}

fn country_line<'a>(
    lines: &'a mut BTreeMap<String, CountryLine>,
    code: &str,
    width: usize,
) -> &'a mut CountryLine {
    lines.entry(code.to_owned()).or_insert_with(|| CountryLine {
        country: code.to_owned(),
        country_name: country_name(code).to_owned(),
        per_visit: vec![0; width],
        ..CountryLine::default()
    })
}

/// The visits' numbers exactly as the event view shows them. The total's `waitlisted`
/// adds up the column: someone waiting for two visits counts in both.
fn visit_counts(view: EventView) -> VisitCounts {
    let lines: Vec<VisitLine> = view
        .site_visits
        .into_iter()
        .map(|v| VisitLine {
            site_visit: v.slug,
            name: v.name,
            capacity: v.capacity.into(),
            assigned: v.assigned.into(),
            waitlisted: v.waitlisted,
            seats_left: v.seats_left.into(),
            offered: v.offered.into(),
            // Filled by `add_checkins`, which reads the check-ins.
            checked_in: 0,
            no_show: 0,
        })
        .collect();
    let mut total = VisitLine {
        site_visit: TOTAL.into(),
        ..VisitLine::default()
    };
    for line in &lines {
        total.capacity += line.capacity;
        total.assigned += line.assigned;
        total.waitlisted += line.waitlisted;
        total.seats_left += line.seats_left;
        total.offered += line.offered;
    }
    VisitCounts {
        event: view.slug,
        lines,
        total,
    }
}

/// One line of the attendee list: what the person's own view would show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attendee {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub organisation: String,
    pub country: String,
    pub country_name: String,
    /// `confirmed`, or `waitlisted` for the event-wide waitlist.
    pub status: RegistrationStatus,
    pub event_waitlist_position: Option<i64>,
    /// The visit whose seat they hold, or the first choice they wait for.
    pub site_visit: Option<String>,
    pub seat_status: Option<SeatStatus>,
    /// Place on that visit's waitlist (when seats are given as people register).
    pub waitlist_position: Option<i64>,
    pub registered_at: DateTime<FixedOffset>,
    /// Checked in at the event's entrance.
    pub checked_in_at: Option<DateTime<FixedOffset>>,
    /// Checked in on the list of the visit whose seat they hold.
    pub visit_checked_in_at: Option<DateTime<FixedOffset>>,
    /// Seated, not checked in on the visit's list, past its no-show deadline.
    pub no_show: bool,
    /// One cell per question, in [`AttendeeCursor::answer_columns`]' order: the answer
    /// as [`Question::cell`] writes it; `None` when not answered or, for a question of
    /// site visits, when the person holds no seat in one of them.
    pub answers: Vec<Option<String>>,
}

/// Registrations per page of the attendee list: small enough to keep memory flat, large
/// enough that the per-page queries cost little.
pub const PAGE_SIZE: i64 = 1_000;

/// Reads the attendee list a page at a time, each page in its own short transaction.
///
/// Waitlist positions are read per page from the stored queues (`store::queues`: a
/// few rows per person, never a count of the queue), so each is exactly what the
/// person's own view shows. A registration that changes while a long export runs shows
/// the state its page was read in.
pub struct AttendeeCursor {
    event: EventRow,
    visits: Vec<SiteVisitRow>,
    tz: Tz,
    positions_apply: bool,
    after: Option<(NaiveDateTime, String)>,
    finished: bool,
    page_size: i64,
    /// The moment no-shows are judged at.
    now: NaiveDateTime,
    /// The event's questions by column order (docs/questions.md).
    questions: Vec<Question>,
}

impl AttendeeCursor {
    pub fn open(conn: &mut DbConnection, event_slug: &str) -> Result<Self, DomainError> {
        Self::open_at(conn, event_slug, super::now())
    }

    /// The list with no-shows judged at `now`.
    pub fn open_at(
        conn: &mut DbConnection,
        event_slug: &str,
        now: NaiveDateTime,
    ) -> Result<Self, DomainError> {
        let (event, visits) = find_event_with_visits(conn, event_slug)?;
        let mut questions = super::questions::list(conn, &event.id)?;
        // Creation order, never the asking order: columns never shift.
        questions.sort_by_key(|q| q.column_order);
        Ok(Self {
            questions,
            tz: event_timezone(&event),
            positions_apply: seats_at_once(&event),
            event,
            visits,
            after: None,
            finished: false,
            page_size: PAGE_SIZE,
            now,
        })
    }

    pub fn event_slug(&self) -> &str {
        &self.event.slug
    }

    /// The answer columns that follow the fixed ones: `q:{question id}`, in the order
    /// the questions were created (docs/questions.md#exports).
    pub fn answer_columns(&self) -> Vec<String> {
        self.questions.iter().map(|q| format!("q:{}", q.id)).collect()
    }

    /// How many lines the whole list has (for a progress bar).
    pub fn total(&self, conn: &mut DbConnection) -> Result<i64, DomainError> {
        Ok(exports::count_active(conn, &self.event.id)?)
    }

    /// The next page; empty once the list is done.
    pub fn next_page(&mut self, conn: &mut DbConnection) -> Result<Vec<Attendee>, DomainError> {
        if self.finished {
            return Ok(Vec::new());
        }
        let after = self.after.as_ref().map(|(t, id)| (*t, id.as_str()));
        let rows = exports::active_page(conn, &self.event.id, after, self.page_size)?;
        self.finished = (rows.len() as i64) < self.page_size;
        let Some(last) = rows.last() else {
            return Ok(Vec::new());
        };
        self.after = Some((last.created_at, last.id.clone()));
        self.lines(conn, rows)
    }

    /// The lines of the event's active registrations among `ids`, in registration order:
    /// a selection of the list, each line as the whole list has it.
    pub fn selection(&self, conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Attendee>, DomainError> {
        let rows = registrations::active_in_order(conn, &self.event.id, ids)?;
        self.lines(conn, rows)
    }

    fn lines(
        &self,
        conn: &mut DbConnection,
        rows: Vec<registrations::RegistrationRow>,
    ) -> Result<Vec<Attendee>, DomainError> {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let seats: HashMap<String, String> = registrations::seats_of(conn, &ids)?.into_iter().collect();
        let mut ranked: HashMap<String, Vec<String>> = HashMap::new();
        // Ordered by registration, then rank: each list is best first.
        for (id, _, visit) in registrations::preferences_of(conn, &ids)? {
            ranked.entry(id).or_default().push(visit);
        }
        let positions: HashMap<(String, String), i64> = queues::positions_of(conn, &ids)?
            .into_iter()
            .map(|(id, queue, position)| ((id, queue), position))
            .collect();
        let people: Vec<(String, Option<String>)> = ids
            .iter()
            .map(|id| (id.clone(), seats.get(id).cloned()))
            .collect();
        let checkins = checkin::person_checkins(conn, &self.event, &self.visits, &people, self.now)?;
        let mut given: HashMap<(String, String), String> = HashMap::new();
        if !self.questions.is_empty() {
            for (id, question, value) in crate::store::questions::answers_of_registrations(conn, &ids)? {
                given.insert((id, question), value);
            }
        }
        let none = Vec::new();
        Ok(rows
            .into_iter()
            .map(|row| {
                let seat = seats.get(&row.id).map(String::as_str);
                let ranked = ranked.get(&row.id).unwrap_or(&none);
                let checkins = checkins.get(&row.id).cloned().unwrap_or_default();
                let answers = self.answer_cells(&row.id, seat, &given);
                Attendee {
                    answers,
                    ..self.attendee(row, seat, ranked, &positions, checkins)
                }
            })
            .collect())
    }

    /// A person's answer cells; a visit's questions only while they are seated in it.
    fn answer_cells(
        &self,
        id: &str,
        seat: Option<&str>,
        given: &HashMap<(String, String), String>,
    ) -> Vec<Option<String>> {
        self.questions
            .iter()
            .map(|question| {
                if !question.applies_to(seat) {
                    return None;
                }
                given
                    .get(&(id.to_owned(), question.id.clone()))
                    .and_then(|value| serde_json::from_str(value).ok())
                    .map(|value| question.cell(&value))
            })
            .collect()
    }

    fn slug_of(&self, visit_id: &str) -> Option<String> {
        self.visits
            .iter()
            .find(|v| v.id == visit_id)
            .map(|v| v.slug.clone())
    }

    /// One person's line, as `view::registration_view` would show them (`positions`:
    /// by registration and queue, the page's places in the stored queues).
    fn attendee(
        &self,
        row: registrations::RegistrationRow,
        seat: Option<&str>,
        ranked: &[String],
        positions: &HashMap<(String, String), i64>,
        checkins: checkin::PersonCheckins,
    ) -> Attendee {
        let first_choice = ranked.first().map(String::as_str);
        let position_in = |queue: &str| positions.get(&(row.id.clone(), queue.to_owned())).copied();
        let mut event_waitlist_position = None;
        let (site_visit, seat_status, waitlist_position) = match (row.status, seat) {
            (RegistrationStatus::Waitlisted, _) => {
                event_waitlist_position = position_in(&self.event.id);
                let visit = first_choice.and_then(|v| self.slug_of(v));
                let status = visit.as_ref().map(|_| SeatStatus::Waitlisted);
                (visit, status, None)
            }
            (_, Some(visit)) => (self.slug_of(visit), Some(SeatStatus::Assigned), None),
            (RegistrationStatus::Confirmed, None) => {
                let position = first_choice
                    .filter(|_| self.positions_apply)
                    .and_then(position_in);
                match first_choice {
                    // An organiser took them out of every visit: they wait for none.
                    Some(visit) if row.auto_seat => {
                        (self.slug_of(visit), Some(SeatStatus::Waitlisted), position)
                    }
                    _ => (None, None, None),
                }
            }
            _ => (None, None, None),
        };
        Attendee {
            country_name: country_name(&row.country).to_owned(),
            registered_at: local_time(self.tz, row.created_at),
            checked_in_at: checkins.entry.map(|t| local_time(self.tz, t)),
            visit_checked_in_at: checkins.visit.map(|t| local_time(self.tz, t)),
            no_show: checkins.no_show,
            id: row.id,
            first_name: row.first_name,
            last_name: row.last_name,
            email: row.email,
            organisation: row.organisation,
            country: row.country,
            status: row.status,
            event_waitlist_position,
            site_visit,
            seat_status,
            waitlist_position,
            answers: Vec::new(),
        }
    }
}

/// Answers counted among the people seated in one site visit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct VisitAnswerCounts {
    pub site_visit: String,
    pub name: String,
    /// People seated in the visit (confirmed).
    pub seated: i64,
    pub questions: Vec<QuestionCounts>,
}

/// One countable question (yes/no, choice, choices, country) in one visit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct QuestionCounts {
    pub question: String,
    pub kind: super::questions::QuestionKind,
    /// Seated people who answered.
    pub answered: i64,
    /// Seated people who did not.
    pub unanswered: i64,
    /// Per value: `yes`/`no`, a choice id (every choice, 0 included), a country code.
    /// With `choices`, a person counts once per choice ticked.
    pub counts: Vec<ValueCount>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ValueCount {
    pub value: String,
    pub count: i64,
}

/// The answers of each visit's seated people, counted per value, for every countable
/// question asked of them (docs/questions.md#exports).
pub fn answer_counts_by_visit(
    conn: &mut DbConnection,
    event_slug: &str,
) -> Result<Vec<VisitAnswerCounts>, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let mut questions: Vec<Question> = super::questions::list(conn, &event.id)?
        .into_iter()
        .filter(|q| q.kind.is_countable())
        .collect();
    questions.sort_by_key(|q| q.column_order);
    let (answers, seated) = crate::store::questions::answers_by_visit(conn, &event.id)?;
    Ok(visits
        .iter()
        .map(|visit| {
            let seated = seated
                .iter()
                .find(|(id, _)| *id == visit.id)
                .map_or(0, |(_, n)| *n);
            let questions = questions
                .iter()
                .filter(|q| q.applies_to(Some(&visit.id)))
                .map(|question| {
                    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
                    let mut order: Vec<String> = match question.kind {
                        super::questions::QuestionKind::YesNo => vec!["yes".into(), "no".into()],
                        _ => question.choices.iter().map(|c| c.id.clone()).collect(),
                    };
                    let mut answered = 0;
                    for (_, _, value) in answers
                        .iter()
                        .filter(|(v, q, _)| *v == visit.id && *q == question.id)
                    {
                        let Ok(value) = serde_json::from_str::<serde_json::Value>(value) else {
                            continue;
                        };
                        answered += 1;
                        for counted in question.counted_values(&value) {
                            if !order.contains(&counted) {
                                order.push(counted.clone());
                            }
                            *counts.entry(counted).or_default() += 1;
                        }
                    }
                    if question.kind == super::questions::QuestionKind::Country {
                        order.sort();
                    }
                    QuestionCounts {
                        question: question.id.clone(),
                        kind: question.kind,
                        answered,
                        unanswered: (seated - answered).max(0),
                        counts: order
                            .into_iter()
                            .map(|value| ValueCount {
                                count: counts.get(&value).copied().unwrap_or(0),
                                value,
                            })
                            .collect(),
                    }
                })
                .collect();
            VisitAnswerCounts {
                site_visit: visit.slug.clone(),
                name: visit.name.clone(),
                seated,
                questions,
            }
        })
        .collect())
}
