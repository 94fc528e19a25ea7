//! Signing in and out of the board, the signed session cookie, and the check every
//! board request starts with: a live session whose token still has the role.

use actix_web::cookie::time::Duration as CookieAge;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::{board_cookie, page, BOARD_PATH, SESSION_COOKIE, SESSION_HOURS};
use crate::domain::access::{self, Principal, Role};
use crate::http::extract::{path_param, query_object};
use crate::http::pages::{OrPage, PageError, PageRequest};
use crate::http::problem::ApiError;
use crate::http::AppState;

/// The organiser or admin whose session this browser holds, if it is valid, unexpired
/// and its token still live.
pub(super) async fn signed_in(req: &HttpRequest, state: &AppState) -> Result<Option<Principal>, ApiError> {
    let Some(token_id) = req.cookie(SESSION_COOKIE).and_then(|c| {
        state
            .manage_key
            .verify_session(c.value(), chrono::Utc::now().timestamp())
    }) else {
        return Ok(None);
    };
    let principal = state
        .db
        .read(move |conn| access::principal_by_token_id(conn, &token_id))
        .await?;
    Ok(principal.filter(|p| p.role.includes(Role::Organiser)))
}

/// Where sign-in may send the browser afterwards: a board page, nothing else (no other
/// site, and nothing that could not be a `Location` header).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if (path == BOARD_PATH || path.starts_with("/organiser/"))
                && !path.contains("//")
                && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            path
        }
        _ => BOARD_PATH,
    }
}

pub(super) fn to_sign_in(page: PageRequest, next: &str) -> HttpResponse {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    page.redirect(&format!("/organiser/sign-in?{query}"))
}

fn form_text<'a>(form: &'a Map<String, Json>, field: &str) -> Option<&'a str> {
    form.get(field).and_then(Json::as_str).map(str::trim)
}

#[derive(Serialize)]
struct SignInPage {
    next: String,
    error: bool,
}

/// `GET /organiser/sign-in?next=`: the sign-in form (or straight on, when signed in).
pub async fn sign_in_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let page = page(&req, &state);
    let query = query_object(&req);
    let next = safe_next(query.get("next").and_then(Json::as_str)).to_owned();
    if signed_in(&req, &state).await.or_page(&page)?.is_some() {
        return Ok(page.redirect(&next));
    }
    page.render(
        StatusCode::OK,
        "board_sign_in.html.j2",
        SignInPage { next, error: false },
    )
}

/// `POST /organiser/sign-in` with `token` and `next`: a valid organiser or admin token
/// opens a session of 12 hours.
pub async fn sign_in(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    let form = page.read_form(&req, payload, &state).await?;
    let next = safe_next(form_text(&form, "next")).to_owned();
    let secret = form_text(&form, "token").unwrap_or_default().to_owned();
    let principal = state
        .db
        .read(move |conn| access::authenticate(conn, &secret))
        .await
        .or_page(&page)?
        .filter(|p| p.role.includes(Role::Organiser));
    let Some(principal) = principal else {
        return page.render(
            StatusCode::UNAUTHORIZED,
            "board_sign_in.html.j2",
            SignInPage { next, error: true },
        );
    };
    let expires_at = chrono::Utc::now().timestamp() + SESSION_HOURS * 3600;
    let session = state.manage_key.sign_session(&principal.token_id, expires_at);
    let secure = page.secure();
    page.add_cookie(board_cookie(
        SESSION_COOKIE,
        session,
        CookieAge::hours(SESSION_HOURS),
        secure,
    ));
    tracing::info!(name = %principal.name, role = principal.role.as_str(), "board sign-in");
    Ok(page.redirect(&next))
}

/// `POST /organiser/sign-out`: forgets the session in this browser.
pub async fn sign_out(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    page.read_form(&req, payload, &state).await?;
    let secure = page.secure();
    page.add_cookie(board_cookie(
        SESSION_COOKIE,
        String::new(),
        CookieAge::ZERO,
        secure,
    ));
    Ok(page.redirect("/organiser/sign-in"))
}

/// Downloads from the board need an admin's session: without a session the browser is
/// sent to sign in (and back to the download after), an organiser's session is refused.
/// The cookie is `SameSite=Strict`, so a link on another site cannot start a download.
pub(super) async fn admin_session(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Result<(), HttpResponse>, PageError> {
    let page = page(req, state);
    let Some(principal) = signed_in(req, state).await.or_page(&page)? else {
        let next = match req.query_string() {
            "" => req.path().to_owned(),
            query => format!("{}?{query}", req.path()),
        };
        return Ok(Err(to_sign_in(page, &next)));
    };
    if principal.role.includes(Role::Admin) {
        Ok(Ok(()))
    } else {
        Err(page.error(
            StatusCode::FORBIDDEN,
            Some(ApiError::Forbidden(Role::Admin.as_str())),
        ))
    }
}

/// A board action's form, once its CSRF token and the session are checked.
pub(super) struct Action {
    pub(super) page: PageRequest,
    pub(super) event: String,
    pub(super) form: Map<String, Json>,
    pub(super) actor: Principal,
}

/// What every board action does first: read the form, check its CSRF token, then
/// require a live session with the organiser role. Without one the answer is the
/// redirect to sign in (and back to the board after).
pub(super) async fn authorise(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Result<Action, HttpResponse>, PageError> {
    let page = page(req, state);
    let event = path_param(req, "event");
    let form = page.read_form(req, payload, state).await?;
    Ok(match signed_in(req, state).await.or_page(&page)? {
        Some(actor) => Ok(Action {
            page,
            event,
            form,
            actor,
        }),
        None => Err(to_sign_in(page, &format!("/organiser/events/{event}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn sign_in_sends_the_browser_on_to_board_pages_only() {
        assert_eq!(safe_next(Some("/organiser/events/x")), "/organiser/events/x");
        assert_eq!(safe_next(Some("/organiser")), "/organiser");
        assert_eq!(safe_next(None), "/organiser");
        for elsewhere in [
            "https://evil.example/organiser/",
            "//evil.example",
            "/organiser//evil.example",
            "/organiser/\\evil.example",
            "/organiser/x\r\nSet-Cookie: a=b",
            "/events/x",
            "/organiserx",
        ] {
            assert_eq!(safe_next(Some(elsewhere)), "/organiser", "{elsewhere:?}");
        }
    }
}
