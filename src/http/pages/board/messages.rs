//! The board's messages (docs/messages.md): compose one to a group, preview it (a dry
//! run: how many, and the email as its first recipient reads it), send it to yourself
//! as a test, send it; then follow its emails. One form, three buttons; the rules and
//! the writes are `domain::messages`', as the API's.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::flash::{set_flash, take_flash, Flash};
use super::session::{authorise, signed_in, to_sign_in, Action};
use super::views::Viewer;
use super::{page, switch_path};
use crate::domain::catalog;
use crate::domain::messages::{self, Compose, Composed, MessageStatus};
use crate::domain::{now, DomainError};
use crate::http::extract::path_param;
use crate::http::pages::{OrPage, PageError, PageRequest};
use crate::http::AppState;

/// The form's fields, as typed (shown again after a preview or a refusal).
#[derive(Clone, Debug, Default, Serialize)]
struct Draft {
    site_visit: String,
    status: String,
    country: String,
    checked_in: String,
    subject_en: String,
    subject_fr: String,
    body_en: String,
    body_fr: String,
    test_to: String,
}

impl Draft {
    fn of(form: &Map<String, Value>) -> Self {
        let text = |name: &str| {
            form.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            site_visit: text("site_visit"),
            status: text("status"),
            country: text("country"),
            checked_in: text("checked_in"),
            subject_en: text("subject_en"),
            subject_fr: text("subject_fr"),
            body_en: text("body_en"),
            body_fr: text("body_fr"),
            test_to: text("test_to"),
        }
    }

    /// The API's body for this draft and button (blank fields are absent).
    fn body(&self, button: &str) -> Map<String, Value> {
        let mut body = json!({
            "audience": {
                "site_visit": self.site_visit, "status": self.status,
                "country": self.country, "checked_in": self.checked_in,
            },
            "subject": {"en": self.subject_en, "fr": self.subject_fr},
            "body": {"en": self.body_en, "fr": self.body_fr},
            "dry_run": button == "preview",
        });
        if button == "test" {
            body["test_to"] = json!(self.test_to);
        }
        match body {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
}

#[derive(Serialize)]
struct RecentLine {
    id: String,
    subject: String,
    recipients: i32,
    sent_by: String,
    when: String,
}

#[derive(Serialize)]
struct ComposePage {
    viewer: Viewer,
    switch_path: String,
    flash: Option<Flash>,
    event_slug: String,
    event_name: String,
    visits: Vec<Choice>,
    draft: Draft,
    /// Field → messages, when the last try was refused.
    errors: Vec<(String, Vec<String>)>,
    preview: Option<Composed>,
    recent: Vec<RecentLine>,
}

/// `GET /organiser/events/{event}/messages`: the form and the latest messages.
pub async fn messages_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    let event = path_param(&req, "event");
    let Some(actor) = signed_in(&req, &state).await.or_page(&page)? else {
        return Ok(to_sign_in(page, &format!("/organiser/events/{event}/messages")));
    };
    let flash = take_flash(&req, &mut page);
    let draft = Draft {
        site_visit: req_query(&req, "site_visit"),
        ..Draft::default()
    };
    compose_page(page, &req, &state, &actor, event, draft, flash, Vec::new(), None).await
}

fn req_query(req: &HttpRequest, name: &str) -> String {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.trim().chars().take(64).collect())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn compose_page(
    page: PageRequest,
    req: &HttpRequest,
    state: &AppState,
    actor: &crate::domain::access::Principal,
    event: String,
    draft: Draft,
    flash: Option<Flash>,
    errors: Vec<(String, Vec<String>)>,
    preview: Option<Composed>,
) -> Result<HttpResponse, PageError> {
    let lookup = event.clone();
    let (view, recent) = state
        .db
        .read(move |conn| {
            let view = catalog::event_view(conn, &lookup, now())?;
            let recent = messages::recent(conn, &lookup, 20)?;
            Ok::<_, DomainError>((view, recent))
        })
        .await
        .or_page(&page)?;
    let lang = page.lang;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let context = ComposePage {
        viewer: Viewer::of(actor),
        switch_path: switch_path(req),
        flash,
        event_slug: event,
        event_name: view.name,
        visits: view
            .site_visits
            .into_iter()
            .map(|v| Choice {
                value: v.slug,
                label: v.name,
            })
            .collect(),
        draft,
        errors,
        preview,
        recent: recent
            .into_iter()
            .map(|m| RecentLine {
                subject: if m.subject_en.is_empty() {
                    m.subject_fr
                } else {
                    m.subject_en
                },
                recipients: m.recipients,
                sent_by: m.sent_by_name,
                when: lang.moment(m.created_at.and_utc().fixed_offset()),
                id: m.id,
            })
            .collect(),
    };
    page.render(status, "board_messages.html.j2", context)
}

/// `POST /organiser/events/{event}/messages` with the draft and `button`: `preview`
/// (the page again with the count and the email), `test` (to `test_to` only) or `send`
/// (then the message's page).
pub async fn compose_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Action {
        mut page,
        event,
        form,
        actor,
    } = match authorise(&req, payload, &state).await? {
        Ok(action) => action,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let button = form
        .get("button")
        .and_then(Value::as_str)
        .unwrap_or("preview")
        .to_owned();
    let draft = Draft::of(&form);
    let composed = match Compose::parse(draft.body(&button)) {
        Ok(compose) => {
            let (event, sender) = (event.clone(), actor.clone());
            state
                .db
                .write(move |conn| messages::compose(conn, &event, &sender, &compose, now()))
                .await
        }
        Err(error) => Err(error),
    };
    let composed = match composed {
        Ok(composed) => composed,
        Err(DomainError::Validation(errors)) => {
            let errors = errors.into_iter().collect();
            return compose_page(page, &req, &state, &actor, event, draft, None, errors, None).await;
        }
        Err(error) => return Err(error).or_page(&page),
    };
    let lang = page.lang;
    match (&composed.id, &composed.test_sent_to) {
        (Some(id), _) => {
            let text = lang.fill("board.message_sent", &[("n", &composed.recipients)]);
            set_flash(&mut page, Ok(text));
            Ok(page.redirect(&format!("/organiser/events/{event}/messages/{id}")))
        }
        (None, Some(to)) => {
            let flash = Flash::ok(lang.fill("board.message_test_sent", &[("to", to)]));
            compose_page(
                page,
                &req,
                &state,
                &actor,
                event,
                draft,
                Some(flash),
                Vec::new(),
                None,
            )
            .await
        }
        (None, None) => {
            compose_page(
                page,
                &req,
                &state,
                &actor,
                event,
                draft,
                None,
                Vec::new(),
                Some(composed),
            )
            .await
        }
    }
}

#[derive(Serialize)]
struct MessagePage {
    viewer: Viewer,
    switch_path: String,
    flash: Option<Flash>,
    event_slug: String,
    event_name: String,
    message: MessageStatus,
    previous: Option<String>,
    next: Option<String>,
}

/// `GET /organiser/events/{event}/messages/{id}?page=`: the message, its totals and a
/// page of its recipients' emails.
pub async fn message_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    let (event, id) = (path_param(&req, "event"), path_param(&req, "id"));
    let Some(actor) = signed_in(&req, &state).await.or_page(&page)? else {
        return Ok(to_sign_in(
            page,
            &format!("/organiser/events/{event}/messages/{id}"),
        ));
    };
    let flash = take_flash(&req, &mut page);
    let wanted = req_query(&req, "page").parse::<i64>().unwrap_or(1);
    let lookup = event.clone();
    let (view, message) = state
        .db
        .read(move |conn| {
            let view = catalog::event_view(conn, &lookup, now())?;
            let message = messages::status(conn, &lookup, &id, wanted)?;
            Ok::<_, DomainError>((view, message))
        })
        .await
        .or_page(&page)?;
    let at = |n: i64| format!("/organiser/events/{event}/messages/{}?page={n}", message.id);
    let context = MessagePage {
        viewer: Viewer::of(&actor),
        switch_path: switch_path(&req),
        flash,
        event_name: view.name,
        previous: (message.page > 1).then(|| at(message.page - 1)),
        next: (message.page < message.pages).then(|| at(message.page + 1)),
        event_slug: event,
        message,
    };
    page.render(StatusCode::OK, "board_message.html.j2", context)
}
