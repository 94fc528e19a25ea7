//! A participant's submission, parsed once at the edge into types the rest can trust.

use serde_json::{Map, Value};
use validator::ValidateEmail;

use super::country::CountryCode;
use super::error::DomainError;
use super::input::Fields;
use super::questions::{read_answers, AnswerScope, Answers, Question};
use crate::i18n::Lang;

/// First and last names open every email ("Dear {first} {last}"): 60 characters each
/// hold any real name (a long one, "Maria Clara Lobo Antunes de Albuquerque", is 39)
/// and leave little room for a message. See [`check_person_name`].
pub const NAME_MAX: usize = 60;
pub const ORGANISATION_MAX: usize = 200;
pub const JOB_TITLE_MAX: usize = 200;
pub const DIETARY_MAX: usize = 500;
pub const EMAIL_MAX: usize = 254;

/// An address mail can be sent to, in one spelling per mailbox: trimmed, its domain in
/// the ASCII form IDNA (UTS #46) gives it (`ＥＸＡＭＰＬＥ。com` and `exämple.com` become
/// `example.com` and `xn--exmple-cua.com`), lower-case; its local part as typed (it must
/// be ASCII, as HTML forms require) and compared case-insensitively (invariant 2).
/// Refused: IP literals and dotted IP addresses, single-label domains (`a@localhost`) and
/// domains IDNA refuses, none of which a mail relay delivers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, String> {
        let email = input.trim();
        if email.chars().count() > EMAIL_MAX {
            return Err(format!("must be at most {EMAIL_MAX} characters"));
        }
        let invalid = || "must be a valid email address".to_owned();
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        if domain.starts_with('[') {
            return Err("must have a domain name, not an IP address".into());
        }
        let domain = ascii_domain(domain).ok_or_else(invalid)?;
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err("must have a full domain name, such as example.org".into());
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err("must have a domain name, not an IP address".into());
        }
        let normal = format!("{local}@{domain}");
        // The local part's rules (and the lengths of both parts) are validator's.
        if !normal.validate_email() {
            return Err(invalid());
        }
        if normal.len() > EMAIL_MAX {
            return Err(format!(
                "must be at most {EMAIL_MAX} characters once its domain is spelt in ASCII"
            ));
        }
        Ok(Self(normal))
    }

    /// The address to store, show and send to: local part as typed, ASCII domain.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness: lower-cased as a whole (the domain already is).
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A domain as DNS knows it: UTS #46 mapping (full-width letters, ideographic full
/// stops, upper case) and Punycode, with the STD3 rules for host names (letters, digits
/// and hyphens only, which also refuses IP literals), no label starting or ending with a
/// hyphen, DNS lengths, and no trailing dot. `None` when IDNA refuses it.
fn ascii_domain(domain: &str) -> Option<String> {
    use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
    Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .ok()
        .map(|ascii| ascii.into_owned())
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
    /// Answers to the event-wide questions (docs/questions.md).
    pub answers: Answers,
    /// Ids of the visits that have questions of their own: a seat in one of them makes
    /// the confirmation ask for the answers. Known from the questions parsed with.
    pub visits_with_questions: Vec<String>,
    /// The language of the page or request it came from: the person's emails use it.
    pub language: Lang,
}

impl NewRegistration {
    pub fn parse(body: Map<String, Value>, rules: &PreferenceRules<'_>) -> Result<Self, DomainError> {
        Self::parse_with_questions(body, rules, &[])
    }

    /// [`NewRegistration::parse`] with the answers to the event's `questions`: every
    /// event-wide one is asked, a visit-scoped one is not yet (a field error if sent).
    pub fn parse_with_questions(
        body: Map<String, Value>,
        rules: &PreferenceRules<'_>,
        questions: &[Question],
    ) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let first_name = fields.required_text("first_name", NAME_MAX);
        let first_name = one_line(&mut fields, "first_name", first_name);
        let first_name = check_person_name(&mut fields, "first_name", first_name);
        let last_name = fields.required_text("last_name", NAME_MAX);
        let last_name = one_line(&mut fields, "last_name", last_name);
        let last_name = check_person_name(&mut fields, "last_name", last_name);
        let email = fields
            .required_text("email", EMAIL_MAX + 16)
            .and_then(|raw| Email::parse(&raw).map_err(|e| fields.error("email", e)).ok());
        let organisation = fields.required_text("organisation", ORGANISATION_MAX);
        let organisation = one_line(&mut fields, "organisation", organisation);
        let organisation = check_no_web_address(&mut fields, "organisation", organisation);
        let country = fields.required_text("country", 8).and_then(|raw| {
            CountryCode::parse(&raw)
                .map_err(|e| fields.error("country", e))
                .ok()
        });
        let job_title = fields.optional_text("job_title", JOB_TITLE_MAX);
        let job_title = one_line(&mut fields, "job_title", job_title);
        let job_title = check_no_web_address(&mut fields, "job_title", job_title);
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
        let answers = read_answers(&mut fields, questions, AnswerScope::Registration);
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
                answers: answers?,
                visits_with_questions: questions.iter().flat_map(|q| q.site_visits.clone()).collect(),
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

/// Anyone can register any address, so the names typed are mailed to a stranger's
/// inbox under the event's name: they must not carry a link or an address ("Dear Your
/// account is locked. Verify at https://…"). A name is refused when it holds a web
/// address (`://`, `www.`), an `@`, or a dot between two words (`example.com`, also
/// with the full-width and ideographic dots IDNA reads as dots); initials (`J.R.R.`) and
/// a dot followed by a space (`St. John`) are names. Letters of every script, marks,
/// apostrophes, hyphens and spaces are all fine ("Łobocka-Müller", "O'Brien",
/// "Nguyễn Thị Minh Khai"). What else limits this abuse: the length ([`NAME_MAX`]), the
/// per-address rate limit on public writes, and the confirmation's wording (it names the
/// event and tells someone who did not register how to cancel).
fn check_person_name(fields: &mut Fields, field: &str, value: Option<String>) -> Option<String> {
    let name = value?;
    let problem = if has_web_address(&name) {
        Some("must be a name, not a web address")
    } else if name.contains(['@', '\u{FF20}', '\u{FE6B}']) {
        Some("must be a name, not an email address (it goes in `email`)")
    } else if has_dotted_words(&name) {
        Some("must be a name, not a domain or a link (put a space after a dot: \"St. John\")")
    } else {
        None
    };
    match problem {
        Some(problem) => {
            fields.error(field, problem);
            None
        }
        None => Some(name),
    }
}

/// Organisation and job title never reach an email, and organisations may be named for
/// their domain ("Booking.com") or abbreviate ("Univ. of Porto"): only a web address is
/// refused, so that rosters and exports do not carry links.
fn check_no_web_address(fields: &mut Fields, field: &str, value: Option<String>) -> Option<String> {
    match value {
        Some(text) if has_web_address(&text) => {
            fields.error(field, "must not contain a web address");
            None
        }
        other => other,
    }
}

fn has_web_address(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("://")
        || lower
            .char_indices()
            .any(|(at, c)| is_dot(c) && lower[..at].ends_with("www"))
}

/// The characters IDNA reads as the dot between labels.
fn is_dot(c: char) -> bool {
    matches!(c, '.' | '\u{3002}' | '\u{FF0E}' | '\u{FF61}')
}

/// A dot with letters or digits right before and right after it, where either side is
/// longer than one character: `example.com`, `bit.ly`, `x.co`, but not `J.R.R.`.
fn has_dotted_words(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len()).filter(|&at| is_dot(chars[at])).any(|at| {
        let before = chars[..at]
            .iter()
            .rev()
            .take_while(|c| c.is_alphanumeric())
            .count();
        let after = chars[at + 1..].iter().take_while(|c| c.is_alphanumeric()).count();
        before > 0 && after > 0 && before.max(after) > 1
    })
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
        assert_eq!(reg.email.as_str(), "Irena@example.pl", "the local part as typed");
        assert_eq!(reg.email.normalized(), "irena@example.pl");
        assert_eq!(reg.country.as_str(), "PL");
        assert_eq!(reg.preferences.slugs(), ["bio", "steel"]);
        assert_eq!(reg.dietary, None);
    }

    #[test]
    fn other_spellings_of_one_address_are_one_address() {
        let spelt = |input: &str| Email::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        for same in [
            "kate@example.com",
            "kate@\u{FF45}\u{FF58}\u{FF41}\u{FF4D}\u{FF50}\u{FF4C}\u{FF45}.com", // full-width
            "kate@EXAMPLE\u{3002}com",                                           // ideographic full stop
            " KATE@Example.COM ",
        ] {
            assert_eq!(spelt(same).normalized(), "kate@example.com", "{same}");
        }
        for same in ["kate@exämple.com", "kate@xn--exmple-cua.com", "Kate@EXÄMPLE.com"] {
            assert_eq!(spelt(same).normalized(), "kate@xn--exmple-cua.com", "{same}");
        }
        assert_eq!(spelt("Kate@EXÄMPLE.com").as_str(), "Kate@xn--exmple-cua.com");
    }

    #[test]
    fn addresses_no_relay_delivers_to_are_refused() {
        for (input, expected) in [
            ("a@[127.0.0.1]", "not an IP address"),
            ("a@[IPv6:::1]", "not an IP address"),
            ("a@127.0.0.1", "not an IP address"),
            ("a@localhost", "full domain name"),
            ("a@LOCALHOST", "full domain name"),
            ("a@exa mple.com", "valid email"),
            ("a@exa_mple.com", "valid email"),
            ("a@-example.com", "valid email"),
            ("a@example..com", "valid email"),
            ("a@example.com.", "valid email"),
            ("a@xn--ls8h-.com", "valid email"),
            ("a@", "valid email"),
            ("@example.com", "valid email"),
            ("kate", "valid email"),
            ("k\u{FF41}te@example.com", "valid email"),
        ] {
            let error = Email::parse(input).expect_err(input);
            assert!(error.contains(expected), "{input}: {error}");
        }
        let long = format!("{}@{}.com", "k".repeat(60), "ä".repeat(60));
        assert!(Email::parse(&long).is_err(), "too long once in Punycode");
    }

    fn name_errors(field: &str, value: &str) -> Vec<String> {
        let slugs = visits();
        let mut body = json!({
            "first_name": "Ana", "last_name": "Lima", "email": "ana@example.org",
            "organisation": "Lab", "country": "PT", "consent": true
        });
        body[field] = json!(value);
        match NewRegistration::parse(super::tests::body(body), &rules(&slugs)) {
            Ok(_) => Vec::new(),
            Err(DomainError::Validation(errors)) => errors.get(field).cloned().unwrap_or_default(),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn real_names_are_names() {
        for name in [
            "Maria Clara Lobo Antunes de Albuquerque",
            "Łobocka-Müller",
            "Ōta",
            "O'Brien",
            "O’Brien",
            "Nguyễn Thị Minh Khai",
            "J.R.R.",
            "St. John",
            "Jr.",
            "محمد",
            "x;=1+1",
            "Ngũgĩ wa Thiong'o",
        ] {
            for field in ["first_name", "last_name"] {
                assert_eq!(name_errors(field, name), Vec::<String>::new(), "{field} {name}");
            }
        }
    }

    #[test]
    fn names_carry_no_link_address_or_long_message() {
        for (name, expected) in [
            (
                "Your account is locked. Verify at https://evil.example",
                "web address",
            ),
            ("Verify at hxxps://evil", "web address"),
            ("www.evil", "web address"),
            ("WWW\u{FF0E}evil", "web address"),
            ("example.com", "domain or a link"),
            ("Visit evil.example now", "domain or a link"),
            ("bit.ly", "domain or a link"),
            ("x.co", "domain or a link"),
            ("ｅｘａｍｐｌｅ。com", "domain or a link"),
            ("kate@example", "email address"),
            (
                "Your account is locked call the number on your card today please",
                "at most 60",
            ),
        ] {
            for field in ["first_name", "last_name"] {
                let errors = name_errors(field, name);
                assert!(
                    errors.iter().any(|e| e.contains(expected)),
                    "{field} {name}: {errors:?}"
                );
            }
        }
    }

    #[test]
    fn organisations_may_be_named_for_a_domain_but_hold_no_web_address() {
        for fine in [
            "Booking.com",
            "Univ. of Porto",
            "@Corp",
            "Société d'Économie Mixte",
        ] {
            assert_eq!(name_errors("organisation", fine), Vec::<String>::new(), "{fine}");
            assert_eq!(name_errors("job_title", fine), Vec::<String>::new(), "{fine}");
        }
        for link in ["https://evil.example", "see www.evil.example"] {
            assert_eq!(
                name_errors("organisation", link),
                ["must not contain a web address"]
            );
            assert_eq!(name_errors("job_title", link), ["must not contain a web address"]);
        }
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
