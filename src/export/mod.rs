//! Turning counts and attendee lists into the files admins open: CSV, XLSX and JSON.
//! Pure formatting: no database, no HTTP. Both spreadsheet formats go through
//! [`neutralise`], so a name like `=HYPERLINK(…)` or `x;=1+1` is shown, never run.

pub mod csv;
pub mod json;
pub mod xlsx;

use std::borrow::Cow;

use chrono::{NaiveDate, SecondsFormat};

use crate::domain::exports::{Attendee, CountryCounts, Counts, CountsBy, VisitCounts};
use crate::domain::view::SeatStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Xlsx,
}

impl Format {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// OWASP's advice against CSV/formula injection: a formula trigger (`=`, `+`, `-`, `@`,
/// a tab or a carriage return) where a spreadsheet may start a cell gets a `'` before it,
/// which spreadsheets show as text and never evaluate. A cell may start at the start of
/// the text, and also after a `;`, `,`, tab or line break inside it: a spreadsheet set to
/// another list separator (`;` in Belgian and French locales) splits the line there, so
/// `x;=1+1` would run `=1+1`. Double quotes right after such a separator are passed over
/// (a quote-aware reader takes them as the quoting of the field that starts there).
/// Numbers are written as numbers and are never touched.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    let is_trigger = |c: char| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r');
    let is_separator = |c: char| matches!(c, ';' | ',' | '\t' | '\r' | '\n');
    let mut at_field_start = true;
    let mut out: Option<String> = None;
    for (at, c) in text.char_indices() {
        if at_field_start && is_trigger(c) {
            out.get_or_insert_with(|| text[..at].to_owned()).push('\'');
        }
        if let Some(out) = out.as_mut() {
            out.push(c);
        }
        at_field_start = is_separator(c) || (at_field_start && c == '"');
    }
    out.map_or(Cow::Borrowed(text), Cow::Owned)
}

/// A cell of an exported table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(i64),
    Empty,
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Self::Number(n)
    }
}

impl From<Option<i64>> for Cell {
    fn from(n: Option<i64>) -> Self {
        n.map_or(Self::Empty, Self::Number)
    }
}

impl From<Option<String>> for Cell {
    fn from(text: Option<String>) -> Self {
        text.map_or(Self::Empty, Self::Text)
    }
}

/// A header and rows; `key_columns` stay in view when a spreadsheet scrolls sideways.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub key_columns: u16,
}

/// The counts as a table, `TOTAL` last. The fixed columns are those of DESIGN.md, then
/// `offered` (seats held as open offers); by visit, `checked_in` and `no_show`; by country, one column per visit (its slug)
/// follows: that country's seats there.
pub fn counts_table(counts: &Counts) -> Table {
    match counts {
        Counts::ByCountry(counts) => country_table(counts),
        Counts::BySiteVisit(counts) => visit_table(counts),
    }
}

fn country_table(counts: &CountryCounts) -> Table {
    let mut columns: Vec<String> = [
        "country",
        "country_name",
        "registered",
        "assigned",
        "waitlisted",
        "offered",
    ]
    .map(String::from)
    .into();
    columns.extend(counts.visits.iter().cloned());
    let rows = counts
        .lines
        .iter()
        .chain([&counts.total])
        .map(|line| {
            let mut row: Vec<Cell> = vec![
                line.country.as_str().into(),
                line.country_name.as_str().into(),
                line.registered.into(),
                line.assigned.into(),
                line.waitlisted.into(),
                line.offered.into(),
            ];
            row.extend(line.per_visit.iter().map(|n| Cell::Number(*n)));
            row
        })
        .collect();
    Table {
        columns,
        rows,
        key_columns: 2,
    }
}

fn visit_table(counts: &VisitCounts) -> Table {
    let columns = [
        "site_visit",
        "name",
        "capacity",
        "assigned",
        "waitlisted",
        "seats_left",
        "offered",
        "checked_in",
        "no_show",
    ]
    .map(String::from)
    .into();
    let rows = counts
        .lines
        .iter()
        .chain([&counts.total])
        .map(|line| {
            vec![
                line.site_visit.as_str().into(),
                line.name.as_str().into(),
                line.capacity.into(),
                line.assigned.into(),
                line.waitlisted.into(),
                line.seats_left.into(),
                line.offered.into(),
                line.checked_in.into(),
                line.no_show.into(),
            ]
        })
        .collect();
    Table {
        columns,
        rows,
        key_columns: 1,
    }
}

/// The attendee list's columns, in order.
pub const ATTENDEE_COLUMNS: [&str; 16] = [
    "id",
    "first_name",
    "last_name",
    "email",
    "organisation",
    "country",
    "country_name",
    "status",
    "event_waitlist_position",
    "site_visit",
    "seat_status",
    "waitlist_position",
    "registered_at",
    "checked_in_at",
    "visit_checked_in_at",
    "no_show",
];

pub fn attendee_cells(attendee: &Attendee) -> Vec<Cell> {
    let seat_status = attendee.seat_status.map(|status| match status {
        SeatStatus::Assigned => "assigned".to_owned(),
        SeatStatus::Waitlisted => "waitlisted".to_owned(),
    });
    vec![
        attendee.id.as_str().into(),
        attendee.first_name.as_str().into(),
        attendee.last_name.as_str().into(),
        attendee.email.as_str().into(),
        attendee.organisation.as_str().into(),
        attendee.country.as_str().into(),
        attendee.country_name.as_str().into(),
        attendee.status.as_str().into(),
        attendee.event_waitlist_position.into(),
        attendee.site_visit.clone().into(),
        seat_status.into(),
        attendee.waitlist_position.into(),
        // To the second: sub-second digits only clutter a spreadsheet.
        attendee
            .registered_at
            .to_rfc3339_opts(SecondsFormat::Secs, false)
            .into(),
        attendee
            .checked_in_at
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
            .into(),
        attendee
            .visit_checked_in_at
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
            .into(),
        if attendee.no_show { "yes" } else { "" }.into(),
    ]
    .into_iter()
    .chain(attendee.answers.iter().map(|answer| answer.clone().into()))
    .collect()
}

/// The answer counts per visit as one long table: a line per visit, question and value,
/// each carrying the question's `answered` and `unanswered` (docs/questions.md#exports).
pub fn answer_counts_table(visits: &[crate::domain::exports::VisitAnswerCounts]) -> Table {
    let columns = [
        "site_visit",
        "name",
        "seated",
        "question",
        "answered",
        "unanswered",
        "value",
        "count",
    ]
    .map(String::from)
    .into();
    let mut rows = Vec::new();
    for visit in visits {
        for question in &visit.questions {
            for value in &question.counts {
                rows.push(vec![
                    visit.site_visit.as_str().into(),
                    visit.name.as_str().into(),
                    visit.seated.into(),
                    question.question.as_str().into(),
                    question.answered.into(),
                    question.unanswered.into(),
                    value.value.as_str().into(),
                    value.count.into(),
                ]);
            }
        }
    }
    Table {
        columns,
        rows,
        key_columns: 1,
    }
}

/// `{event}-counts-by-country-2024-11-04.csv`, `{event}-attendees-2024-11-04.xlsx`: the
/// event and the day of the export, so that successive downloads do not collide.
/// Event slugs are lower-case letters, digits and dashes, safe in a header as they are.
pub fn file_name(event: &str, what: &str, day: NaiveDate, format: Format) -> String {
    format!("{event}-{what}-{day}.{}", format.extension())
}

pub fn counts_file_name(event: &str, by: CountsBy, day: NaiveDate, format: Format) -> String {
    let what = match by {
        CountsBy::Country => "counts-by-country",
        CountsBy::SiteVisit => "counts-by-site-visit",
    };
    file_name(event, what, day, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_triggers_are_neutralised_and_nothing_else() {
        for risky in ["=1+1", "+33 1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(risky), format!("'{risky}"));
        }
        for safe in [
            "Łobocka",
            "a=b",
            "",
            " =1",
            "'quoted",
            "O'Brien",
            "Łobocka-Müller",
            "x; y",
            "1,5",
        ] {
            assert_eq!(neutralise(safe), safe);
            assert!(matches!(neutralise(safe), Cow::Borrowed(_)), "nothing copied");
        }
    }

    #[test]
    fn a_trigger_after_a_separator_is_neutralised_too() {
        for (risky, expected) in [
            ("x;=1+1", "x;'=1+1"),
            ("x,+1", "x,'+1"),
            ("x\t@SUM(A1)", "x\t'@SUM(A1)"),
            ("no nuts\n-2", "no nuts\n'-2"),
            ("a;\t=1", "a;'\t'=1"),
            ("=1;=2", "'=1;'=2"),
            ("a;\"=1", "a;\"'=1"),
            ("a;\"\"=1", "a;\"\"'=1"),
        ] {
            assert_eq!(neutralise(risky), expected, "{risky:?}");
        }
        // A quote elsewhere is text.
        assert_eq!(neutralise("a\"=1"), "a\"=1");
    }

    #[test]
    fn file_names_carry_event_kind_and_day() {
        let day = NaiveDate::from_ymd_opt(2024, 11, 4).unwrap();
        assert_eq!(
            counts_file_name("cmr", CountsBy::SiteVisit, day, Format::Xlsx),
            "cmr-counts-by-site-visit-2024-11-04.xlsx"
        );
        assert_eq!(
            file_name("cmr", "attendees", day, Format::Csv),
            "cmr-attendees-2024-11-04.csv"
        );
    }
}
