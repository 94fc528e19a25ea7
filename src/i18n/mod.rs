//! The two languages of everything a participant or an organiser reads on a page:
//! English and French (the founding event is in Wallonia). Page texts live in one table, [`TEXTS`], each key with both
//! languages side by side, so a missing translation shows in review; emails have one
//! template set per language (`templates/email/` and `templates/email/fr/`), because
//! they are prose. Dates are written here, not with the platform locale.

mod texts;

pub use texts::TEXTS;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Weekday};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    /// The BCP 47 code: the `lang` attribute, the `?lang=` switch, the stored column.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }

    /// Its own name, for the language switch.
    pub fn name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Fr => "Français",
        }
    }

    /// An exact code (`en`, `fr`, any case); anything else is not a language we have.
    pub fn parse(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "fr" => Some(Self::Fr),
            _ => None,
        }
    }

    /// The best of our languages for an `Accept-Language` header (RFC 9110 §12.5.4):
    /// the highest-weighted range that one of them matches (`fr-BE` matches `fr`); `*`
    /// and unknown ranges give nothing, so the caller's default applies.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(f32, usize, Self)> = None;
        for (index, item) in header.split(',').enumerate() {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim();
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = range.split('-').next().unwrap_or("");
            let Some(lang) = Self::parse(primary) else {
                continue;
            };
            // Ties go to the range listed first.
            if weight > 0.0 && best.is_none_or(|(w, _, _)| weight > w) {
                best = Some((weight, index, lang));
            }
        }
        best.map(|(_, _, lang)| lang)
    }

    /// The text of `key` in this language.
    pub fn text(self, key: &str) -> Option<&'static str> {
        TEXTS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, en, fr)| match self {
                Self::En => *en,
                Self::Fr => *fr,
            })
    }

    /// Whether a count of `n` takes the singular form: English for 1 only, French for
    /// 0 and 1 ("0 place restante").
    pub fn is_singular(self, n: i64) -> bool {
        match self {
            Self::En => n == 1,
            Self::Fr => n.abs() <= 1,
        }
    }

    /// The text of `key` with each `{name}` of `values` filled in: the page texts that
    /// code writes (flash messages, labels built in Rust), as `t()` does in templates.
    /// A key missing from [`TEXTS`] is a bug: it fails in debug builds (the page tests
    /// find it) and shows as the key itself in release builds.
    pub fn fill(self, key: &str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
        let Some(text) = self.text(key) else {
            debug_assert!(false, "no page text `{key}`");
            return key.to_owned();
        };
        values.iter().fold(text.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), &value.to_string())
        })
    }

    /// [`Lang::fill`] of the `.one` or `.other` form of `key` for the count `n`, which
    /// fills `{n}`.
    pub fn count(self, key: &str, n: i64, values: &[(&str, &dyn std::fmt::Display)]) -> String {
        let form = if self.is_singular(n) { "one" } else { "other" };
        let mut all: Vec<(&str, &dyn std::fmt::Display)> = vec![("n", &n)];
        all.extend_from_slice(values);
        self.fill(&format!("{key}.{form}"), &all)
    }

    /// "1st choice", "2e choix"…
    pub fn choice_label(self, rank: usize) -> String {
        match (self, rank) {
            (Self::En, 1) => "1st choice".into(),
            (Self::En, 2) => "2nd choice".into(),
            (Self::En, 3) => "3rd choice".into(),
            (Self::En, n) => format!("{n}th choice"),
            (Self::Fr, 1) => "1er choix".into(),
            (Self::Fr, n) => format!("{n}e choix"),
        }
    }

    fn weekday(self, day: Weekday) -> &'static str {
        let index = day.num_days_from_monday() as usize;
        match self {
            Self::En => [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday",
            ][index],
            Self::Fr => [
                "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
            ][index],
        }
    }

    fn month(self, month: u32) -> &'static str {
        let index = month.saturating_sub(1) as usize % 12;
        match self {
            Self::En => [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ][index],
            Self::Fr => [
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ][index],
        }
    }

    /// "5 December 2024" / "5 décembre 2024" (French writes the 1st as "1er").
    pub fn date(self, date: NaiveDate) -> String {
        let day = match (self, date.day()) {
            (Self::Fr, 1) => "1er".to_owned(),
            (_, day) => day.to_string(),
        };
        format!("{day} {} {}", self.month(date.month()), date.year())
    }

    /// "5 Dec 2024" / "5 déc. 2024": a date where room is short (a chart's axis).
    pub fn short_date(self, date: NaiveDate) -> String {
        let index = date.month0() as usize % 12;
        let (day, month) = match self {
            Self::En => (
                date.day().to_string(),
                [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
                ][index],
            ),
            Self::Fr => (
                match date.day() {
                    1 => "1er".to_owned(),
                    day => day.to_string(),
                },
                [
                    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
                    "nov.", "déc.",
                ][index],
            ),
        };
        format!("{day} {month} {}", date.year())
    }

    /// "Thursday 5 December 2024" / "jeudi 5 décembre 2024".
    pub fn day(self, date: NaiveDate) -> String {
        format!("{} {}", self.weekday(date.weekday()), self.date(date))
    }

    /// "4–5 December 2024", or both dates in full when the months differ.
    pub fn date_range(self, starts: NaiveDate, ends: NaiveDate) -> String {
        if starts == ends {
            self.date(starts)
        } else if (starts.year(), starts.month()) == (ends.year(), ends.month()) {
            let first = match (self, starts.day()) {
                (Self::Fr, 1) => "1er".to_owned(),
                (_, day) => day.to_string(),
            };
            format!("{first}–{}", self.date(ends))
        } else {
            format!("{} – {}", self.date(starts), self.date(ends))
        }
    }

    /// "Thursday 5 December 2024, 13:30–17:30", in the times' own offset.
    pub fn time_range(self, starts: DateTime<FixedOffset>, ends: DateTime<FixedOffset>) -> String {
        let clock = |t: DateTime<FixedOffset>| format!("{:02}:{:02}", t.hour(), t.minute());
        format!(
            "{}, {}–{}",
            self.day(starts.date_naive()),
            clock(starts),
            clock(ends)
        )
    }

    /// "Thursday 5 December 2024 at 09:00" / "jeudi 5 décembre 2024 à 09:00".
    pub fn moment(self, at: DateTime<FixedOffset>) -> String {
        let word = match self {
            Self::En => "at",
            Self::Fr => "à",
        };
        format!(
            "{} {word} {:02}:{:02}",
            self.day(at.date_naive()),
            at.hour(),
            at.minute()
        )
    }

    /// [`Lang::moment`] with its UTC offset, for a deadline read from anywhere:
    /// "Thursday 5 December 2024 at 09:00 (UTC+01:00)".
    pub fn moment_with_offset(self, at: DateTime<FixedOffset>) -> String {
        format!("{} (UTC{})", self.moment(at), at.format("%:z"))
    }

    /// A domain validation message (English fragments such as "is required") as a
    /// sentence a person reads next to the field, in this language. Messages the table
    /// does not know are shown as they are in English, and as a generic sentence in
    /// French.
    pub fn field_error(self, message: &str) -> String {
        let between = |prefix: &str, suffix: &str| {
            message
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
                .map(str::to_owned)
        };
        let (key, n) = if message == "is required" {
            ("error.required", None)
        } else if message == "must be a valid email address" {
            ("error.email", None)
        } else if let Some(n) = between("must be at most ", " characters") {
            ("error.too_long", Some(n))
        } else if message == "must not contain control characters" {
            ("error.control", None)
        } else if message.starts_with("must be a two-letter ISO 3166-1")
            || message.ends_with("is not an ISO 3166-1 country code")
        {
            ("error.country", None)
        } else if let Some(n) = between("may rank at most ", " site visits") {
            ("error.too_many_choices", Some(n))
        } else if message.ends_with("is not a site visit of this event") {
            ("error.unknown_visit", None)
        } else if message.ends_with("is ranked more than once") {
            ("error.ranked_twice", None)
        } else if message == "must be given to register" {
            ("error.consent", None)
        } else if message == "must be a whole number" {
            ("error.whole_number", None)
        } else if message == "must be answered yes" {
            ("error.must_be_yes", None)
        } else if message.ends_with("is not one of the choices") {
            ("error.unknown_choice", None)
        } else if message.ends_with("is chosen more than once") {
            ("error.chosen_twice", None)
        } else if message == "must be a number" {
            ("error.number", None)
        } else if let Some(n) = message.strip_prefix("must choose at least ") {
            ("error.choose_at_least", Some(n.to_owned()))
        } else if let Some(n) = message.strip_prefix("must choose at most ") {
            ("error.choose_at_most", Some(n.to_owned()))
        } else if let Some(n) = message.strip_prefix("must be at least ") {
            ("error.at_least", Some(n.to_owned()))
        } else if let Some(n) = message.strip_prefix("must be at most ") {
            ("error.at_most", Some(n.to_owned()))
        } else if message == "must be a date as YYYY-MM-DD" {
            ("error.date", None)
        } else if let Some(n) = message.strip_prefix("must be on or after ") {
            ("error.date_from", Some(n.to_owned()))
        } else if let Some(n) = message.strip_prefix("must be on or before ") {
            ("error.date_until", Some(n.to_owned()))
        } else if message == "is asked once you hold a seat in its site visit" {
            ("error.not_asked_yet", None)
        } else {
            return match self {
                Self::En => capitalise(message),
                Self::Fr => self.text("error.other").unwrap_or_default().to_owned(),
            };
        };
        let text = self.text(key).unwrap_or_default();
        match n {
            Some(n) => text.replace("{n}", &n),
            None => text.to_owned(),
        }
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_weighted_language_we_have() {
        assert_eq!(
            Lang::from_accept_language("fr-BE,fr;q=0.9,en;q=0.8"),
            Some(Lang::Fr)
        );
        assert_eq!(
            Lang::from_accept_language("de-DE, en;q=0.5, fr;q=0.7"),
            Some(Lang::Fr)
        );
        assert_eq!(Lang::from_accept_language("nl, en-GB;q=0.9"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("fr;q=0, en;q=0.1"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("de, *;q=0.5"), None);
        assert_eq!(Lang::from_accept_language(""), None);
        assert_eq!(Lang::from_accept_language("en, fr"), Some(Lang::En));
    }

    #[test]
    fn every_text_has_both_languages_and_keys_are_unique() {
        for (index, (key, en, fr)) in TEXTS.iter().enumerate() {
            assert!(!en.is_empty() && !fr.is_empty(), "{key}");
            assert!(
                TEXTS[..index].iter().all(|(k, _, _)| k != key),
                "{key} is listed twice"
            );
            let placeholders = |text: &str| {
                let mut names: Vec<String> = text
                    .split('{')
                    .skip(1)
                    .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
                    .collect();
                names.sort();
                names
            };
            assert_eq!(
                placeholders(en),
                placeholders(fr),
                "{key}: both languages fill the same values"
            );
        }
    }

    #[test]
    fn dates_are_written_in_each_language() {
        let day = NaiveDate::from_ymd_opt(2024, 12, 5).unwrap();
        assert_eq!(Lang::En.day(day), "Thursday 5 December 2024");
        assert_eq!(Lang::Fr.day(day), "jeudi 5 décembre 2024");
        let first = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        assert_eq!(Lang::Fr.date(first), "1er mars 2025");
        let starts = NaiveDate::from_ymd_opt(2024, 12, 4).unwrap();
        assert_eq!(Lang::En.date_range(starts, day), "4–5 December 2024");
        assert_eq!(Lang::Fr.date_range(first, first), "1er mars 2025");
        assert_eq!(
            Lang::En.date_range(NaiveDate::from_ymd_opt(2024, 11, 30).unwrap(), day),
            "30 November 2024 – 5 December 2024"
        );
        let at = DateTime::parse_from_rfc3339("2024-12-05T13:30:00+01:00").unwrap();
        let until = DateTime::parse_from_rfc3339("2024-12-05T17:00:00+01:00").unwrap();
        assert_eq!(
            Lang::Fr.time_range(at, until),
            "jeudi 5 décembre 2024, 13:30–17:00"
        );
        assert_eq!(Lang::En.moment(at), "Thursday 5 December 2024 at 13:30");
        assert_eq!(
            Lang::Fr.moment_with_offset(at),
            "jeudi 5 décembre 2024 à 13:30 (UTC+01:00)"
        );
        assert_eq!(Lang::En.short_date(first), "1 Mar 2025");
        assert_eq!(Lang::Fr.short_date(day), "5 déc. 2024");
        assert_eq!(Lang::Fr.short_date(first), "1er mars 2025");
    }

    #[test]
    fn texts_written_in_code_are_filled_and_counted_like_the_templates() {
        assert_eq!(Lang::En.count("seats_left", 1, &[]), "1 seat left");
        assert_eq!(Lang::Fr.count("seats_left", 0, &[]), "0 place restante");
        assert_eq!(Lang::Fr.count("seats_left", 2, &[]), "2 places restantes");
        assert_eq!(
            Lang::Fr.fill("seat_assigned", &[("visit", &"Aperam")]),
            "Votre visite : Aperam"
        );
    }

    #[test]
    fn domain_messages_become_sentences_in_each_language() {
        assert_eq!(Lang::En.field_error("is required"), "This field is required.");
        assert_eq!(Lang::Fr.field_error("is required"), "Ce champ est obligatoire.");
        assert_eq!(
            Lang::Fr.field_error("must be at most 100 characters"),
            "Utilisez au plus 100 caractères."
        );
        assert_eq!(
            Lang::Fr.field_error("`XX` is not an ISO 3166-1 country code"),
            "Choisissez un pays dans la liste."
        );
        assert_eq!(
            Lang::En.field_error("must be true or false"),
            "Must be true or false."
        );
        assert_eq!(
            Lang::Fr.field_error("must be true or false"),
            "Cette valeur n'est pas valable."
        );
        assert_eq!(Lang::Fr.choice_label(1), "1er choix");
        assert_eq!(
            Lang::Fr.field_error("must be a whole number"),
            "Saisissez un nombre entier."
        );
        assert_eq!(Lang::En.choice_label(2), "2nd choice");
    }
}
