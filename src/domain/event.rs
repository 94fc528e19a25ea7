//! Events and their site visits as admins describe them (API body or event file).

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use super::error::{DomainError, FieldErrors};
use super::identity::{self, IdentityField};
use super::input::{check_slug, Fields};
use super::questions::{read_file_questions, NewQuestion};
use super::registration::Email;
use crate::store::events::EventChanges;
use crate::store::site_visits::VisitDetails;

/// How seats are given (invariant 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignmentMode {
    /// A seat in the best-ranked visit with room is taken at registration.
    FirstCome,
    /// Ranks are collected; an organiser runs the allocation.
    Preferences,
}

impl AssignmentMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "first_come" => Some(Self::FirstCome),
            "preferences" => Some(Self::Preferences),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstCome => "first_come",
            Self::Preferences => "preferences",
        }
    }
}

pub const MAX_CAPACITY: i64 = 1_000_000;
/// Hours before a visit starts after which no seat is offered any more (given at once).
pub const DEFAULT_OFFER_CUTOFF_HOURS: i32 = 12;
/// Minutes after a visit's start after which its seated people who have not checked in
/// are no-shows (docs/checkin.md).
pub const DEFAULT_NO_SHOW_AFTER_MINUTES: i32 = 30;

#[derive(Clone, Debug)]
pub struct NewEvent {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub venue: String,
    pub contact_email: String,
    pub timezone: Tz,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub assignment_mode: AssignmentMode,
    pub registration_opens_at: Option<NaiveDateTime>,
    pub registration_closes_at: Option<NaiveDateTime>,
    pub max_preferences: i32,
    pub capacity: Option<i32>,
    /// Offers (docs/decisions.md, "Offers"): a freed seat is held this many hours for
    /// the next person in line; `None` gives it at once.
    pub offer_window_hours: Option<i32>,
    /// No offer runs past this many hours before its visit starts; after that, freed
    /// seats are given at once again.
    pub offer_cutoff_hours: i32,
    /// Check-in: minutes after a visit's start after which people seated in it who have
    /// not checked in on its list are no-shows.
    pub no_show_after_minutes: i32,
    /// Reminders: hours before each visit's own start (docs/messages.md#reminders),
    /// stored as `24,2`.
    pub reminder_hours: String,
    /// Until when participants may change their answers (docs/questions.md); `None`:
    /// the start of the first site visit.
    pub answers_close_at: Option<NaiveDateTime>,
}

impl NewEvent {
    /// The row fields this event writes, as of `now`.
    pub fn changes(&self, now: NaiveDateTime) -> EventChanges<'_> {
        EventChanges {
            name: &self.name,
            description: &self.description,
            venue: &self.venue,
            contact_email: &self.contact_email,
            timezone: self.timezone.name(),
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            assignment_mode: self.assignment_mode.as_str(),
            registration_opens_at: self.registration_opens_at,
            registration_closes_at: self.registration_closes_at,
            max_preferences: self.max_preferences,
            capacity: self.capacity,
            offer_window_hours: self.offer_window_hours,
            offer_cutoff_hours: self.offer_cutoff_hours,
            no_show_after_minutes: self.no_show_after_minutes,
            reminder_hours: &self.reminder_hours,
            answers_close_at: self.answers_close_at,
            updated_at: now,
        }
    }

    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let event = Self::read(&mut fields);
        fields.finish(|| event)
    }

    /// Reads the event's fields, leaving the others (an event file's `site_visits`).
    pub fn read(fields: &mut Fields) -> Option<Self> {
        let slug = check_slug(fields, "slug");
        let name = fields.required_text("name", 200);
        let description = fields.optional_text("description", 5000).unwrap_or_default();
        let venue = fields.optional_text("venue", 300).unwrap_or_default();
        let contact_email = fields.optional_text("contact_email", 254).unwrap_or_default();
        // Kept in the one spelling a relay delivers to, like participants' addresses.
        let contact_email = match Email::parse(&contact_email) {
            Ok(email) => email.as_str().to_owned(),
            Err(message) if !contact_email.is_empty() => {
                fields.error("contact_email", message);
                contact_email
            }
            Err(_) => contact_email,
        };
        let timezone = fields.required_text("timezone", 64).and_then(|tz| {
            tz.parse::<Tz>()
                .map_err(|_| fields.error("timezone", "must be an IANA time zone, e.g. Europe/Brussels"))
                .ok()
        });
        let starts_on = fields.required_date("starts_on");
        let ends_on = fields.required_date("ends_on");
        if let (Some(start), Some(end)) = (starts_on, ends_on) {
            if end < start {
                fields.error("ends_on", "must not be before starts_on");
            }
        }
        let assignment_mode =
            fields
                .optional_text("assignment_mode", 32)
                .map_or(Some(AssignmentMode::FirstCome), |mode| {
                    AssignmentMode::parse(&mode).or_else(|| {
                        fields.error("assignment_mode", "must be first_come or preferences");
                        None
                    })
                });
        let opens = fields.optional_time("registration_opens_at");
        let closes = fields.optional_time("registration_closes_at");
        if let (Some(open), Some(close)) = (opens, closes) {
            if close <= open {
                fields.error("registration_closes_at", "must be after registration_opens_at");
            }
        }
        let max_preferences = fields.optional_int("max_preferences", 1, 20).unwrap_or(3) as i32;
        let capacity = fields.optional_int("capacity", 0, MAX_CAPACITY).map(|c| c as i32);
        let offer_window_hours = fields
            .optional_int("offer_window_hours", 1, 24 * 14)
            .map(|h| h as i32);
        let offer_cutoff_hours = fields
            .optional_int("offer_cutoff_hours", 0, 24 * 14)
            .map_or(DEFAULT_OFFER_CUTOFF_HOURS, |h| h as i32);
        let no_show_after_minutes = fields
            .optional_int("no_show_after_minutes", 0, 24 * 60)
            .map_or(DEFAULT_NO_SHOW_AFTER_MINUTES, |m| m as i32);
        let reminder_hours = read_reminder_hours(fields);
        let answers_close_at = fields.optional_time("answers_close_at");
        Some(Self {
            slug: slug?,
            name: name?,
            description,
            venue,
            contact_email,
            timezone: timezone?,
            starts_on: starts_on?,
            ends_on: ends_on?,
            assignment_mode: assignment_mode?,
            registration_opens_at: opens,
            registration_closes_at: closes,
            max_preferences,
            capacity,
            offer_window_hours,
            offer_cutoff_hours,
            no_show_after_minutes,
            reminder_hours,
            answers_close_at,
        })
    }
}

/// Most reminder rules an event may have.
const REMINDERS_MAX: usize = 5;

/// `reminder_hours`: a list of whole hours (1 to 14 days) before each visit's start,
/// kept as `24,2` (largest first, each once).
fn read_reminder_hours(fields: &mut Fields) -> String {
    let mut hours: Vec<i64> = Vec::new();
    for value in fields.take_list("reminder_hours") {
        match value.as_i64() {
            Some(h) if (1..=24 * 14).contains(&h) => hours.push(h),
            _ => {
                fields.error("reminder_hours", "must be a list of whole hours from 1 to 336");
                return String::new();
            }
        }
    }
    hours.sort_unstable_by(|a, b| b.cmp(a));
    hours.dedup();
    if hours.len() > REMINDERS_MAX {
        fields.error(
            "reminder_hours",
            format!("must hold at most {REMINDERS_MAX} reminders"),
        );
    }
    hours.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

#[derive(Clone, Debug)]
pub struct NewSiteVisit {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub location: String,
    pub meeting_point: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub capacity: i32,
    pub position: Option<i32>,
    /// What to bring (said in reminders).
    pub bring: String,
    /// The identity fields the visit requires (docs/identity-data.md); empty: none.
    pub identity: Vec<IdentityField>,
}

impl NewSiteVisit {
    /// The descriptive row fields this visit writes at `position`, as of `now`.
    pub fn details(&self, position: i32, now: NaiveDateTime) -> VisitDetails<'_> {
        VisitDetails {
            name: &self.name,
            description: &self.description,
            location: &self.location,
            meeting_point: &self.meeting_point,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            position,
            updated_at: now,
            bring: &self.bring,
            identity: identity::required_to_json(&self.identity),
        }
    }

    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let visit = Self::read(&mut fields);
        fields.finish(|| visit)
    }

    fn read(fields: &mut Fields) -> Option<Self> {
        let slug = check_slug(fields, "slug");
        let name = fields.required_text("name", 200);
        let description = fields.optional_text("description", 5000).unwrap_or_default();
        let location = fields.optional_text("location", 300).unwrap_or_default();
        let meeting_point = fields.optional_text("meeting_point", 300).unwrap_or_default();
        let starts_at = fields.required_time("starts_at");
        let ends_at = fields.required_time("ends_at");
        if let (Some(start), Some(end)) = (starts_at, ends_at) {
            if end <= start {
                fields.error("ends_at", "must be after starts_at");
            }
        }
        let capacity = fields.required_int("capacity", 0, MAX_CAPACITY).map(|c| c as i32);
        let position = fields.optional_int("position", 0, 10_000).map(|p| p as i32);
        let bring = fields.optional_text("bring", 500).unwrap_or_default();
        let identity = match identity::parse_required(&fields.string_list("identity")) {
            Ok(required) => required,
            Err(message) => {
                fields.error("identity", message);
                Vec::new()
            }
        };
        Some(Self {
            slug: slug?,
            name: name?,
            description,
            location,
            meeting_point,
            starts_at: starts_at?,
            ends_at: ends_at?,
            capacity: capacity?,
            position,
            bring,
            identity,
        })
    }
}

/// An event file: the event's fields plus `[[site_visits]]`.
#[derive(Clone, Debug)]
pub struct EventFile {
    pub event: NewEvent,
    pub site_visits: Vec<NewSiteVisit>,
    /// `[[questions]]` (docs/questions.md).
    pub questions: Vec<NewQuestion>,
}

impl EventFile {
    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let visits_value = fields.take_list("site_visits");
        let questions_value = fields.take_list("questions");
        let event = NewEvent::read(&mut fields);
        let mut errors = FieldErrors::new();
        let mut site_visits = Vec::new();
        for (index, value) in visits_value.into_iter().enumerate() {
            let prefix = format!("site_visits[{index}].");
            match value {
                Value::Object(map) => {
                    let mut visit_fields = Fields::with_prefix(map, &prefix);
                    let visit = NewSiteVisit::read(&mut visit_fields);
                    match visit_fields.finish(|| visit) {
                        Ok(visit) => site_visits.push(visit),
                        Err(DomainError::Validation(e)) => errors.extend(e),
                        Err(other) => return Err(other),
                    }
                }
                _ => {
                    errors.insert(format!("site_visits[{index}]"), vec!["must be a table".into()]);
                }
            }
        }
        let questions = read_file_questions(questions_value, &mut errors);
        for question in &questions {
            for slug in &question.site_visits {
                if !site_visits.iter().any(|v| &v.slug == slug) {
                    errors
                        .entry(format!("questions.{}.site_visits", question.id))
                        .or_default()
                        .push(format!("`{slug}` is not a site visit of this file"));
                }
            }
        }
        for (index, visit) in site_visits.iter().enumerate() {
            if site_visits[..index].iter().any(|v| v.slug == visit.slug) {
                errors
                    .entry("site_visits".into())
                    .or_default()
                    .push(format!("`{}` appears more than once", visit.slug));
            }
        }
        match fields.finish(|| event) {
            Ok(event) if errors.is_empty() => Ok(Self {
                event,
                site_visits,
                questions,
            }),
            Ok(_) => Err(DomainError::Validation(errors)),
            Err(DomainError::Validation(mut e)) => {
                e.extend(errors);
                Err(DomainError::Validation(e))
            }
            Err(other) => Err(other),
        }
    }
}
