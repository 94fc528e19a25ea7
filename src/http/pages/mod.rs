//! The web pages: HTML rendered on the server from minijinja templates
//! (`templates/pages/`, compiled into the binary), with a hand-written stylesheet and a
//! few lines of optional JavaScript. Like the JSON API, handlers here only read forms
//! and render; every rule is the domain's, reached through the same functions.
//!
//! What all pages share lives here: the language (the `?lang=` switch, then its cookie,
//! then `Accept-Language`, then English), the CSRF check (double-submit cookie plus an
//! origin check), security headers, error pages and the static files.

pub mod board;
pub mod participant;

use std::sync::LazyLock;

use actix_web::cookie::{time::Duration as CookieAge, Cookie, SameSite};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use minijinja::value::Kwargs;
use minijinja::{context, AutoEscape, Environment, ErrorKind, State, Value};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::cross_site::{claimed_origin, is_same_origin};
use super::extract::{path_param, read_object};
use super::problem::ApiError;
use super::AppState;
use crate::domain::access::new_secret;
use crate::i18n::Lang;

const PAGE_TEMPLATES: [(&str, &str); 17] = [
    (
        "layout.html.j2",
        include_str!("../../../templates/pages/layout.html.j2"),
    ),
    (
        "macros.html.j2",
        include_str!("../../../templates/pages/macros.html.j2"),
    ),
    (
        "event.html.j2",
        include_str!("../../../templates/pages/event.html.j2"),
    ),
    (
        "registered.html.j2",
        include_str!("../../../templates/pages/registered.html.j2"),
    ),
    (
        "manage.html.j2",
        include_str!("../../../templates/pages/manage.html.j2"),
    ),
    (
        "cancel.html.j2",
        include_str!("../../../templates/pages/cancel.html.j2"),
    ),
    (
        "error.html.j2",
        include_str!("../../../templates/pages/error.html.j2"),
    ),
    (
        "board.html.j2",
        include_str!("../../../templates/pages/board.html.j2"),
    ),
    (
        "board_sign_in.html.j2",
        include_str!("../../../templates/pages/board_sign_in.html.j2"),
    ),
    (
        "board_events.html.j2",
        include_str!("../../../templates/pages/board_events.html.j2"),
    ),
    (
        "board_allocation.html.j2",
        include_str!("../../../templates/pages/board_allocation.html.j2"),
    ),
    (
        "board_messages.html.j2",
        include_str!("../../../templates/pages/board_messages.html.j2"),
    ),
    (
        "board_message.html.j2",
        include_str!("../../../templates/pages/board_message.html.j2"),
    ),
    (
        "board_roster.html.j2",
        include_str!("../../../templates/pages/board_roster.html.j2"),
    ),
    (
        "checkin_events.html.j2",
        include_str!("../../../templates/pages/checkin_events.html.j2"),
    ),
    (
        "checkin_lists.html.j2",
        include_str!("../../../templates/pages/checkin_lists.html.j2"),
    ),
    (
        "checkin_list.html.j2",
        include_str!("../../../templates/pages/checkin_list.html.j2"),
    ),
];

const STYLESHEET: &str = include_str!("../../../static/rallypoint.css");
const SCRIPT: &str = include_str!("../../../static/rallypoint.js");
const CHECKIN_SCRIPT: &str = include_str!("../../../static/checkin.js");

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    for (name, source) in PAGE_TEMPLATES {
        env.add_template(name, source)
            .expect("the page templates compile");
    }
    env.add_function("t", translate);
    env
});

/// Changes whenever the stylesheet or the script does, so their URLs can be cached for
/// good (`/static/rallypoint.css?v=…`).
static STATIC_VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new()
        .chain_update(STYLESHEET)
        .chain_update(SCRIPT)
        .chain_update(CHECKIN_SCRIPT)
        .finalize();
    hex::encode(&digest[..6])
});

/// `t("key", name=value…)` in templates: the page text of `key` in the page's language
/// with `{name}` filled in. With `n=`, the `.one` or `.other` form is chosen (French
/// counts 0 and 1 as singular). An unknown key fails the render, so a test of the page
/// finds it.
fn translate(state: &State, key: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or_default();
    let count: Option<i64> = kwargs.get("n")?;
    let plural_key = count.map(|n| format!("{key}.{}", if lang.is_singular(n) { "one" } else { "other" }));
    let text = plural_key
        .as_deref()
        .and_then(|k| lang.text(k))
        .or_else(|| lang.text(key))
        .ok_or_else(|| minijinja::Error::new(ErrorKind::UndefinedError, format!("no page text `{key}`")))?;
    let mut filled = text.to_owned();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        filled = filled.replace(&format!("{{{name}}}"), &value.to_string());
    }
    kwargs.assert_all_used()?;
    Ok(filled)
}

const LANG_COOKIE: &str = "rp_lang";
const CSRF_COOKIE: &str = "rp_csrf";
const CSRF_FIELD: &str = "csrf_token";

/// The page's language: `?lang=` (which also sets the cookie) > the cookie >
/// `Accept-Language` > English.
fn negotiate(req: &HttpRequest) -> (Lang, Option<Lang>) {
    let asked = super::extract::query_object(req)
        .get("lang")
        .and_then(Json::as_str)
        .and_then(Lang::parse);
    if let Some(lang) = asked {
        return (lang, Some(lang));
    }
    let remembered = req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value()));
    (
        remembered.unwrap_or_else(|| super::extract::accept_language(req)),
        None,
    )
}

/// What every page handler starts from: the page's language, the CSRF token its forms
/// carry, and the cookies to set with the answer.
pub struct PageRequest {
    pub lang: Lang,
    csrf_token: String,
    cookies: Vec<Cookie<'static>>,
    secure: bool,
}

impl PageRequest {
    /// A participant page, in the negotiated language.
    pub fn new(req: &HttpRequest, state: &AppState) -> Self {
        let (lang, switched) = negotiate(req);
        let mut page = Self::in_language(req, state, lang);
        if let Some(lang) = switched {
            let cookie = Cookie::build(LANG_COOKIE, lang.code())
                .path("/")
                .http_only(true)
                .secure(page.secure)
                .same_site(SameSite::Lax)
                .max_age(CookieAge::days(365))
                .finish();
            page.cookies.push(cookie);
        }
        page
    }

    /// A page in one given language, without the switch's cookie.
    pub fn in_language(req: &HttpRequest, state: &AppState, lang: Lang) -> Self {
        let secure = state.public_url.starts_with("https://");
        let existing = req
            .cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| is_csrf_token(v));
        let mut cookies = Vec::new();
        let csrf_token = existing.unwrap_or_else(|| {
            let token = new_secret("");
            // A browser-session cookie: the same token serves every tab and form.
            cookies.push(
                Cookie::build(CSRF_COOKIE, token.clone())
                    .path("/")
                    .http_only(true)
                    .secure(secure)
                    .same_site(SameSite::Strict)
                    .finish(),
            );
            token
        });
        Self {
            lang,
            csrf_token,
            cookies,
            secure,
        }
    }

    /// Whether cookies this page sets must be `Secure` (the public URL is https).
    pub fn secure(&self) -> bool {
        self.secure
    }

    pub fn add_cookie(&mut self, cookie: Cookie<'static>) {
        self.cookies.push(cookie);
    }

    /// A posted form (URL-encoded), once its CSRF token has been checked; the token's
    /// field is taken out. Every page that accepts a form reads it through here.
    pub async fn read_form(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
        state: &AppState,
    ) -> Result<Map<String, Json>, PageError> {
        let mut form = read_object(req, payload, state.max_body_bytes)
            .await
            .or_page(self)?;
        self.verify_csrf(req, state, &mut form)?;
        Ok(form)
    }

    /// The double-submit check of a posted form: the `csrf_token` field must equal the
    /// `rp_csrf` cookie (compared in constant time), and an `Origin` — or, without one,
    /// a `Referer` — must be this site. The field is taken out of the form, so the rest
    /// parses like an API body. A failure is a plain 403 page and nothing else happens.
    ///
    /// `Origin: null` counts as no origin: with `Referrer-Policy: no-referrer`, browsers
    /// send exactly that for our own forms. The token still has to match, and the
    /// `SameSite=Strict` cookie is not even sent from another site.
    fn verify_csrf(
        &self,
        req: &HttpRequest,
        state: &AppState,
        form: &mut Map<String, Json>,
    ) -> Result<(), PageError> {
        let sent = match form.remove(CSRF_FIELD) {
            Some(Json::String(token)) => token,
            _ => return Err(self.error(StatusCode::FORBIDDEN, None)),
        };
        if csrf_matches(req, state, &sent) {
            Ok(())
        } else {
            Err(self.error(StatusCode::FORBIDDEN, None))
        }
    }

    /// Renders `template` with `context` and the values every page uses.
    pub fn render(
        self,
        status: StatusCode,
        template: &str,
        context: impl Serialize,
    ) -> Result<HttpResponse, PageError> {
        let lang = self.lang;
        let body = render_page(lang, &self.csrf_token, template, context).map_err(|e| {
            tracing::error!(error = %e, template, "page rendering failed");
            self.error(StatusCode::INTERNAL_SERVER_ERROR, None)
        })?;
        let mut response = HttpResponse::build(status);
        html_headers(&mut response, lang);
        for cookie in self.cookies {
            response.cookie(cookie);
        }
        Ok(response.body(body))
    }

    /// 303 See Other to `location` (after a form post: reloading does not post again).
    pub fn redirect(self, location: &str) -> HttpResponse {
        let mut response = HttpResponse::SeeOther();
        response.insert_header((header::LOCATION, location));
        html_headers(&mut response, self.lang);
        for cookie in self.cookies {
            response.cookie(cookie);
        }
        response.finish()
    }

    /// An error page of `status` in this page's language.
    pub fn error(&self, status: StatusCode, cause: Option<ApiError>) -> PageError {
        PageError {
            lang: self.lang,
            status,
            cause,
        }
    }
}

fn render_page(
    lang: Lang,
    csrf_token: &str,
    template: &str,
    context: impl Serialize,
) -> Result<String, minijinja::Error> {
    let langs: Vec<_> = Lang::ALL
        .iter()
        .map(|l| context! { code => l.code(), name => l.name(), current => *l == lang })
        .collect();
    let context = context! {
        lang => lang.code(),
        langs => langs,
        csrf_token => csrf_token,
        static_version => STATIC_VERSION.as_str(),
        ..Value::from_serialize(context)
    };
    TEMPLATES.get_template(template)?.render(context)
}

/// The double-submit check itself, for a form's field or a script's header
/// ([`CSRF_HEADER`]): `sent` must equal the `rp_csrf` cookie (compared in constant time),
/// and an `Origin` — or, without one, a `Referer` — must be this site (`Origin: null`
/// counts as none).
pub fn csrf_matches(req: &HttpRequest, state: &AppState, sent: &str) -> bool {
    let Some(cookie) = req.cookie(CSRF_COOKIE) else {
        return false;
    };
    let expected = cookie.value().as_bytes();
    if sent.len() != expected.len() || !bool::from(sent.as_bytes().ct_eq(expected)) {
        return false;
    }
    match claimed_origin(req.headers()) {
        Some(origin) => origin == "null" || is_same_origin(req, &state.public_url, &origin),
        None => true,
    }
}

/// The header in which a page's script sends the CSRF token the page embeds (the
/// cookie is `HttpOnly`, so the script cannot read it).
pub const CSRF_HEADER: &str = "x-csrf-token";

fn is_csrf_token(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Content type and the security headers of every HTML answer: no inline script or
/// style and nothing from elsewhere (CSP), no MIME sniffing, no framing, and no
/// `Referer` ever — a manage page's address is its holder's key. Pages carry personal
/// data and form tokens, so nothing is stored by caches.
fn html_headers(response: &mut HttpResponseBuilder, lang: Lang) {
    response
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_LANGUAGE, lang.code()));
}

/// A failed page request, answered with an HTML page (not a problem document: a person
/// is reading it) in the page's language.
#[derive(Debug, thiserror::Error)]
#[error("page failed with {status}")]
pub struct PageError {
    lang: Lang,
    status: StatusCode,
    cause: Option<ApiError>,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        match (&self.cause, self.status) {
            (_, StatusCode::SERVICE_UNAVAILABLE) => tracing::warn!(cause = ?self.cause, "page request shed"),
            (cause, status) if status.is_server_error() => tracing::error!(?cause, "page request failed"),
            _ => {}
        }
        let kind = match self.status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::SERVICE_UNAVAILABLE => "busy",
            s if s.is_client_error() => "bad_request",
            _ => "internal",
        };
        let body = render_page(self.lang, "", "error.html.j2", context! { kind => kind })
            .unwrap_or_else(|_| "<!DOCTYPE html><title>Error</title><p>Error</p>".to_owned());
        let mut response = HttpResponse::build(self.status);
        html_headers(&mut response, self.lang);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.body(body)
    }
}

/// Turns an API-layer failure into the error page of the same status.
pub trait OrPage<T> {
    fn or_page(self, page: &PageRequest) -> Result<T, PageError>;
}

impl<T, E: Into<ApiError>> OrPage<T> for Result<T, E> {
    fn or_page(self, page: &PageRequest) -> Result<T, PageError> {
        self.map_err(|e| {
            let error: ApiError = e.into();
            page.error(error.status_code(), Some(error))
        })
    }
}

/// `GET /static/{file}`: the stylesheet and the script, compiled in. With the current
/// `?v=` they may be cached for a year; otherwise caches must check again.
pub async fn static_file(req: HttpRequest) -> HttpResponse {
    let (content_type, body) = match path_param(&req, "file").as_str() {
        "rallypoint.css" => ("text/css; charset=utf-8", STYLESHEET),
        "rallypoint.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "checkin.js" => ("text/javascript; charset=utf-8", CHECKIN_SCRIPT),
        _ => return HttpResponse::NotFound().finish(),
    };
    let versioned = super::extract::query_object(&req)
        .get("v")
        .and_then(Json::as_str)
        .is_some_and(|v| v == STATIC_VERSION.as_str());
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CACHE_CONTROL,
            if versioned {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            },
        ))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_function_fills_values_and_picks_plurals_in_both_languages() {
        // The page tests render every page; this checks the function they all use.
        for lang in Lang::ALL {
            let env = &*TEMPLATES;
            let out = env
                .render_str(
                    "{{ t('seats_left', n=1) }}|{{ t('seats_left', n=5) }}|{{ t('contact', email='a@b') }}",
                    context! { lang => lang.code() },
                )
                .unwrap();
            let expected = match lang {
                Lang::En => "1 seat left|5 seats left|Questions? Write to a@b.",
                Lang::Fr => "1 place restante|5 places restantes|Des questions ? Écrivez à a@b.",
            };
            assert_eq!(out, expected);
        }
        assert!(TEMPLATES
            .render_str("{{ t('no-such-key') }}", context! { lang => "en" })
            .is_err());
    }
}
