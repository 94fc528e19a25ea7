//! The two languages of everything a participant reads: English and French (the founding
//! event is in Wallonia). Page texts live in one table, [`TEXTS`], each key with both
//! languages side by side, so a missing translation shows in review; emails have one
//! template set per language (`templates/email/` and `templates/email/fr/`), because
//! they are prose. Dates are written here, not with the platform locale.

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

/// Every page text: (key, English, French). `{name}` marks a value filled in when the
/// page is rendered; keys ending in `.one` / `.other` are the singular and plural forms.
pub const TEXTS: &[(&str, &str, &str)] = &[
    // Layout
    ("skip_to_content", "Skip to the content", "Aller au contenu"),
    ("language", "Language", "Langue"),
    ("footer", "Registration desk: rallypoint", "Accueil des inscriptions : rallypoint"),
    ("contact", "Questions? Write to {email}.", "Des questions ? Écrivez à {email}."),
    // The event and its site visits
    ("site_visits", "Site visits", "Visites de sites"),
    (
        "site_visits_intro.first_come",
        "The site visits run at the same time: rank up to {n} of them. You get a seat in the best-ranked visit that still has room; if none has, you join the waiting list of your first choice.",
        "Les visites ont lieu en même temps : classez-en jusqu'à {n}. Vous obtenez une place dans la visite la mieux classée qui en a encore ; sinon, vous rejoignez la liste d'attente de votre premier choix.",
    ),
    (
        "site_visits_intro.preferences",
        "The site visits run at the same time: rank up to {n} of them. The organisers share the seats out from everyone's choices and email you the result.",
        "Les visites ont lieu en même temps : classez-en jusqu'à {n}. Les organisateurs répartissent les places d'après les choix de chacun et vous envoient le résultat par e-mail.",
    ),
    ("visit_when", "When", "Quand"),
    ("visit_where", "Where", "Où"),
    ("visit_meeting_point", "Meeting point", "Point de rendez-vous"),
    ("seats_left.one", "{n} seat left", "{n} place restante"),
    ("seats_left.other", "{n} seats left", "{n} places restantes"),
    ("visit_full", "Full — waiting list", "Complet — liste d'attente"),
    (
        "event_full",
        "The event is full. You can still register: you join its waiting list and we email you as soon as a place frees up.",
        "L'événement est complet. Vous pouvez encore vous inscrire : vous rejoignez la liste d'attente et nous vous écrivons dès qu'une place se libère.",
    ),
    // Registration form
    ("register", "Register", "Inscription"),
    (
        "required_note",
        "Every field is required unless marked optional.",
        "Tous les champs sont obligatoires, sauf mention « facultatif ».",
    ),
    ("optional", "optional", "facultatif"),
    ("first_name", "First name", "Prénom"),
    ("last_name", "Last name", "Nom"),
    ("email", "Email", "Adresse e-mail"),
    (
        "email_hint",
        "Your confirmation and your personal link are sent here.",
        "Votre confirmation et votre lien personnel y seront envoyés.",
    ),
    ("organisation", "Organisation", "Organisation"),
    ("country", "Country", "Pays"),
    ("country_choose", "Choose a country", "Choisissez un pays"),
    ("job_title", "Job title", "Fonction"),
    ("dietary", "Dietary needs", "Régime alimentaire"),
    (
        "dietary_hint",
        "Allergies, vegetarian, halal… for the lunches.",
        "Allergies, végétarien, halal… pour les repas.",
    ),
    (
        "choices_legend",
        "Site visits, in order of preference",
        "Visites, par ordre de préférence",
    ),
    ("no_choice", "— No choice —", "— Aucun choix —"),
    ("full_suffix", "full — waiting list", "complet — liste d'attente"),
    ("privacy", "Privacy", "Protection des données"),
    (
        "privacy_text",
        "The organisers of {event} use your name, email, organisation, country, job title and dietary needs only to run the event and its site visits: to confirm your place, to email you about it, and to give the hosts of your site visit the list of visitors. Your data are not sold or used for marketing, and are erased after the event.",
        "Les organisateurs de {event} utilisent vos nom, adresse e-mail, organisation, pays, fonction et régime alimentaire uniquement pour l'événement et ses visites : confirmer votre place, vous écrire à ce sujet et remettre aux hôtes de votre visite la liste des visiteurs. Vos données ne sont ni vendues ni utilisées à des fins commerciales, et sont effacées après l'événement.",
    ),
    (
        "privacy_contact",
        "To see, correct or erase them, write to {email}.",
        "Pour les consulter, les corriger ou les effacer, écrivez à {email}.",
    ),
    (
        "consent_label",
        "I agree that my data are used as described above.",
        "J'accepte que mes données soient utilisées comme décrit ci-dessus.",
    ),
    ("submit_register", "Register", "M'inscrire"),
    (
        "errors_heading",
        "Please correct the following:",
        "Veuillez corriger les points suivants :",
    ),
    ("closed_heading", "Registration is closed", "Les inscriptions sont fermées"),
    ("opens_at", "Registration opens on {when}.", "Les inscriptions ouvrent le {when}."),
    ("closes_at", "Registration closes on {when}.", "Les inscriptions ferment le {when}."),
    ("closed_at", "Registration closed on {when}.", "Les inscriptions ont fermé le {when}."),
    // Field errors (see `Lang::field_error`)
    ("error.required", "This field is required.", "Ce champ est obligatoire."),
    (
        "error.email",
        "Enter an email address such as name@example.org.",
        "Saisissez une adresse e-mail, par exemple nom@exemple.org.",
    ),
    ("error.too_long", "Use at most {n} characters.", "Utilisez au plus {n} caractères."),
    (
        "error.control",
        "Remove the special characters.",
        "Retirez les caractères spéciaux.",
    ),
    ("error.country", "Choose a country from the list.", "Choisissez un pays dans la liste."),
    (
        "error.too_many_choices",
        "Choose at most {n} site visits.",
        "Choisissez au plus {n} visites.",
    ),
    (
        "error.unknown_visit",
        "Choose site visits from the list.",
        "Choisissez les visites dans la liste.",
    ),
    (
        "error.ranked_twice",
        "Choose each site visit only once.",
        "Ne choisissez chaque visite qu'une seule fois.",
    ),
    (
        "error.consent",
        "Tick the box to give your consent: we cannot register you without it.",
        "Cochez la case pour donner votre accord : sans lui, nous ne pouvons pas vous inscrire.",
    ),
    (
        "error.duplicate",
        "This email address is already registered for this event. Your confirmation email holds the link to change or cancel that registration.",
        "Cette adresse e-mail est déjà inscrite à cet événement. L'e-mail de confirmation contient le lien pour modifier ou annuler cette inscription.",
    ),
    ("error.other", "This value is not valid.", "Cette valeur n'est pas valable."),
    // Confirmation
    ("registered_title", "Registration confirmed", "Inscription confirmée"),
    (
        "event_waitlisted_title",
        "You are on the waiting list",
        "Vous êtes sur la liste d'attente",
    ),
    (
        "check_email",
        "We are sending a confirmation to {email}. It holds your personal link to view, change or cancel your registration.",
        "Nous envoyons une confirmation à {email}. Elle contient votre lien personnel pour consulter, modifier ou annuler votre inscription.",
    ),
    ("seat_assigned", "Your site visit: {visit}", "Votre visite : {visit}"),
    (
        "seat_waitlisted",
        "Your first choice, {visit}, is full: you are number {n} on its waiting list. We email you the moment a seat is yours.",
        "Votre premier choix, {visit}, est complet : vous êtes n° {n} sur sa liste d'attente. Nous vous écrivons dès qu'une place est à vous.",
    ),
    (
        "seat_pending",
        "Your first choice is {visit}. The organisers share the seats out from everyone's choices and email you the result.",
        "Votre premier choix est {visit}. Les organisateurs répartissent les places d'après les choix de chacun et vous envoient le résultat.",
    ),
    (
        "seat_none",
        "You have not chosen a site visit. You can still rank them with your personal link.",
        "Vous n'avez pas choisi de visite. Vous pouvez encore les classer avec votre lien personnel.",
    ),
    (
        "event_waitlisted",
        "The event is full: you are number {n} on its waiting list. We email you as soon as a place frees up.",
        "L'événement est complet : vous êtes n° {n} sur sa liste d'attente. Nous vous écrivons dès qu'une place se libère.",
    ),
    ("manage_link", "View or change my registration", "Voir ou modifier mon inscription"),
    // Manage page
    ("manage_title", "Your registration", "Votre inscription"),
    (
        "manage_private",
        "This page is personal: do not share its address.",
        "Cette page est personnelle : n'en partagez pas l'adresse.",
    ),
    ("status", "Status:", "Statut :"),
    ("summary_line", "{label}: {message}", "{label} : {message}"),
    ("status.confirmed", "Confirmed", "Confirmée"),
    (
        "status.waitlisted",
        "On the event's waiting list",
        "Sur la liste d'attente de l'événement",
    ),
    ("status.cancelled", "Cancelled", "Annulée"),
    ("your_details", "Your details", "Vos coordonnées"),
    ("full_name", "Name", "Nom et prénom"),
    ("your_site_visit", "Your site visit", "Votre visite"),
    ("your_choices", "Your choices", "Vos choix"),
    ("registered_on", "Registered on", "Date d'inscription"),
    ("no_choices", "No site visit chosen", "Aucune visite choisie"),
    ("change_heading", "Change your choices", "Modifier vos choix"),
    (
        "change_hint",
        "A better-ranked visit with room is yours at once. A visit you take off the list frees your seat in it.",
        "Une visite mieux classée qui a de la place vous est donnée aussitôt. Retirer une visite de la liste libère votre place dans celle-ci.",
    ),
    ("submit_change", "Save my choices", "Enregistrer mes choix"),
    ("cancel_heading", "Cancel your registration", "Annuler votre inscription"),
    ("cancel_button", "Cancel my registration…", "Annuler mon inscription…"),
    (
        "cancel_confirm_title",
        "Cancel your registration?",
        "Annuler votre inscription ?",
    ),
    (
        "cancel_confirm_text",
        "Your registration for {event} will be cancelled, and your seat given to the next person waiting. To come back you would have to register again, after everyone already waiting.",
        "Votre inscription à {event} sera annulée et votre place donnée à la personne suivante sur la liste d'attente. Pour revenir, il faudrait vous réinscrire, après toutes les personnes qui attendent déjà.",
    ),
    ("cancel_confirm_yes", "Yes, cancel my registration", "Oui, annuler mon inscription"),
    ("cancel_confirm_no", "No, keep my registration", "Non, garder mon inscription"),
    (
        "flash.changed",
        "Your choices are saved. We are emailing you a summary.",
        "Vos choix sont enregistrés. Nous vous envoyons un récapitulatif par e-mail.",
    ),
    (
        "flash.cancelled",
        "Your registration is cancelled. We are emailing you a confirmation.",
        "Votre inscription est annulée. Nous vous envoyons une confirmation par e-mail.",
    ),
    (
        "cancelled_note",
        "This registration is cancelled. While registration is open you may register again.",
        "Cette inscription est annulée. Tant que les inscriptions sont ouvertes, vous pouvez vous réinscrire.",
    ),
    ("register_again", "Register again", "Se réinscrire"),
    (
        "change_closed",
        "Registration is closed: your choices can no longer be changed, but you can still cancel.",
        "Les inscriptions sont fermées : vos choix ne peuvent plus être modifiés, mais vous pouvez encore annuler.",
    ),
    // Error pages
    ("error_page.not_found", "Page not found", "Page introuvable"),
    (
        "error_page.not_found_text",
        "This page does not exist, or its address is incomplete. If you came from an email, check that the whole link was copied.",
        "Cette page n'existe pas, ou son adresse est incomplète. Si vous venez d'un e-mail, vérifiez que le lien a été copié en entier.",
    ),
    ("error_page.forbidden", "Form not accepted", "Formulaire refusé"),
    (
        "error_page.forbidden_text",
        "This form could not be accepted: it may be too old, or it was sent from another site. Go back, reload the page and send it again. Cookies must be enabled for this site.",
        "Ce formulaire n'a pas pu être accepté : il est peut-être trop ancien, ou il a été envoyé depuis un autre site. Revenez en arrière, rechargez la page et renvoyez-le. Les cookies doivent être activés pour ce site.",
    ),
    ("error_page.bad_request", "Request not understood", "Requête incomprise"),
    (
        "error_page.bad_request_text",
        "The form could not be read. Go back, reload the page and try again.",
        "Le formulaire n'a pas pu être lu. Revenez en arrière, rechargez la page et réessayez.",
    ),
    ("error_page.busy", "Busy right now", "Service occupé"),
    (
        "error_page.busy_text",
        "Many people are registering at the same moment. Please try again in a few seconds: nothing was saved.",
        "Beaucoup de personnes s'inscrivent en ce moment. Réessayez dans quelques secondes : rien n'a été enregistré.",
    ),
    ("error_page.internal", "Something went wrong", "Une erreur s'est produite"),
    (
        "error_page.internal_text",
        "Something went wrong on our side. Please try again later.",
        "Une erreur s'est produite de notre côté. Veuillez réessayer plus tard.",
    ),
];

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
        assert_eq!(Lang::En.choice_label(2), "2nd choice");
    }
}
