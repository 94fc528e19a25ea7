//! Signing in and out of the board, the session cookie, and the check every board
//! request starts with: a live session (`domain::board_sessions`) whose token still has
//! the role.

use actix_web::cookie::time::Duration as CookieAge;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::{board_cookie, page, switch_path, BOARD_PATH, SESSION_COOKIE};
use crate::domain::access::{self, Principal, Role};
use crate::domain::{board_sessions, now};
use crate::http::extract::{path_param, query_object};
use crate::http::pages::{OrPage, PageError, PageRequest};
use crate::http::problem::ApiError;
use crate::http::AppState;

/// The organiser or admin whose session this browser holds, if the session is stored,
/// unexpired and its token still live. A steward's session is refused (403): stewards
/// may open the check-in pages only, which ask [`session_holder`] instead.
pub(super) async fn signed_in(req: &HttpRequest, state: &AppState) -> Result<Option<Principal>, ApiError> {
    match session_holder(req, state).await? {
        Some(p) if !p.role.includes(Role::Organiser) => Err(ApiError::Forbidden(Role::Organiser.as_str())),
        holder => Ok(holder),
    }
}

/// Whoever holds this browser's live session: a steward, an organiser or an admin.
pub(super) async fn session_holder(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<Principal>, ApiError> {
    let Some(secret) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    let principal = state
        .db
        .read_statement(move |conn| board_sessions::principal(conn, &secret, now()))
        .await?;
    Ok(principal.filter(|p| p.role.includes(Role::Steward)))
}

/// Where a session of `role` may go after signing in: a steward only to the check-in
/// pages (anything else sends them to the list of events to check in at).
fn landing(role: Role, next: &str) -> &str {
    if role.includes(Role::Organiser) || super::checkin::steward_may_open(next) {
        next
    } else {
        super::checkin::CHECKIN_PATH
    }
}

/// Where sign-in may send the browser afterwards: a board page, nothing else (no other
/// site, and nothing that could not be a `Location` header).
fn safe_next(next: Option<&str>) -> &str {
    within(next, BOARD_PATH).unwrap_or(BOARD_PATH)
}

/// `path` when it is `root` or a page under it (`root/…`, `root?…`) and can only be a
/// path of this site that is safe in a `Location` header: no `//`, no backslash,
/// visible ASCII only. The one check of every "go back to" the board takes.
pub(super) fn within<'a>(path: Option<&'a str>, root: &str) -> Option<&'a str> {
    path.filter(|path| {
        let under = path
            .strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'));
        under && !path.contains("//") && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    })
}

/// The sign-in page's address, coming back to `next` afterwards.
fn sign_in_path(next: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    format!("/organiser/sign-in?{query}")
}

pub(super) fn to_sign_in(page: PageRequest, next: &str) -> HttpResponse {
    page.redirect(&sign_in_path(next))
}

fn form_text<'a>(form: &'a Map<String, Json>, field: &str) -> Option<&'a str> {
    form.get(field).and_then(Json::as_str).map(str::trim)
}

#[derive(Serialize)]
struct SignInPage {
    next: String,
    error: bool,
    switch_path: String,
}

/// `GET /organiser/sign-in?next=`: the sign-in form (or straight on, when signed in).
pub async fn sign_in_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let page = page(&req, &state);
    let query = query_object(&req);
    let next = safe_next(query.get("next").and_then(Json::as_str)).to_owned();
    if let Some(holder) = session_holder(&req, &state).await.or_page(&page)? {
        return Ok(page.redirect(landing(holder.role, &next)));
    }
    page.render(
        StatusCode::OK,
        "board_sign_in.html.j2",
        SignInPage {
            next,
            error: false,
            switch_path: switch_path(&req),
        },
    )
}

/// `POST /organiser/sign-in` with `token` and `next`: a live steward, organiser or admin
/// token opens a session of at most 12 hours (never past the token's expiry). A steward
/// goes on to the check-in pages only.
pub async fn sign_in(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    let form = page.read_form(&req, payload, &state).await?;
    let next = safe_next(form_text(&form, "next")).to_owned();
    let secret = form_text(&form, "token").unwrap_or_default().to_owned();
    // The secret is checked on a read connection: a wrong guess costs no write.
    let principal = state
        .db
        .read_statement(move |conn| access::authenticate(conn, &secret, now()))
        .await
        .or_page(&page)?
        .filter(|p| p.role.includes(Role::Steward));
    let session = match principal {
        Some(principal) => state
            .db
            .write(move |conn| board_sessions::open(conn, &principal.token_id, now()))
            .await
            .or_page(&page)?,
        None => None,
    };
    let Some(session) = session else {
        return page.render(
            StatusCode::UNAUTHORIZED,
            "board_sign_in.html.j2",
            SignInPage {
                switch_path: sign_in_path(&next),
                next,
                error: true,
            },
        );
    };
    let secure = page.secure();
    page.add_cookie(board_cookie(
        SESSION_COOKIE,
        session.secret,
        CookieAge::seconds(session.lasts.num_seconds()),
        secure,
    ));
    let principal = session.principal;
    tracing::info!(name = %principal.name, role = principal.role.as_str(), "board sign-in");
    Ok(page.redirect(landing(principal.role, &next)))
}

/// `POST /organiser/sign-out`: ends the session on the server (a copy of the cookie
/// elsewhere stops working too) and forgets it in this browser.
pub async fn sign_out(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut page = page(&req, &state);
    page.read_form(&req, payload, &state).await?;
    if let Some(secret) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        state
            .db
            .write(move |conn| board_sessions::end(conn, &secret))
            .await
            .or_page(&page)?;
    }
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
