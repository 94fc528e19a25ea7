//! Registration questions (docs/questions.md): what an event asks its participants
//! beyond the fixed fields — closed shoes for the steel plant, a meal choice, the
//! dinner. A question is asked of everyone at registration, or, scoped to site visits,
//! of the people seated in one of them, through the manage link. Answers are personal
//! data (erased with the person) and may change until the event's `answers_close_at`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::country::CountryCode;
use super::error::{DomainError, FieldErrors};
use super::event_rules::event_timezone;
use super::input::Fields;
use crate::db::DbConnection;
use crate::i18n::Lang;
use crate::store::events::EventRow;
use crate::store::questions::{self, QuestionChanges, QuestionRow};
use crate::store::site_visits::SiteVisitRow;

/// A text answer's longest when the question says nothing.
pub const TEXT_MAX_DEFAULT: i32 = 500;
/// The longest any text answer may be.
pub const TEXT_MAX: i64 = 5000;
/// Most questions an event may have, and most choices a question may have.
pub const QUESTIONS_MAX: usize = 50;
pub const CHOICES_MAX: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// Free text, one or several lines (at most `max_length` characters).
    Text,
    /// A number, whole or decimal, optionally within `min`..`max`.
    Number,
    /// Yes or no. A required one must be answered yes: it is an acknowledgement.
    YesNo,
    /// One choice id.
    Choice,
    /// A list of choice ids, optionally `min`..`max` of them.
    Choices,
    /// An ISO 3166-1 alpha-2 code, checked like the registration's country.
    Country,
    /// `YYYY-MM-DD`, optionally within `min`..`max`.
    Date,
}

impl QuestionKind {
    pub const ALL: [Self; 7] = [
        Self::Text,
        Self::Number,
        Self::YesNo,
        Self::Choice,
        Self::Choices,
        Self::Country,
        Self::Date,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::YesNo => "yes_no",
            Self::Choice => "choice",
            Self::Choices => "choices",
            Self::Country => "country",
            Self::Date => "date",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether its answers fall in a few values worth counting per visit.
    pub fn is_countable(self) -> bool {
        matches!(self, Self::YesNo | Self::Choice | Self::Choices | Self::Country)
    }

    fn has_choices(self) -> bool {
        matches!(self, Self::Choice | Self::Choices)
    }
}

/// A choice of a `choice` or `choices` question: its stable id and its labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuestionChoice {
    pub id: String,
    pub en: String,
    pub fr: String,
}

impl QuestionChoice {
    pub fn label(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Fr => &self.fr,
        }
    }
}

/// Both languages of a label or a help text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Texts {
    pub en: String,
    pub fr: String,
}

impl Texts {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Fr => &self.fr,
        }
    }
}

/// A question as stored, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub id: String,
    pub kind: QuestionKind,
    pub required: bool,
    pub position: i32,
    /// Fixed at creation: the order of the answer columns in exports.
    pub column_order: i32,
    pub label: Texts,
    pub help: Texts,
    pub choices: Vec<QuestionChoice>,
    /// Site-visit ids; empty: asked of everyone at registration.
    pub site_visits: Vec<String>,
    /// Bounds of a number (any number), a date (`YYYY-MM-DD`) or a count of choices.
    pub min: Option<String>,
    pub max: Option<String>,
    pub max_length: Option<i32>,
}

impl Question {
    pub fn from_row(row: QuestionRow) -> Self {
        Self {
            kind: QuestionKind::parse(&row.kind).unwrap_or(QuestionKind::Text),
            required: row.required,
            position: row.position,
            column_order: row.column_order,
            label: Texts {
                en: row.label_en,
                fr: row.label_fr,
            },
            help: Texts {
                en: row.help_en,
                fr: row.help_fr,
            },
            choices: serde_json::from_str(&row.choices).unwrap_or_default(),
            site_visits: serde_json::from_str(&row.site_visits).unwrap_or_default(),
            min: row.min_value,
            max: row.max_value,
            max_length: row.max_length,
            id: row.id,
        }
    }

    /// Asked of everyone at registration (not scoped to site visits).
    pub fn is_event_wide(&self) -> bool {
        self.site_visits.is_empty()
    }

    /// Whether it is asked of a person seated in `seat` (a visit id), if any.
    pub fn applies_to(&self, seat: Option<&str>) -> bool {
        self.is_event_wide() || seat.is_some_and(|s| self.site_visits.iter().any(|v| v == s))
    }

    fn choice(&self, id: &str) -> Option<&QuestionChoice> {
        self.choices.iter().find(|c| c.id == id)
    }

    /// The answer as a person reads it: choice labels, yes/no, the value otherwise.
    pub fn display(&self, value: &Value, lang: Lang) -> String {
        match (self.kind, value) {
            (QuestionKind::YesNo, Value::Bool(yes)) => {
                let key = if *yes { "questions.yes" } else { "questions.no" };
                lang.text(key).unwrap_or_default().to_owned()
            }
            (QuestionKind::Choice, Value::String(id)) => {
                self.choice(id).map_or(id.clone(), |c| c.label(lang).to_owned())
            }
            (QuestionKind::Choices, Value::Array(ids)) => ids
                .iter()
                .filter_map(Value::as_str)
                .map(|id| self.choice(id).map_or(id, |c| c.label(lang)))
                .collect::<Vec<_>>()
                .join(", "),
            (_, Value::String(text)) => text.clone(),
            (_, other) => other.to_string(),
        }
    }

    /// The answer in an export cell: the choice ids (stable), `;`-joined for several;
    /// `yes`/`no`; the value otherwise.
    pub fn cell(&self, value: &Value) -> String {
        match value {
            Value::Bool(true) => "yes".into(),
            Value::Bool(false) => "no".into(),
            Value::String(text) => text.clone(),
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(";"),
            other => other.to_string(),
        }
    }

    /// The values an answer counts under, per visit (`yes`/`no`, choice ids, codes).
    pub fn counted_values(&self, value: &Value) -> Vec<String> {
        match value {
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            other => vec![self.cell(other)],
        }
    }

    /// Checks one submitted answer; `Ok(None)` is "no answer" (absent, null, blank, no
    /// choice ticked), which a required question refuses. The value kept is canonical
    /// JSON: a string, a number, a boolean or a list of choice ids. Messages are the
    /// domain's English fragments, which `Lang::field_error` puts into sentences.
    pub fn check(&self, value: Value) -> Result<Option<Value>, String> {
        let value = match value {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::Array(items) if self.kind != QuestionKind::Choices => {
                // A form's hidden `no` before its checkbox: the last value sent wins.
                items.into_iter().next_back()
            }
            other => Some(other),
        };
        let checked = match value {
            None => None,
            Some(value) => self.check_value(value)?,
        };
        match checked {
            None if self.required => Err("is required".into()),
            Some(Value::Bool(false)) if self.required => Err("must be answered yes".into()),
            other => Ok(other),
        }
    }

    fn check_value(&self, value: Value) -> Result<Option<Value>, String> {
        match self.kind {
            QuestionKind::Text => {
                let Value::String(text) = value else {
                    return Err("must be a string".into());
                };
                let text = text.trim();
                let max = self.max_length.unwrap_or(TEXT_MAX_DEFAULT) as usize;
                if text.chars().count() > max {
                    return Err(format!("must be at most {max} characters"));
                }
                if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                    return Err("must not contain control characters".into());
                }
                if text.chars().any(super::input::is_bidi_control) {
                    return Err("must not contain characters that change the text direction".into());
                }
                Ok(Some(Value::String(text.to_owned())))
            }
            QuestionKind::Number => {
                let number = match &value {
                    Value::Number(n) => n.as_f64().map(|f| (f, n.clone())),
                    Value::String(s) => parse_number(s),
                    _ => None,
                };
                let Some((f, number)) = number else {
                    return Err("must be a number".into());
                };
                if let Some(min) = self.min.as_deref().and_then(|m| m.parse::<f64>().ok()) {
                    if f < min {
                        return Err(format!(
                            "must be at least {}",
                            self.min.as_deref().unwrap_or_default()
                        ));
                    }
                }
                if let Some(max) = self.max.as_deref().and_then(|m| m.parse::<f64>().ok()) {
                    if f > max {
                        return Err(format!(
                            "must be at most {}",
                            self.max.as_deref().unwrap_or_default()
                        ));
                    }
                }
                Ok(Some(Value::Number(number)))
            }
            QuestionKind::YesNo => match value {
                Value::Bool(b) => Ok(Some(Value::Bool(b))),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "on" | "true" | "1" | "yes" => Ok(Some(Value::Bool(true))),
                    "off" | "false" | "0" | "no" => Ok(Some(Value::Bool(false))),
                    _ => Err("must be true or false".into()),
                },
                _ => Err("must be true or false".into()),
            },
            QuestionKind::Choice => {
                let Value::String(id) = value else {
                    return Err("must be one of the choices' ids".into());
                };
                let id = id.trim();
                match self.choice(id) {
                    Some(choice) => Ok(Some(Value::String(choice.id.clone()))),
                    None => Err(format!("`{id}` is not one of the choices")),
                }
            }
            QuestionKind::Choices => {
                let ids: Vec<String> = match value {
                    Value::String(one) => vec![one.trim().to_owned()],
                    Value::Array(items) => {
                        let mut ids = Vec::new();
                        for item in items {
                            match item {
                                Value::String(s) if s.trim().is_empty() => {}
                                Value::String(s) => ids.push(s.trim().to_owned()),
                                _ => return Err("must be a list of the choices' ids".into()),
                            }
                        }
                        ids
                    }
                    _ => return Err("must be a list of the choices' ids".into()),
                };
                for (index, id) in ids.iter().enumerate() {
                    if self.choice(id).is_none() {
                        return Err(format!("`{id}` is not one of the choices"));
                    }
                    if ids[..index].contains(id) {
                        return Err(format!("`{id}` is chosen more than once"));
                    }
                }
                if ids.is_empty() {
                    return Ok(None);
                }
                let count = ids.len() as i64;
                if let Some(min) = self.min.as_deref().and_then(|m| m.parse::<i64>().ok()) {
                    if count < min {
                        return Err(format!("must choose at least {min}"));
                    }
                }
                if let Some(max) = self.max.as_deref().and_then(|m| m.parse::<i64>().ok()) {
                    if count > max {
                        return Err(format!("must choose at most {max}"));
                    }
                }
                // Kept in the question's order, whatever order they were ticked in.
                let chosen = self
                    .choices
                    .iter()
                    .filter(|c| ids.contains(&c.id))
                    .map(|c| Value::String(c.id.clone()))
                    .collect();
                Ok(Some(Value::Array(chosen)))
            }
            QuestionKind::Country => {
                let Value::String(code) = value else {
                    return Err("must be a two-letter ISO 3166-1 country code, such as BE or IT".into());
                };
                let code = CountryCode::parse(&code)?;
                Ok(Some(Value::String(code.as_str().to_owned())))
            }
            QuestionKind::Date => {
                let Value::String(text) = value else {
                    return Err("must be a date as YYYY-MM-DD".into());
                };
                let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map_err(|_| "must be a date as YYYY-MM-DD".to_owned())?;
                let bound = |b: &Option<String>| {
                    b.as_deref()
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                };
                if let Some(min) = bound(&self.min) {
                    if date < min {
                        return Err(format!("must be on or after {min}"));
                    }
                }
                if let Some(max) = bound(&self.max) {
                    if date > max {
                        return Err(format!("must be on or before {max}"));
                    }
                }
                Ok(Some(Value::String(date.format("%Y-%m-%d").to_string())))
            }
        }
    }
}

/// A decimal written as text (a form value): `12`, `-3.5`, `1e3` are numbers; `NaN`,
/// `inf` and hexadecimal are not.
fn parse_number(text: &str) -> Option<(f64, Number)> {
    let text = text.trim();
    if let Ok(int) = text.parse::<i64>() {
        return Some((int as f64, Number::from(int)));
    }
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
    {
        return None;
    }
    let float = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
    Number::from_f64(float).map(|n| (float, n))
}

/// Answers a person sent, checked against the questions: `(question id, Some(value))`
/// to keep, `(question id, None)` to clear (an optional question answered with
/// nothing).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answers(pub Vec<(String, Option<Value>)>);

impl Answers {
    /// The values to store, as JSON text.
    pub fn stored(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(id, v)| v.as_ref().map(|v| (id.clone(), v.to_string())))
            .collect()
    }

    /// The questions answered with nothing.
    pub fn cleared(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// When answers are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerScope<'a> {
    /// A new registration: every event-wide question is asked (required ones must be
    /// answered); visit-scoped ones are not asked yet.
    Registration,
    /// A change through the manage link by a person seated in `seat` (a visit id):
    /// only the questions sent change.
    Change { seat: Option<&'a str> },
}

/// The field name of a question's answer in errors: `answers.meal`.
pub fn answer_field(id: &str) -> String {
    format!("answers.{id}")
}

/// Reads the body's `answers` object against the event's `questions`; errors are named
/// `answers.{id}`.
pub fn read_answers(fields: &mut Fields, questions: &[Question], scope: AnswerScope<'_>) -> Option<Answers> {
    let submitted = fields.take_object("answers");
    fields.nested("answers", submitted, |answers| {
        check_answers(answers, questions, scope)
    })
}

fn check_answers(fields: &mut Fields, questions: &[Question], scope: AnswerScope<'_>) -> Option<Answers> {
    let mut out = Vec::new();
    let mut failed = false;
    for question in questions {
        let asked = match scope {
            AnswerScope::Registration => question.is_event_wide(),
            AnswerScope::Change { seat } => question.applies_to(seat),
        };
        let sent = fields.contains(&question.id);
        if !asked {
            if sent {
                fields.take_raw(&question.id);
                fields.error(&question.id, "is asked once you hold a seat in its site visit");
                failed = true;
            }
            continue;
        }
        if !sent && matches!(scope, AnswerScope::Change { .. }) {
            continue; // a partial change: what is not sent stays as it is
        }
        let value = fields.take_raw(&question.id).unwrap_or(Value::Null);
        match question.check(value) {
            Ok(value) => out.push((question.id.clone(), value)),
            Err(message) => {
                fields.error(&question.id, message);
                failed = true;
            }
        }
    }
    (!failed).then_some(Answers(out))
}

/// The questions of an event, in the order they are asked.
pub fn list(conn: &mut DbConnection, event_id: &str) -> Result<Vec<Question>, DomainError> {
    Ok(questions::list(conn, event_id)?
        .into_iter()
        .map(Question::from_row)
        .collect())
}

/// Until when answers may change: the event's `answers_close_at`, else the start of its
/// first site visit, else the start of its first day (in its time zone).
pub fn answers_close_at(event: &EventRow, visits: &[SiteVisitRow]) -> NaiveDateTime {
    if let Some(at) = event.answers_close_at {
        return at;
    }
    if let Some(first) = visits.iter().map(|v| v.starts_at).min() {
        return first;
    }
    let tz = event_timezone(event);
    tz.from_local_datetime(&event.starts_on.and_time(NaiveTime::MIN))
        .earliest()
        .map_or_else(|| event.starts_on.and_time(NaiveTime::MIN), |t| t.naive_utc())
}

/// Writes a person's checked answers (and clears the ones answered with nothing).
pub fn save(
    conn: &mut DbConnection,
    registration_id: &str,
    event_id: &str,
    answers: &Answers,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    // Most registrations answer nothing (events without questions): no statement then.
    if answers.is_empty() {
        return Ok(());
    }
    let cleared = answers.cleared();
    if !cleared.is_empty() {
        questions::delete_answers(conn, registration_id, &cleared)?;
    }
    match questions::save_answers(conn, registration_id, event_id, &answers.stored(), now) {
        // A question removed since the answers were checked (the edge's rules are cached
        // for a moment).
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _,
        )) => Err(DomainError::invalid(
            "answers",
            "the event's questions changed meanwhile; send the answers again",
        )),
        other => Ok(other?),
    }
}

/// A question and the person's answer, as the manage link shows them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QuestionAnswer {
    pub id: String,
    pub kind: QuestionKind,
    pub required: bool,
    pub label: Texts,
    pub help: Texts,
    pub choices: Vec<QuestionChoice>,
    /// Slugs of the site visits it is asked for; empty: asked of everyone.
    pub site_visits: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i32>,
    /// The answer given (a string, number, boolean or list of choice ids); null: none.
    #[schema(value_type = Value)]
    pub answer: Option<Value>,
}

/// The questions that apply to a person, with their answers, and what is missing.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct AnswersView {
    pub questions: Vec<QuestionAnswer>,
    /// Ids of the required questions not answered yet.
    pub missing: Vec<String>,
    /// Until when the answers may change (in the event's time zone).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answers_close_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub answers_open: bool,
}

/// What [`answers_view`] needs to know of the person.
pub struct Person<'a> {
    pub registration_id: &'a str,
    /// The visit id they are seated in.
    pub seat: Option<&'a str>,
    pub active: bool,
}

pub fn answers_view(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    person: &Person<'_>,
    now: NaiveDateTime,
) -> Result<AnswersView, DomainError> {
    let questions = list(conn, &event.id)?;
    if questions.is_empty() {
        return Ok(AnswersView::default());
    }
    let given = questions::answers_of(conn, person.registration_id)?;
    let slug_of = |id: &String| visits.iter().find(|v| &v.id == id).map(|v| v.slug.clone());
    let mut view = AnswersView::default();
    for question in questions.into_iter().filter(|q| q.applies_to(person.seat)) {
        let answer = given
            .iter()
            .find(|(id, _)| *id == question.id)
            .and_then(|(_, v)| serde_json::from_str(v).ok());
        if question.required && answer.is_none() && person.active {
            view.missing.push(question.id.clone());
        }
        view.questions.push(QuestionAnswer {
            site_visits: question.site_visits.iter().filter_map(slug_of).collect(),
            id: question.id,
            kind: question.kind,
            required: question.required,
            label: question.label,
            help: question.help,
            choices: question.choices,
            min: question.min,
            max: question.max,
            max_length: question.max_length,
            answer,
        });
    }
    let close = answers_close_at(event, visits);
    view.answers_close_at = Some(super::event_rules::local_time(event_timezone(event), close));
    view.answers_open = now < close && person.active;
    Ok(view)
}

/// Changes some of a person's answers through the manage link: only the questions sent
/// change; the event's deadline and the person's seat decide what may be answered.
pub fn change_answers(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    registration_id: &str,
    seat: Option<&str>,
    submitted: Map<String, Value>,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    // Past the deadline nothing changes, whatever was sent.
    let close = answers_close_at(event, visits);
    if now >= close {
        let tz = event_timezone(event);
        return Err(DomainError::AnswersClosed(format!(
            "answers could be changed until {}; ask the organisers",
            super::event_rules::local_time(tz, close).to_rfc3339()
        )));
    }
    let questions = list(conn, &event.id)?;
    let mut fields = Fields::new(Map::from_iter([("answers".to_owned(), Value::Object(submitted))]));
    let answers = read_answers(&mut fields, &questions, AnswerScope::Change { seat });
    let answers = fields.finish(|| answers)?;
    save(conn, registration_id, &event.id, &answers, now)
}

/// Whether the person, seated in `seat`, has not answered every question of that visit
/// (the confirmation and update emails then ask them to).
pub fn visit_questions_pending(
    conn: &mut DbConnection,
    event_id: &str,
    registration_id: &str,
    seat: &str,
) -> Result<bool, DomainError> {
    let scoped: Vec<Question> = list(conn, event_id)?
        .into_iter()
        .filter(|q| !q.is_event_wide() && q.applies_to(Some(seat)))
        .collect();
    if scoped.is_empty() {
        return Ok(false);
    }
    let given = questions::answers_of(conn, registration_id)?;
    Ok(scoped.iter().any(|q| !given.iter().any(|(id, _)| *id == q.id)))
}

/// Question ids: lower-case letters, digits, `_` and `-`, starting with a letter (they
/// name form fields, JSON keys and export columns).
fn check_question_id(fields: &mut Fields, field: &str) -> Option<String> {
    let id = fields.required_text(field, 64)?;
    let valid = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Some(id)
    } else {
        fields.error(
            field,
            "must be lower-case letters, digits, `_` and `-`, starting with a letter",
        );
        None
    }
}

/// A question as an organiser describes it (event file or admin API).
#[derive(Clone, Debug, PartialEq)]
pub struct NewQuestion {
    pub id: String,
    pub kind: QuestionKind,
    pub required: bool,
    pub position: Option<i32>,
    pub label: Texts,
    pub help: Texts,
    pub choices: Vec<QuestionChoice>,
    /// Site-visit slugs.
    pub site_visits: Vec<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub max_length: Option<i32>,
}

/// `{en, fr}`: English required when `required`; French defaults to English.
fn read_texts(fields: &mut Fields, field: &str, required: bool, max: usize) -> Option<Texts> {
    let map = fields.take_object(field);
    if required && map.is_empty() && !fields.has_error(field) {
        fields.error(field, "is required (`{en, fr}`)");
        return None;
    }
    fields.nested(field, map, |texts| {
        let en = if required {
            texts.required_text("en", max)
        } else {
            Some(texts.optional_text("en", max).unwrap_or_default())
        };
        let fr = texts.optional_text("fr", max);
        en.map(|en| Texts {
            fr: fr.unwrap_or_else(|| en.clone()),
            en,
        })
    })
}

impl NewQuestion {
    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let question = Self::read(&mut fields);
        fields.finish(|| question)
    }

    pub fn read(fields: &mut Fields) -> Option<Self> {
        let id = check_question_id(fields, "id");
        let kind = fields.required_text("kind", 16).and_then(|k| {
            QuestionKind::parse(&k).or_else(|| {
                fields.error(
                    "kind",
                    "must be text, number, yes_no, choice, choices, country or date",
                );
                None
            })
        });
        let required = fields.flag("required").unwrap_or(false);
        let position = fields.optional_int("position", 0, 10_000).map(|p| p as i32);
        let label = read_texts(fields, "label", true, 300);
        let help = read_texts(fields, "help", false, 1000).unwrap_or_default();
        let choices = read_choices(fields, kind);
        let site_visits = fields.string_list("site_visits");
        let max_length = fields.optional_int("max_length", 1, TEXT_MAX).map(|n| n as i32);
        let (min, max) = read_bounds(fields, kind);
        if let Some(kind) = kind {
            if max_length.is_some() && kind != QuestionKind::Text {
                fields.error("max_length", "applies to text questions only");
            }
        }
        Some(Self {
            id: id?,
            kind: kind?,
            required,
            position,
            label: label?,
            help,
            choices: choices?,
            site_visits,
            min,
            max,
            max_length,
        })
    }

    /// The row fields a change writes (never the id, the kind or the column order).
    pub fn changes<'a>(
        &'a self,
        choices: &'a str,
        visit_ids: &'a str,
        position: i32,
        now: NaiveDateTime,
    ) -> QuestionChanges<'a> {
        QuestionChanges {
            position,
            required: self.required,
            label_en: &self.label.en,
            label_fr: &self.label.fr,
            help_en: &self.help.en,
            help_fr: &self.help.fr,
            choices,
            site_visits: visit_ids,
            min_value: self.min.as_deref(),
            max_value: self.max.as_deref(),
            max_length: self.max_length,
            updated_at: now,
        }
    }
}

fn read_choices(fields: &mut Fields, kind: Option<QuestionKind>) -> Option<Vec<QuestionChoice>> {
    let items = fields.take_list("choices");
    let Some(kind) = kind else {
        return Some(Vec::new());
    };
    if !kind.has_choices() {
        if !items.is_empty() {
            fields.error("choices", "apply to choice and choices questions only");
        }
        return Some(Vec::new());
    }
    if items.is_empty() {
        fields.error("choices", "must list at least one choice");
        return None;
    }
    if items.len() > CHOICES_MAX {
        fields.error("choices", format!("must list at most {CHOICES_MAX} choices"));
        return None;
    }
    let mut choices: Vec<QuestionChoice> = Vec::new();
    let mut ok = true;
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(map) = item else {
            fields.error(&format!("choices[{index}]"), "must be `{id, en, fr}`");
            ok = false;
            continue;
        };
        let choice = fields.nested(&format!("choices[{index}]"), map, |c| {
            let id = check_question_id(c, "id");
            let en = c.required_text("en", 200);
            let fr = c.optional_text("fr", 200);
            Some(QuestionChoice {
                id: id?,
                fr: fr.unwrap_or_else(|| en.clone().unwrap_or_default()),
                en: en?,
            })
        });
        match choice {
            Some(choice) if choices.iter().any(|c| c.id == choice.id) => {
                fields.error("choices", format!("`{}` appears more than once", choice.id));
                ok = false;
            }
            Some(choice) => choices.push(choice),
            None => ok = false,
        }
    }
    ok.then_some(choices)
}

/// `min` and `max`: numbers for a number, dates for a date, counts for choices.
fn read_bounds(fields: &mut Fields, kind: Option<QuestionKind>) -> (Option<String>, Option<String>) {
    let read = |fields: &mut Fields, name: &str| -> Option<(String, f64)> {
        if !fields.has_value(name) {
            fields.take_raw(name);
            return None;
        }
        let value = fields.take_raw(name)?;
        let kind = kind?;
        let parsed = match (kind, &value) {
            (QuestionKind::Number, Value::Number(n)) => n.as_f64().map(|f| (n.to_string(), f)),
            (QuestionKind::Number, Value::String(s)) => parse_number(s).map(|(f, n)| (n.to_string(), f)),
            (QuestionKind::Choices, v) => v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|n| (0..=CHOICES_MAX as i64).contains(n))
                .map(|n| (n.to_string(), n as f64)),
            (QuestionKind::Date, Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .ok()
                .map(|d| (d.format("%Y-%m-%d").to_string(), f64::from(d.num_days_from_ce()))),
            _ => {
                fields.error(name, "applies to number, date and choices questions only");
                return None;
            }
        };
        if parsed.is_none() {
            fields.error(
                name,
                match kind {
                    QuestionKind::Date => "must be a date as YYYY-MM-DD",
                    QuestionKind::Choices => "must be a whole number of choices",
                    _ => "must be a number",
                },
            );
        }
        parsed
    };
    let min = read(fields, "min");
    let max = read(fields, "max");
    if let (Some((_, low)), Some((_, high))) = (&min, &max) {
        if high < low {
            fields.error("max", "must not be below min");
        }
    }
    (min.map(|(s, _)| s), max.map(|(s, _)| s))
}

/// Creates or updates an event's questions from its file, by id; never deletes one
/// (people may have answered it). A question's kind never changes.
pub fn import_questions(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    file: &[NewQuestion],
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    for (index, question) in file.iter().enumerate() {
        let field = format!("questions[{index}]");
        let position = question.position.unwrap_or(index as i32);
        upsert(conn, event, visits, question, position, &field, now)?;
    }
    Ok(())
}

/// Visit ids for the question's visit slugs.
fn visit_ids(visits: &[SiteVisitRow], question: &NewQuestion, field: &str) -> Result<String, DomainError> {
    let mut ids = Vec::new();
    for slug in &question.site_visits {
        match visits.iter().find(|v| &v.slug == slug) {
            Some(v) => ids.push(v.id.clone()),
            None => {
                return Err(DomainError::invalid(
                    &format!("{field}site_visits"),
                    format!("`{slug}` is not a site visit of this event"),
                ))
            }
        }
    }
    Ok(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
}

/// Whether the question was created (else updated).
fn upsert(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    question: &NewQuestion,
    position: i32,
    field: &str,
    now: NaiveDateTime,
) -> Result<bool, DomainError> {
    let prefix = if field.is_empty() {
        String::new()
    } else {
        format!("{field}.")
    };
    let visit_ids = visit_ids(visits, question, &prefix)?;
    let choices = serde_json::to_string(&question.choices).unwrap_or_else(|_| "[]".into());
    match questions::find(conn, &event.id, &question.id)? {
        None => {
            if questions::list(conn, &event.id)?.len() >= QUESTIONS_MAX {
                return Err(DomainError::invalid(
                    &format!("{prefix}id"),
                    format!("an event has at most {QUESTIONS_MAX} questions"),
                ));
            }
            let row = QuestionRow {
                event_id: event.id.clone(),
                id: question.id.clone(),
                column_order: questions::next_column_order(conn, &event.id)?,
                position,
                kind: question.kind.as_str().to_owned(),
                required: question.required,
                label_en: question.label.en.clone(),
                label_fr: question.label.fr.clone(),
                help_en: question.help.en.clone(),
                help_fr: question.help.fr.clone(),
                choices,
                site_visits: visit_ids,
                min_value: question.min.clone(),
                max_value: question.max.clone(),
                max_length: question.max_length,
                created_at: now,
                updated_at: now,
            };
            questions::insert(conn, &row)?;
            Ok(true)
        }
        Some(existing) => {
            if existing.kind != question.kind.as_str() {
                return Err(DomainError::invalid(
                    &format!("{prefix}kind"),
                    format!(
                        "is `{}` and cannot change (add a question with a new id)",
                        existing.kind
                    ),
                ));
            }
            check_choices_kept(conn, event, &existing, &question.choices, &prefix)?;
            questions::update(
                conn,
                &event.id,
                &question.id,
                &question.changes(&choices, &visit_ids, position, now),
            )?;
            Ok(false)
        }
    }
}

/// A choice someone chose cannot be removed (their answer would point at nothing).
fn check_choices_kept(
    conn: &mut DbConnection,
    event: &EventRow,
    existing: &QuestionRow,
    choices: &[QuestionChoice],
    prefix: &str,
) -> Result<(), DomainError> {
    let before: Vec<QuestionChoice> = serde_json::from_str(&existing.choices).unwrap_or_default();
    let removed: Vec<String> = before
        .iter()
        .filter(|c| !choices.iter().any(|n| n.id == c.id))
        .map(|c| c.id.clone())
        .collect();
    if removed.is_empty() {
        return Ok(());
    }
    let in_use = questions::choices_in_use(conn, &event.id, &existing.id, &removed)?;
    if let Some(first) = in_use.first() {
        return Err(DomainError::invalid(
            &format!("{prefix}choices"),
            format!("`{first}` has been chosen and cannot be removed"),
        ));
    }
    Ok(())
}

/// Adds one question (admin API); an id the event already has is a field error.
pub fn add_question(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    question: &NewQuestion,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    if questions::find(conn, &event.id, &question.id)?.is_some() {
        return Err(DomainError::invalid("id", "is already taken"));
    }
    let position = match question.position {
        Some(p) => p,
        None => questions::list(conn, &event.id)?.len() as i32,
    };
    upsert(conn, event, visits, question, position, "", now).map(|_| ())
}

/// Every error of a list of questions read from an event file, by index.
pub fn read_file_questions(items: Vec<Value>, errors: &mut FieldErrors) -> Vec<NewQuestion> {
    let mut out: Vec<NewQuestion> = Vec::new();
    for (index, value) in items.into_iter().enumerate() {
        let prefix = format!("questions[{index}].");
        match value {
            Value::Object(map) => {
                let mut fields = Fields::with_prefix(map, &prefix);
                let question = NewQuestion::read(&mut fields);
                match fields.finish(|| question) {
                    Ok(question) if out.iter().any(|q| q.id == question.id) => {
                        errors
                            .entry("questions".into())
                            .or_default()
                            .push(format!("`{}` appears more than once", question.id));
                    }
                    Ok(question) => out.push(question),
                    Err(DomainError::Validation(e)) => errors.extend(e),
                    Err(_) => {}
                }
            }
            _ => {
                errors.insert(format!("questions[{index}]"), vec!["must be a table".into()]);
            }
        }
    }
    if out.len() > QUESTIONS_MAX {
        errors
            .entry("questions".into())
            .or_default()
            .push(format!("an event has at most {QUESTIONS_MAX} questions"));
    }
    out
}

/// A question as the admin API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QuestionDoc {
    pub id: String,
    pub kind: QuestionKind,
    pub required: bool,
    /// Where it is asked among the event's questions (lowest first).
    pub position: i32,
    /// Fixed at creation: the order of its column in the attendee export.
    pub column_order: i32,
    pub label: Texts,
    pub help: Texts,
    pub choices: Vec<QuestionChoice>,
    /// Slugs of the site visits whose seated people are asked; empty: everyone, at
    /// registration.
    pub site_visits: Vec<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub max_length: Option<i32>,
}

impl QuestionDoc {
    fn of(question: Question, visits: &[SiteVisitRow]) -> Self {
        Self {
            site_visits: question
                .site_visits
                .iter()
                .filter_map(|id| visits.iter().find(|v| &v.id == id).map(|v| v.slug.clone()))
                .collect(),
            id: question.id,
            kind: question.kind,
            required: question.required,
            position: question.position,
            column_order: question.column_order,
            label: question.label,
            help: question.help,
            choices: question.choices,
            min: question.min,
            max: question.max,
            max_length: question.max_length,
        }
    }

    /// The description it was made from, to lay a change over.
    fn to_body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("id".into(), Value::String(self.id.clone()));
        body.insert("kind".into(), Value::String(self.kind.as_str().into()));
        body.insert("required".into(), Value::Bool(self.required));
        body.insert("position".into(), Value::from(self.position));
        body.insert(
            "label".into(),
            serde_json::to_value(&self.label).unwrap_or_default(),
        );
        body.insert(
            "help".into(),
            serde_json::to_value(&self.help).unwrap_or_default(),
        );
        if self.kind.has_choices() {
            body.insert(
                "choices".into(),
                serde_json::to_value(&self.choices).unwrap_or_default(),
            );
        }
        body.insert(
            "site_visits".into(),
            serde_json::to_value(&self.site_visits).unwrap_or_default(),
        );
        for (name, value) in [("min", &self.min), ("max", &self.max)] {
            if let Some(value) = value {
                let value = match self.kind {
                    QuestionKind::Number => {
                        serde_json::from_str(value).unwrap_or(Value::String(value.clone()))
                    }
                    _ => Value::String(value.clone()),
                };
                body.insert(name.into(), value);
            }
        }
        if let Some(n) = self.max_length {
            body.insert("max_length".into(), Value::from(n));
        }
        body
    }
}

/// The event's questions as the admin API shows them, in the order they are asked.
pub fn list_docs(conn: &mut DbConnection, event_slug: &str) -> Result<Vec<QuestionDoc>, DomainError> {
    let (event, visits) = super::event_rules::find_event_with_visits(conn, event_slug)?;
    Ok(list(conn, &event.id)?
        .into_iter()
        .map(|q| QuestionDoc::of(q, &visits))
        .collect())
}

fn find_doc(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    id: &str,
) -> Result<QuestionDoc, DomainError> {
    let row = questions::find(conn, &event.id, id)?.ok_or(DomainError::NotFound("question"))?;
    Ok(QuestionDoc::of(Question::from_row(row), visits))
}

fn audit_question(
    conn: &mut DbConnection,
    event: &EventRow,
    actor: &str,
    action: &str,
    id: &str,
    (before, after): (Option<&QuestionDoc>, Option<&QuestionDoc>),
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let entry = super::audit::AuditEntry {
        event_id: Some(&event.id),
        actor,
        action,
        subject: Some(id),
        before: before.and_then(|d| serde_json::to_value(d).ok()),
        after: after.and_then(|d| serde_json::to_value(d).ok()),
    };
    super::audit::record(conn, entry, now)
}

/// Adds a question (admin API), audited.
pub fn create_question(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    question: &NewQuestion,
    now: NaiveDateTime,
) -> Result<QuestionDoc, DomainError> {
    let (event, visits) = super::event_rules::find_event_with_visits(conn, event_slug)?;
    add_question(conn, &event, &visits, question, now)?;
    let doc = find_doc(conn, &event, &visits, &question.id)?;
    audit_question(
        conn,
        &event,
        actor,
        "question.create",
        &question.id,
        (None, Some(&doc)),
        now,
    )?;
    Ok(doc)
}

/// Changes a question (admin API): the fields sent replace the current ones; `id` and
/// `kind` never change; a choice someone chose cannot be removed. Audited.
pub fn update_question(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    id: &str,
    change: Map<String, Value>,
    now: NaiveDateTime,
) -> Result<QuestionDoc, DomainError> {
    let (event, visits) = super::event_rules::find_event_with_visits(conn, event_slug)?;
    let before = find_doc(conn, &event, &visits, id)?;
    let mut errors = FieldErrors::new();
    for fixed in ["id", "kind"] {
        if let Some(value) = change.get(fixed) {
            let current = if fixed == "id" {
                before.id.as_str()
            } else {
                before.kind.as_str()
            };
            if value.as_str() != Some(current) {
                errors.insert(fixed.into(), vec![format!("cannot change (it is `{current}`)")]);
            }
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let mut body = before.to_body();
    body.extend(change);
    let question = NewQuestion::parse(body)?;
    let position = question.position.unwrap_or(before.position);
    upsert(conn, &event, &visits, &question, position, "", now)?;
    let after = find_doc(conn, &event, &visits, id)?;
    audit_question(
        conn,
        &event,
        actor,
        "question.update",
        id,
        (Some(&before), Some(&after)),
        now,
    )?;
    Ok(after)
}

/// Checks a change's fields on their own, before the question is looked up: unknown
/// fields and values of the wrong type are field errors whatever the question.
pub fn check_change(change: &Map<String, Value>) -> Result<(), DomainError> {
    let mut fields = Fields::new(change.clone());
    for fixed in ["id", "kind"] {
        fields.take_raw(fixed); // compared with the question's own later
    }
    fields.flag("required");
    fields.optional_int("position", 0, 10_000);
    for texts in ["label", "help"] {
        read_texts(&mut fields, texts, false, 1000);
    }
    if fields.contains("choices") {
        for (index, item) in fields.take_list("choices").into_iter().enumerate() {
            if !item.is_object() {
                fields.error(&format!("choices[{index}]"), "must be `{id, en, fr}`");
            }
        }
    }
    fields.string_list("site_visits");
    fields.take_raw("min");
    fields.take_raw("max");
    fields.optional_int("max_length", 1, TEXT_MAX);
    fields.finish(|| Some(()))
}

/// Deletes a question nobody answered (admin API); one with answers is refused: its
/// answers are data the organisers asked for. Audited.
pub fn delete_question(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<(), DomainError> {
    let (event, visits) = super::event_rules::find_event_with_visits(conn, event_slug)?;
    let before = find_doc(conn, &event, &visits, id)?;
    let answered = questions::count_answers(conn, &event.id, id)?;
    if answered > 0 {
        return Err(DomainError::QuestionInUse(format!(
            "{answered} people answered `{id}`; it cannot be deleted (make it optional, or relabel it)"
        )));
    }
    questions::delete(conn, &event.id, id)?;
    audit_question(
        conn,
        &event,
        actor,
        "question.delete",
        id,
        (Some(&before), None),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn question(kind: QuestionKind, required: bool) -> Question {
        Question {
            id: "q".into(),
            kind,
            required,
            position: 0,
            column_order: 1,
            label: Texts::default(),
            help: Texts::default(),
            choices: vec![
                QuestionChoice {
                    id: "veg".into(),
                    en: "Vegetarian".into(),
                    fr: "Végétarien".into(),
                },
                QuestionChoice {
                    id: "fish".into(),
                    en: "Fish".into(),
                    fr: "Poisson".into(),
                },
            ],
            site_visits: vec![],
            min: None,
            max: None,
            max_length: None,
        }
    }

    #[test]
    fn each_kind_keeps_a_canonical_value() {
        let q = |k| question(k, false);
        assert_eq!(q(QuestionKind::Number).check(json!("2.5")), Ok(Some(json!(2.5))));
        assert_eq!(q(QuestionKind::Number).check(json!("3")), Ok(Some(json!(3))));
        assert!(q(QuestionKind::Number).check(json!("NaN")).is_err());
        assert_eq!(
            q(QuestionKind::YesNo).check(json!(["no", "on"])),
            Ok(Some(json!(true)))
        );
        assert_eq!(q(QuestionKind::YesNo).check(json!("no")), Ok(Some(json!(false))));
        assert_eq!(
            q(QuestionKind::Choices).check(json!(["fish", "veg"])),
            Ok(Some(json!(["veg", "fish"])))
        );
        assert!(q(QuestionKind::Choices).check(json!(["veg", "veg"])).is_err());
        assert_eq!(q(QuestionKind::Choices).check(json!([])), Ok(None));
        assert_eq!(
            q(QuestionKind::Country).check(json!(" be ")),
            Ok(Some(json!("BE")))
        );
        assert_eq!(
            q(QuestionKind::Date).check(json!("2024-12-05")),
            Ok(Some(json!("2024-12-05")))
        );
        assert!(q(QuestionKind::Date).check(json!("05/12/2024")).is_err());
        assert_eq!(
            question(QuestionKind::YesNo, true).check(json!(false)),
            Err("must be answered yes".into())
        );
        assert_eq!(
            question(QuestionKind::Choice, true).check(json!("")),
            Err("is required".into())
        );
    }
}
