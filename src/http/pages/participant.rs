//! The participant's pages: the event with its registration form, the confirmation,
//! and the manage page behind the private link (change the ranking; accept or decline a
//! seat offered; cancel, after a confirmation step). They call the same domain
//! functions as `public` and `manage`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::{OrPage, PageError, PageRequest};
use crate::domain::booking;
use crate::domain::catalog::{self, EventView};
use crate::domain::country::{all_countries, CountryChoice};
use crate::domain::idempotency::Answer;
use crate::domain::offers::{self, OfferView};
use crate::domain::questions::{
    AnswersView, Question, QuestionAnswer, QuestionChoice, QuestionKind, Texts, TEXT_MAX_DEFAULT,
};
use crate::domain::registration::parse_preference_change;
use crate::domain::view::{RegistrationStatus, RegistrationView, SeatStatus, SeatView};
use crate::domain::{now, DomainError, FieldErrors};
use crate::http::extract::{path_param, query_object};
use crate::http::problem::ApiError;
use crate::http::registering::{self, preference_rules};
use crate::http::AppState;
use crate::i18n::Lang;
use crate::qr::{grouped, CheckinQr};

/// A question as a form shows it, in the page's language (docs/questions.md): its
/// field is named `answers[{id}]`, its element id and its errors `answers.{id}`.
#[derive(Serialize)]
struct QuestionField {
    id: String,
    name: String,
    kind: &'static str,
    required: bool,
    label: String,
    help: String,
    /// The text, number, date or country entered.
    value: String,
    /// A yes/no box ticked.
    checked: bool,
    choices: Vec<ChoiceField>,
    max_length: i32,
    /// Bounds of a number or a date, for the input's `min`/`max`.
    min: String,
    max: String,
}

#[derive(Serialize)]
struct ChoiceField {
    id: String,
    label: String,
    selected: bool,
}

/// The fields of `questions`, each with the value `value_of` gives (what was sent, or
/// what is kept).
fn question_fields<'a>(
    questions: impl IntoIterator<Item = QuestionParts<'a>>,
    lang: Lang,
    value_of: impl Fn(&str) -> Option<Json>,
) -> Vec<QuestionField> {
    questions
        .into_iter()
        .map(|q| {
            let value = value_of(q.id);
            let texts: Vec<String> = match &value {
                Some(Json::Array(items)) => items.iter().map(json_text).collect(),
                Some(Json::Null) | None => Vec::new(),
                Some(one) => vec![json_text(one)],
            };
            let last = texts.last().cloned().unwrap_or_default();
            let checked = matches!(value, Some(Json::Bool(true)))
                || ["on", "yes", "true", "1"].contains(&last.trim().to_ascii_lowercase().as_str());
            QuestionField {
                id: format!("answers.{}", q.id),
                name: format!("answers[{}]", q.id),
                kind: q.kind.as_str(),
                required: q.required,
                label: q.label.get(lang).to_owned(),
                help: q.help.get(lang).to_owned(),
                value: if q.kind == QuestionKind::YesNo {
                    String::new()
                } else {
                    last
                },
                checked,
                choices: q
                    .choices
                    .iter()
                    .map(|c| ChoiceField {
                        selected: texts.contains(&c.id),
                        id: c.id.clone(),
                        label: c.label(lang).to_owned(),
                    })
                    .collect(),
                max_length: q.max_length.unwrap_or(TEXT_MAX_DEFAULT),
                min: q.min.clone().unwrap_or_default(),
                max: q.max.clone().unwrap_or_default(),
            }
        })
        .collect()
}

/// What a form needs of a question, from the rules or from a manage view.
struct QuestionParts<'a> {
    id: &'a str,
    kind: QuestionKind,
    required: bool,
    label: &'a Texts,
    help: &'a Texts,
    choices: &'a [QuestionChoice],
    min: &'a Option<String>,
    max: &'a Option<String>,
    max_length: Option<i32>,
}

impl<'a> QuestionParts<'a> {
    fn of(q: &'a Question) -> Self {
        Self {
            id: &q.id,
            kind: q.kind,
            required: q.required,
            label: &q.label,
            help: &q.help,
            choices: &q.choices,
            min: &q.min,
            max: &q.max,
            max_length: q.max_length,
        }
    }

    fn of_answer(q: &'a QuestionAnswer) -> Self {
        Self {
            id: &q.id,
            kind: q.kind,
            required: q.required,
            label: &q.label,
            help: &q.help,
            choices: &q.choices,
            min: &q.min,
            max: &q.max,
            max_length: q.max_length,
        }
    }
}

fn json_text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The answer sent for `id` in a form read as an object.
fn sent_answer(form: &Map<String, Json>, id: &str) -> Option<Json> {
    form.get("answers").and_then(|a| a.get(id)).cloned()
}

/// The event as its page shows it, with dates written in the page's language.
#[derive(Serialize)]
struct EventContext {
    slug: String,
    name: String,
    description: String,
    venue: String,
    contact_email: String,
    dates: String,
    open: bool,
    /// "Registration opens on …" when it has not yet.
    opens: Option<String>,
    /// When an open registration closes.
    closes: Option<String>,
    /// When a closed registration closed.
    closed: Option<String>,
    /// The event-wide capacity is reached: newcomers join its waiting list.
    full: bool,
    intro_key: &'static str,
    max_choices: i32,
}

impl EventContext {
    fn new(view: &EventView, lang: Lang) -> Self {
        let now = now();
        let upcoming = view.registration_opens_at.filter(|opens| opens.naive_utc() > now);
        let (opens, closed) = match (view.registration_open, upcoming) {
            (true, _) => (None, None),
            (false, Some(opens)) => (Some(lang.moment(opens)), None),
            (false, None) => (None, view.registration_closes_at.map(|t| lang.moment(t))),
        };
        Self {
            slug: view.slug.clone(),
            name: view.name.clone(),
            description: view.description.clone(),
            venue: view.venue.clone(),
            contact_email: view.contact_email.clone(),
            dates: lang.date_range(view.starts_on, view.ends_on),
            open: view.registration_open,
            opens,
            closes: view
                .registration_closes_at
                .filter(|_| view.registration_open)
                .map(|t| lang.moment(t)),
            closed,
            full: view.places_left == Some(0),
            intro_key: if view.assignment_mode == "preferences" {
                "site_visits_intro.preferences"
            } else {
                "site_visits_intro.first_come"
            },
            max_choices: view.max_preferences.min(view.site_visits.len() as i32),
        }
    }
}

#[derive(Serialize)]
struct VisitContext {
    slug: String,
    name: String,
    description: String,
    location: String,
    meeting_point: String,
    when: String,
    seats_left: i32,
    full: bool,
}

fn visits(view: &EventView, lang: Lang) -> Vec<VisitContext> {
    view.site_visits
        .iter()
        .map(|visit| VisitContext {
            slug: visit.slug.clone(),
            name: visit.name.clone(),
            description: visit.description.clone(),
            location: visit.location.clone(),
            meeting_point: visit.meeting_point.clone(),
            when: lang.time_range(visit.starts_at, visit.ends_at),
            seats_left: visit.seats_left,
            full: visit.seats_left == 0,
        })
        .collect()
}

/// What the person typed, kept to show the form again.
#[derive(Default, Serialize)]
struct FormValues {
    first_name: String,
    last_name: String,
    email: String,
    organisation: String,
    country: String,
    job_title: String,
    dietary: String,
    /// One entry per choice box, blanks included, so each stays where it was.
    preferences: Vec<String>,
    consent: bool,
}

fn text_of(form: &Map<String, Json>, field: &str) -> String {
    form.get(field)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn preferences_of(form: &Map<String, Json>) -> Vec<String> {
    match form.get("preferences") {
        Some(Json::String(one)) => vec![one.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| item.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

impl FormValues {
    fn from_form(form: &Map<String, Json>) -> Self {
        Self {
            first_name: text_of(form, "first_name"),
            last_name: text_of(form, "last_name"),
            email: text_of(form, "email"),
            organisation: text_of(form, "organisation"),
            country: text_of(form, "country"),
            job_title: text_of(form, "job_title"),
            dietary: text_of(form, "dietary"),
            preferences: preferences_of(form),
            consent: matches!(
                text_of(form, "consent").to_ascii_lowercase().as_str(),
                "on" | "true" | "1" | "yes"
            ),
        }
    }
}

/// One ranked choice box.
#[derive(Serialize)]
struct Choice {
    id: String,
    label: String,
    selected: String,
}

fn choices(lang: Lang, count: i32, selected: &[String]) -> Vec<Choice> {
    (1..=count.max(0) as usize)
        .map(|rank| Choice {
            id: format!("choice-{rank}"),
            label: lang.choice_label(rank),
            selected: selected.get(rank - 1).cloned().unwrap_or_default(),
        })
        .collect()
}

/// An entry of the error summary at the top of a form, linking to its field.
#[derive(Serialize)]
struct ErrorLine {
    target: String,
    label: String,
    message: String,
}

/// Field errors as the page shows them: sentences in the page's language, each once.
#[derive(Default, Serialize)]
struct PageErrors {
    fields: BTreeMap<String, Vec<String>>,
    summary: Vec<ErrorLine>,
}

/// The form's fields in the order they appear: the summary lists errors that way.
const FORM_ORDER: [&str; 9] = [
    "first_name",
    "last_name",
    "email",
    "organisation",
    "country",
    "job_title",
    "dietary",
    "preferences",
    "consent",
];

impl PageErrors {
    fn new(lang: Lang, errors: &FieldErrors) -> Self {
        let mut fields: Vec<(&String, &Vec<String>)> = errors.iter().collect();
        fields.sort_by_key(|(field, _)| {
            FORM_ORDER
                .iter()
                .position(|f| f == field)
                .unwrap_or(FORM_ORDER.len())
        });
        let mut page = Self::default();
        for (field, messages) in fields {
            for message in messages {
                page.add(lang, field, lang.field_error(message));
            }
        }
        page
    }

    /// The summary's lines about answers name their question and come in the form's
    /// order: the questions as asked, before the consent box.
    fn label_questions(&mut self, questions: &[QuestionField]) {
        let position = |target: &str| questions.iter().position(|q| q.id == target);
        let (mut answers, others): (Vec<ErrorLine>, Vec<ErrorLine>) = std::mem::take(&mut self.summary)
            .into_iter()
            .partition(|line| position(&line.target).is_some());
        for line in &mut answers {
            if let Some(at) = position(&line.target) {
                line.label = questions[at].label.clone();
            }
        }
        answers.sort_by_key(|line| position(&line.target));
        let consent = others
            .iter()
            .position(|line| line.target == "consent")
            .unwrap_or(others.len());
        let mut others = others;
        let after: Vec<ErrorLine> = others.split_off(consent);
        self.summary = others.into_iter().chain(answers).chain(after).collect();
    }

    fn add(&mut self, lang: Lang, field: &str, message: String) {
        let messages = self.fields.entry(field.to_owned()).or_default();
        if messages.contains(&message) {
            return;
        }
        messages.push(message.clone());
        let (target, label_key) = match field {
            "preferences" => ("choice-1", "choices_legend"),
            "consent" => ("consent", "privacy"),
            other => (other, other),
        };
        self.summary.push(ErrorLine {
            target: target.to_owned(),
            label: lang.text(label_key).unwrap_or(field).to_owned(),
            message,
        });
    }
}

#[derive(Serialize)]
struct EventPage {
    event: EventContext,
    visits: Vec<VisitContext>,
    values: FormValues,
    errors: PageErrors,
    choices: Vec<Choice>,
    countries: &'static [CountryChoice],
    switch_path: String,
    /// The event-wide questions (docs/questions.md).
    questions: Vec<QuestionField>,
}

impl EventPage {
    fn new(view: &EventView, lang: Lang, values: FormValues, errors: PageErrors) -> Self {
        let event = EventContext::new(view, lang);
        Self {
            questions: Vec::new(),
            choices: choices(lang, event.max_choices, &values.preferences),
            switch_path: format!("/events/{}", view.slug),
            visits: visits(view, lang),
            event,
            values,
            errors,
            countries: all_countries(),
        }
    }
}

async fn load_event(state: &AppState, page: &PageRequest, slug: String) -> Result<EventView, PageError> {
    state
        .db
        .read(move |conn| catalog::event_view(conn, &slug, now()))
        .await
        .or_page(page)
}

/// `GET /events/{event}`: the event, its site visits with seats left, and the form —
/// or, outside the registration window, when it opens or closed.
pub async fn event_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let view = load_event(&state, &page, path_param(&req, "event")).await?;
    let mut context = EventPage::new(&view, page.lang, FormValues::default(), PageErrors::default());
    context.questions = registration_questions(&state, &page, &view, &Map::new()).await?;
    page.render(StatusCode::OK, "event.html.j2", context)
}

/// The event-wide questions of the registration form, with what `form` sent.
async fn registration_questions(
    state: &AppState,
    page: &PageRequest,
    view: &EventView,
    form: &Map<String, Json>,
) -> Result<Vec<QuestionField>, PageError> {
    let rules = preference_rules(state, view.slug.clone()).await.or_page(page)?;
    Ok(question_fields(
        rules
            .questions
            .iter()
            .filter(|q| q.is_event_wide())
            .map(QuestionParts::of),
        page.lang,
        |id| sent_answer(form, id),
    ))
}

/// `POST /events/{event}/register`: the form, parsed exactly as the API's body is. On
/// success the confirmation; otherwise the form again with every message by its field
/// and every value kept.
pub async fn register(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let slug = path_param(&req, "event");
    let form = page.read_form(&req, payload, &state).await?;
    let values = FormValues::from_form(&form);
    let sent = form.clone();
    let event = load_event(&state, &page, slug.clone()).await?;
    let outcome = registering::register(&state, slug.clone(), form, None, page.lang).await;
    let lang = page.lang;
    let (status, errors) = match outcome {
        // Without a key nothing is kept, so nothing can be replayed.
        Ok(Answer::Replayed { .. }) => {
            return Err(ApiError::Internal("a write without a key was replayed".into())).or_page(&page)
        }
        // An address already registered gets this same page (invariant 13): what a new
        // registration would have been told, with a link that opens nothing; the page
        // says for everyone that the email then holds the right link.
        Ok(Answer::Fresh(registered)) => {
            let context = RegisteredPage::new(
                lang,
                &event.name,
                &registered.view,
                state.manage_url(&registered.manage_token),
            );
            return page.render(StatusCode::OK, "registered.html.j2", context);
        }
        Err(ApiError::Domain(DomainError::Validation(errors))) => {
            (StatusCode::UNPROCESSABLE_ENTITY, PageErrors::new(lang, &errors))
        }
        // The page shown again says when registration opens or closed.
        Err(ApiError::Domain(DomainError::RegistrationClosed(_))) => {
            (StatusCode::CONFLICT, PageErrors::default())
        }
        Err(other) => return Err(other).or_page(&page),
    };
    // Read again: the window or the seats left may have changed meanwhile.
    let view = load_event(&state, &page, slug).await?;
    let mut context = EventPage::new(&view, lang, values, errors);
    context.questions = registration_questions(&state, &page, &view, &sent).await?;
    context.errors.label_questions(&context.questions);
    page.render(status, "event.html.j2", context)
}

/// A seat or a place on a waiting list, as the pages show it.
#[derive(Serialize)]
struct SeatContext {
    name: String,
    assigned: bool,
    waitlist_position: Option<i64>,
    when: String,
    location: String,
    meeting_point: String,
}

impl SeatContext {
    fn new(seat: &SeatView, lang: Lang) -> Self {
        Self {
            name: seat.name.clone(),
            assigned: seat.status == SeatStatus::Assigned,
            waitlist_position: seat.waitlist_position,
            when: lang.time_range(seat.starts_at, seat.ends_at),
            location: seat.location.clone(),
            meeting_point: seat.meeting_point.clone(),
        }
    }
}

#[derive(Serialize)]
struct RegisteredPage {
    event_name: String,
    email: String,
    event_waitlisted: bool,
    event_waitlist_position: Option<i64>,
    seat: Option<SeatContext>,
    manage_url: String,
}

impl RegisteredPage {
    fn new(lang: Lang, event_name: &str, view: &RegistrationView, manage_url: String) -> Self {
        Self {
            event_name: event_name.to_owned(),
            email: view.email.clone(),
            event_waitlisted: view.status == RegistrationStatus::Waitlisted,
            event_waitlist_position: view.waitlist_position,
            seat: view.site_visit.as_ref().map(|seat| SeatContext::new(seat, lang)),
            manage_url,
        }
    }
}

/// The registration as the manage page shows it.
#[derive(Serialize)]
struct RegistrationContext {
    first_name: String,
    last_name: String,
    email: String,
    organisation: String,
    country_name: String,
    job_title: Option<String>,
    dietary: Option<String>,
    status_key: String,
    cancelled: bool,
    event_waitlist_position: Option<i64>,
    registered_on: String,
    /// Names of the ranked visits, best first.
    ranked: Vec<String>,
}

impl RegistrationContext {
    fn new(view: &RegistrationView, event: &EventView, lang: Lang) -> Self {
        let name_of = |slug: &String| {
            event
                .site_visits
                .iter()
                .find(|v| &v.slug == slug)
                .map_or_else(|| slug.clone(), |v| v.name.clone())
        };
        Self {
            first_name: view.first_name.clone(),
            last_name: view.last_name.clone(),
            email: view.email.clone(),
            organisation: view.organisation.clone(),
            country_name: view.country_name.clone(),
            job_title: view.job_title.clone(),
            dietary: view.dietary.clone(),
            status_key: format!("status.{}", view.status.as_str()),
            cancelled: view.status == RegistrationStatus::Cancelled,
            event_waitlist_position: view
                .waitlist_position
                .filter(|_| view.status == RegistrationStatus::Waitlisted),
            registered_on: lang.date(view.registered_at.date_naive()),
            ranked: view.preferences.iter().map(name_of).collect(),
        }
    }
}

/// A seat held for the person, with what they need to answer: the visit, when it runs
/// and until when the seat is held (in the event's time zone).
#[derive(Serialize)]
struct OfferContext {
    name: String,
    deadline: String,
    when: String,
    location: String,
    meeting_point: String,
    /// The visit whose seat accepting gives up, if they hold one.
    gives_up: Option<String>,
}

impl OfferContext {
    fn new(offer: &OfferView, view: &RegistrationView, event: &EventView, lang: Lang) -> Self {
        let visit = event.site_visits.iter().find(|v| v.slug == offer.site_visit);
        Self {
            name: offer.name.clone(),
            deadline: lang.moment_with_offset(offer.expires_at),
            when: visit.map_or_else(String::new, |v| lang.time_range(v.starts_at, v.ends_at)),
            location: visit.map_or_else(String::new, |v| v.location.clone()),
            meeting_point: visit.map_or_else(String::new, |v| v.meeting_point.clone()),
            gives_up: view
                .site_visit
                .as_ref()
                .filter(|seat| seat.status == SeatStatus::Assigned)
                .map(|seat| seat.name.clone()),
        }
    }
}

/// The check-in code as the manage page shows it: a QR code drawn on the server as inline
/// SVG (no image to fetch, nothing the CSP has to allow), and the code in groups of four
/// to read out or type when a camera cannot scan it.
#[derive(Serialize)]
struct CheckinContext {
    grouped: String,
    /// `<svg>` markup from [`CheckinQr::svg`], which escapes its title.
    qr_svg: Option<String>,
}

impl CheckinContext {
    fn new(code: &str, lang: Lang) -> Self {
        let title = lang.text("checkin_qr_label").unwrap_or_default();
        let qr_svg = match CheckinQr::new(code) {
            Ok(qr) => Some(qr.svg(title)),
            // A code is always drawable; were it not, the page still shows it in text.
            Err(error) => {
                tracing::error!(%error, "check-in QR code not drawn");
                None
            }
        };
        Self {
            grouped: grouped(code),
            qr_svg,
        }
    }
}

#[derive(Serialize)]
struct ManagePage {
    manage_path: String,
    switch_path: String,
    flash_key: Option<String>,
    /// Why the last action could not be done (the page is answered with its status).
    alert_key: Option<&'static str>,
    offer: Option<OfferContext>,
    /// Only while the registration is confirmed.
    checkin: Option<CheckinContext>,
    event: EventContext,
    registration: RegistrationContext,
    seat: Option<SeatContext>,
    visits: Vec<VisitContext>,
    choices: Vec<Choice>,
    errors: PageErrors,
    can_change: bool,
    /// The questions that apply to the person, with their answers (docs/questions.md).
    questions: Vec<QuestionField>,
    answer_errors: PageErrors,
    answers_open: bool,
    /// Required questions not answered yet.
    answers_missing: bool,
    answers_until: String,
    countries: &'static [CountryChoice],
}

impl ManagePage {
    fn new(
        lang: Lang,
        token: &str,
        view: &RegistrationView,
        event: &EventView,
        selected: &[String],
        errors: PageErrors,
        checkin_code: Option<String>,
    ) -> Self {
        let manage_path = format!("/manage/{token}");
        let event_context = EventContext::new(event, lang);
        let registration = RegistrationContext::new(view, event, lang);
        Self {
            switch_path: manage_path.clone(),
            manage_path,
            flash_key: None,
            alert_key: None,
            offer: view
                .offer
                .as_ref()
                .map(|offer| OfferContext::new(offer, view, event, lang)),
            checkin: checkin_code.map(|code| CheckinContext::new(&code, lang)),
            can_change: event_context.open && !registration.cancelled,
            choices: choices(lang, event_context.max_choices, selected),
            seat: view.site_visit.as_ref().map(|seat| SeatContext::new(seat, lang)),
            visits: visits(event, lang),
            event: event_context,
            registration,
            errors,
            questions: Vec::new(),
            answer_errors: PageErrors::default(),
            answers_open: false,
            answers_missing: false,
            answers_until: String::new(),
            countries: all_countries(),
        }
    }

    /// The questions and answers of `answers`; with `sent`, the values of a form sent
    /// back with `errors`.
    fn with_answers(
        mut self,
        lang: Lang,
        answers: &AnswersView,
        sent: Option<&Map<String, Json>>,
        errors: PageErrors,
    ) -> Self {
        self.questions = question_fields(
            answers.questions.iter().map(QuestionParts::of_answer),
            lang,
            |id| match sent {
                Some(form) => sent_answer(form, id),
                None => answers
                    .questions
                    .iter()
                    .find(|q| q.id == id)
                    .and_then(|q| q.answer.clone()),
            },
        );
        self.answer_errors = errors;
        self.answer_errors.label_questions(&self.questions);
        self.answers_open = answers.answers_open;
        self.answers_missing = !answers.missing.is_empty();
        self.answers_until = answers
            .answers_close_at
            .map(|t| lang.moment(t))
            .unwrap_or_default();
        self
    }
}

/// The questions that apply to the holder of `token`, with their answers.
async fn load_answers(state: &AppState, page: &PageRequest, token: String) -> Result<AnswersView, PageError> {
    state
        .db
        .read(move |conn| booking::manage_view(conn, &token, now()).map(|(_, answers)| answers))
        .await
        .or_page(page)
}

/// `POST /manage/{token}/answers`: answers to the questions that apply to the person,
/// read as the API's `PATCH` reads them (only the questions sent change).
pub async fn change_answers(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let token = path_param(&req, "token");
    let form = page.read_form(&req, payload, &state).await?;
    let submitted = match form.get("answers") {
        Some(Json::Object(answers)) => answers.clone(),
        _ => Map::new(),
    };
    let lookup = token.clone();
    let outcome = state
        .db
        .write(move |conn| {
            let registration = booking::find_by_manage_token(conn, &lookup)?;
            booking::change_answers(conn, &registration, submitted.clone(), now())
        })
        .await;
    let (status, errors, alert) = match outcome {
        Ok(()) => return Ok(page.redirect(&format!("/manage/{token}?done=answers_saved"))),
        Err(DomainError::Validation(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            PageErrors::new(page.lang, &errors),
            None,
        ),
        Err(DomainError::AnswersClosed(_)) => (
            StatusCode::CONFLICT,
            PageErrors::default(),
            Some("answers_closed"),
        ),
        Err(DomainError::RegistrationClosed(_)) => (StatusCode::CONFLICT, PageErrors::default(), None),
        Err(other) => return Err(other).or_page(&page),
    };
    let (view, event) = load_registration(&state, &page, token.clone()).await?;
    let answers = load_answers(&state, &page, token.clone()).await?;
    let mut context = ManagePage::new(
        page.lang,
        &token,
        &view,
        &event,
        &view.preferences,
        PageErrors::default(),
        state.checkin_code(&view),
    )
    .with_answers(page.lang, &answers, Some(&form), errors);
    context.alert_key = alert;
    page.render(status, "manage.html.j2", context)
}

/// The registration behind a manage token and its event, read together; an unknown
/// token is the plain not-found page.
async fn load_registration(
    state: &AppState,
    page: &PageRequest,
    token: String,
) -> Result<(RegistrationView, EventView), PageError> {
    state
        .db
        .read(move |conn| {
            let view = booking::view_by_manage_token(conn, &token)?;
            let event = catalog::event_view(conn, &view.event, now())?;
            Ok::<_, DomainError>((view, event))
        })
        .await
        .or_page(page)
}

/// `GET /manage/{token}`: the registration, its seat or waiting-list place, and the
/// controls to change the ranking or cancel, and a seat offered with its answers.
/// `?done=…` shows what the last action did (after its redirect).
pub async fn manage_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let token = path_param(&req, "token");
    let (view, event) = load_registration(&state, &page, token.clone()).await?;
    let answers = load_answers(&state, &page, token.clone()).await?;
    let mut context = ManagePage::new(
        page.lang,
        &token,
        &view,
        &event,
        &view.preferences,
        PageErrors::default(),
        state.checkin_code(&view),
    )
    .with_answers(page.lang, &answers, None, PageErrors::default());
    context.flash_key = query_object(&req)
        .get("done")
        .and_then(Json::as_str)
        .filter(|done| {
            [
                "changed",
                "cancelled",
                "offer_accepted",
                "offer_declined",
                "answers_saved",
            ]
            .contains(done)
        })
        .map(|done| format!("flash.{done}"));
    page.render(StatusCode::OK, "manage.html.j2", context)
}

/// `POST /manage/{token}/preferences`: a new ranking, read as the API's `PATCH` reads it.
pub async fn change_choices(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let token = path_param(&req, "token");
    let form = page.read_form(&req, payload, &state).await?;
    let selected = preferences_of(&form);
    let (view, _) = load_registration(&state, &page, token.clone()).await?;
    let rules = preference_rules(&state, view.event.clone())
        .await
        .or_page(&page)?;
    let outcome = match parse_preference_change(form, &rules.as_preference_rules()) {
        Ok(preferences) => {
            let lookup = token.clone();
            state
                .db
                .write(move |conn| {
                    let registration = booking::find_by_manage_token(conn, &lookup)?;
                    booking::change_preferences(conn, &registration, &preferences, now())
                })
                .await
        }
        Err(error) => Err(error),
    };
    let (status, errors) = match outcome {
        Ok(()) => return Ok(page.redirect(&format!("/manage/{token}?done=changed"))),
        Err(DomainError::Validation(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            PageErrors::new(page.lang, &errors),
        ),
        // Closed meanwhile, or cancelled: the page shown again says which.
        Err(DomainError::RegistrationClosed(_)) => (StatusCode::CONFLICT, PageErrors::default()),
        Err(other) => return Err(other).or_page(&page),
    };
    let (view, event) = load_registration(&state, &page, token.clone()).await?;
    let answers = load_answers(&state, &page, token.clone()).await?;
    let context = ManagePage::new(
        page.lang,
        &token,
        &view,
        &event,
        &selected,
        errors,
        state.checkin_code(&view),
    )
    .with_answers(page.lang, &answers, None, PageErrors::default());
    page.render(status, "manage.html.j2", context)
}

#[derive(Serialize)]
struct CancelPage {
    manage_path: String,
    event_name: String,
}

/// `GET /manage/{token}/cancel`: the confirmation step before cancelling.
pub async fn confirm_cancel(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let token = path_param(&req, "token");
    let (view, event) = load_registration(&state, &page, token.clone()).await?;
    let manage_path = format!("/manage/{token}");
    if view.status == RegistrationStatus::Cancelled {
        return Ok(page.redirect(&manage_path));
    }
    let context = CancelPage {
        manage_path,
        event_name: event.name,
    };
    page.render(StatusCode::OK, "cancel.html.j2", context)
}

/// `POST /manage/{token}/cancel`: cancels (a second time changes nothing), then shows
/// the manage page.
pub async fn cancel(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let token = path_param(&req, "token");
    page.read_form(&req, payload, &state).await?;
    let lookup = token.clone();
    state
        .db
        .write(move |conn| {
            let registration = booking::find_by_manage_token(conn, &lookup)?;
            booking::cancel_registration(conn, &registration, now())
        })
        .await
        .or_page(&page)?;
    Ok(page.redirect(&format!("/manage/{token}?done=cancelled")))
}

/// `POST /manage/{token}/offer/accept`: the seat offered becomes the person's.
pub async fn accept_offer(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    answer_offer(req, payload, state, offers::accept, "offer_accepted").await
}

/// `POST /manage/{token}/offer/decline`: the seat offered goes to the next person, and
/// the visit leaves the person's ranking.
pub async fn decline_offer(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    answer_offer(req, payload, state, offers::decline, "offer_declined").await
}

/// Runs the person's answer to their offer, then shows the manage page. Only these
/// posted forms change an offer: the emails link to the page, because mail scanners
/// open links. An offer already answered or expired (a second click, a second tab, the
/// expiry worker first) is the manage page again as it stands, with a 409 and a
/// message saying so.
async fn answer_offer(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    answer: offers::Answer,
    done: &str,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest::new(&req, &state);
    let token = path_param(&req, "token");
    page.read_form(&req, payload, &state).await?;
    let lookup = token.clone();
    let outcome = state
        .db
        .write(move |conn| {
            let registration = booking::find_by_manage_token(conn, &lookup)?;
            answer(conn, &registration, now())
        })
        .await;
    match outcome {
        Ok(()) => Ok(page.redirect(&format!("/manage/{token}?done={done}"))),
        Err(DomainError::NoOpenOffer(_)) => {
            let (view, event) = load_registration(&state, &page, token.clone()).await?;
            let mut context = ManagePage::new(
                page.lang,
                &token,
                &view,
                &event,
                &view.preferences,
                PageErrors::default(),
                state.checkin_code(&view),
            );
            context.alert_key = Some("offer_gone");
            page.render(StatusCode::CONFLICT, "manage.html.j2", context)
        }
        Err(other) => Err(other).or_page(&page),
    }
}
