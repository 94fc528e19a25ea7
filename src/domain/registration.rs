//! A participant's submission, parsed once at the edge into types the rest can trust.

use serde_json::{Map, Value};
use validator::ValidateEmail;

use super::country::CountryCode;
use super::error::DomainError;
use super::input::Fields;
use crate::i18n::Lang;

pub const NAME_MAX: usize = 100;
pub const ORGANISATION_MAX: usize = 200;
pub const JOB_TITLE_MAX: usize = 200;
pub const DIETARY_MAX: usize = 500;
pub const EMAIL_MAX: usize = 254;

/// A syntactically valid address, trimmed; compared case-insensitively (invariant 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, String> {
        let email = input.trim();
        if email.chars().count() > EMAIL_MAX {
            return Err(format!("must be at most {EMAIL_MAX} characters"));
        }
        if !email.validate_email() {
            return Err("must be a valid email address".into());
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness: lower-cased as a whole.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// What a site-visit ranking may contain, known from the event.
pub struct PreferenceRules<'a> {
    pub visit_slugs: &'a [String],
    pub max_preferences: usize,
}

/// Ranked site-visit slugs: known to the event, no repeats, at most the event's maximum.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Preferences(Vec<String>);

impl Preferences {
    pub fn parse(slugs: Vec<String>, rules: &PreferenceRules<'_>) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if slugs.len() > rules.max_preferences {
            problems.push(format!("may rank at most {} site visits", rules.max_preferences));
        }
        for (index, slug) in slugs.iter().enumerate() {
            if !rules.visit_slugs.contains(slug) {
                problems.push(format!("`{slug}` is not a site visit of this event"));
            } else if slugs[..index].contains(slug) {
                problems.push(format!("`{slug}` is ranked more than once"));
            }
        }
        if problems.is_empty() {
            Ok(Self(slugs))
        } else {
            Err(problems)
        }
    }

    pub fn slugs(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A registration as submitted, fully validated except for what needs the database
/// (uniqueness of the email, the registration window, seats).
#[derive(Clone, Debug)]
pub struct NewRegistration {
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub organisation: String,
    pub country: CountryCode,
    pub job_title: Option<String>,
    pub dietary: Option<String>,
    pub preferences: Preferences,
    /// The language of the page or request it came from: the person's emails use it.
    pub language: Lang,
}

impl NewRegistration {
    pub fn parse(body: Map<String, Value>, rules: &PreferenceRules<'_>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let first_name = fields.required_text("first_name", NAME_MAX);
        let first_name = one_line(&mut fields, "first_name", first_name);
        let last_name = fields.required_text("last_name", NAME_MAX);
        let last_name = one_line(&mut fields, "last_name", last_name);
        let email = fields
            .required_text("email", EMAIL_MAX + 16)
            .and_then(|raw| Email::parse(&raw).map_err(|e| fields.error("email", e)).ok());
        let organisation = fields.required_text("organisation", ORGANISATION_MAX);
        let organisation = one_line(&mut fields, "organisation", organisation);
        let country = fields.required_text("country", 8).and_then(|raw| {
            CountryCode::parse(&raw)
                .map_err(|e| fields.error("country", e))
                .ok()
        });
        let job_title = fields.optional_text("job_title", JOB_TITLE_MAX);
        let job_title = one_line(&mut fields, "job_title", job_title);
        let dietary = fields.optional_text("dietary", DIETARY_MAX);
        let slugs = fields.string_list("preferences");
        let preferences = if fields.has_error("preferences") {
            None
        } else {
            match Preferences::parse(slugs, rules) {
                Ok(preferences) => Some(preferences),
                Err(problems) => {
                    for problem in problems {
                        fields.error("preferences", problem);
                    }
                    None
                }
            }
        };
        match fields.flag("consent") {
            Some(true) => {}
            Some(false) | None if !fields.has_error("consent") => {
                fields.error("consent", "must be given to register")
            }
            _ => {}
        }
        fields.finish(|| {
            Some(Self {
                first_name: first_name?,
                last_name: last_name?,
                email: email?,
                organisation: organisation?,
                country: country?,
                job_title,
                dietary,
                preferences: preferences?,
                language: Lang::default(),
            })
        })
    }

    /// The same registration, made in `language`.
    pub fn in_language(self, language: Lang) -> Self {
        Self { language, ..self }
    }
}

/// Names, organisation and job title go into email headers, rosters and spreadsheet
/// cells: one line each (a line break in a name broke the email's `To:` header).
fn one_line(fields: &mut Fields, field: &str, value: Option<String>) -> Option<String> {
    match value {
        Some(text) if text.contains(['\n', '\r']) => {
            fields.error(field, "must be a single line");
            None
        }
        other => other,
    }
}

/// Parses a new ranking alone (the manage link's `PATCH`).
pub fn parse_preference_change(
    body: Map<String, Value>,
    rules: &PreferenceRules<'_>,
) -> Result<Preferences, DomainError> {
    let mut fields = Fields::new(body);
    if !fields.contains("preferences") {
        fields.error(
            "preferences",
            "is required (an empty list withdraws every choice)",
        );
    }
    let slugs = fields.string_list("preferences");
    let preferences = if fields.has_error("preferences") {
        None
    } else {
        Preferences::parse(slugs, rules)
            .map_err(|problems| {
                for problem in problems {
                    fields.error("preferences", problem);
                }
            })
            .ok()
    };
    fields.finish(|| preferences)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(slugs: &[String]) -> PreferenceRules<'_> {
        PreferenceRules {
            visit_slugs: slugs,
            max_preferences: 3,
        }
    }

    fn visits() -> Vec<String> {
        vec!["steel".into(), "bio".into(), "clean".into(), "extra".into()]
    }

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_complete_body_parses_into_domain_types() {
        let slugs = visits();
        let reg = NewRegistration::parse(
            body(json!({
                "first_name": "  Irena ", "last_name": "Łobocka", "email": "Irena@Example.PL",
                "organisation": "Sustainable Infrastructure Cluster", "country": "pl",
                "preferences": ["bio", "steel"], "consent": true, "dietary": ""
            })),
            &rules(&slugs),
        )
        .unwrap();
        assert_eq!(reg.first_name, "Irena");
        assert_eq!(reg.email.normalized(), "irena@example.pl");
        assert_eq!(reg.country.as_str(), "PL");
        assert_eq!(reg.preferences.slugs(), ["bio", "steel"]);
        assert_eq!(reg.dietary, None);
    }

    #[test]
    fn names_and_organisation_are_single_lines() {
        let slugs = visits();
        let err = NewRegistration::parse(
            body(json!({
                "first_name": "Ana\nBcc: x@example.org", "last_name": "Lima", "email": "ana@example.org",
                "organisation": "Two\nlines", "country": "PT", "consent": true,
                "job_title": "a\nb", "dietary": "no nuts\nno fish"
            })),
            &rules(&slugs),
        )
        .unwrap_err();
        let DomainError::Validation(errors) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["first_name", "job_title", "organisation"], "{errors:?}");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let slugs = visits();
        let err = NewRegistration::parse(
            body(json!({
                "first_name": " ", "email": "not-an-email", "country": "XX",
                "preferences": ["bio", "bio", "nowhere", "steel"], "consent": false,
                "organization": "typo"
            })),
            &rules(&slugs),
        )
        .unwrap_err();
        let DomainError::Validation(errors) = err else {
            panic!("{err:?}")
        };
        for field in [
            "first_name",
            "last_name",
            "email",
            "organisation",
            "country",
            "preferences",
            "consent",
            "organization",
        ] {
            assert!(errors.contains_key(field), "{field} missing from {errors:?}");
        }
        assert_eq!(errors["preferences"].len(), 3, "{:?}", errors["preferences"]);
    }

    #[test]
    fn form_style_values_are_understood() {
        let slugs = visits();
        let reg = NewRegistration::parse(
            body(json!({
                "first_name": "Jan", "last_name": "Müller", "email": "jan@example.de",
                "organisation": "Prognos", "country": "DE",
                "preferences": ["clean", "", ""], "consent": "on"
            })),
            &rules(&slugs),
        )
        .unwrap();
        assert_eq!(reg.preferences.slugs(), ["clean"]);
    }

    #[test]
    fn wrong_types_are_field_errors_not_crashes() {
        let slugs = visits();
        let err = NewRegistration::parse(
            body(json!({
                "first_name": 5, "last_name": ["x"], "email": {}, "organisation": true,
                "country": 1, "preferences": "steel", "consent": "maybe", "job_title": 3
            })),
            &rules(&slugs),
        )
        .unwrap_err();
        let DomainError::Validation(errors) = err else {
            panic!()
        };
        assert!(errors.contains_key("first_name") && errors.contains_key("consent"));
        assert!(errors.contains_key("job_title"));
        assert!(
            !errors.contains_key("preferences"),
            "a single slug is a list of one"
        );
    }

    #[test]
    fn preference_change_is_checked_like_registration() {
        let slugs = visits();
        assert_eq!(
            parse_preference_change(body(json!({"preferences": ["steel"]})), &rules(&slugs))
                .unwrap()
                .slugs(),
            ["steel"]
        );
        assert!(parse_preference_change(body(json!({})), &rules(&slugs)).is_err());
        assert!(
            parse_preference_change(body(json!({"preferences": ["a", "b", "c", "d"]})), &rules(&slugs))
                .is_err()
        );
        let empty = parse_preference_change(body(json!({"preferences": []})), &rules(&slugs)).unwrap();
        assert!(empty.is_empty());
    }
}
