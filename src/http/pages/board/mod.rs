//! The organisers' board: the paged, searchable list of events; each event's overview
//! (every visit's numbers with its capacity and freeze controls, registrations over
//! time, countries, links to the rosters) and the allocation (a dry run first, then
//! apply). In English and French, chosen as on the participant pages (`?lang=`, its
//! cookie, `Accept-Language`): texts from the one table, `i18n::TEXTS`, under `board.`.
//!
//! Sign-in takes an API token (organiser, admin, or steward for the check-in pages) once, checks it with the same
//! function as the API, and opens a session kept on the server; the cookie holds only
//! that session's random secret — never the token. Every request looks the session up
//! with its token, so signing out, revoking or the token's expiry ends the session at
//! once (copies of the cookie included), and every action re-checks the role. Actions are forms that call the same domain functions as `http::organiser`,
//! with the token's name as the audit actor, then redirect back with a flash message.
//!
//! One job per file: the session and the check every action starts with in
//! [`session`], the flash message in [`flash`], the pages in [`views`] (the overview's chart in
//! [`chart`]), the actions in [`actions`], the paged roster of one visit and the bulk
//! actions on its rows in [`roster`], messages to a group in [`messages`], the check-in pages (which stewards may open too,
//! and nothing else of the board) in [`checkin`].

mod actions;
mod chart;
mod checkin;
mod flash;
mod messages;
mod roster;
mod session;
mod views;

use actix_web::cookie::{time::Duration as CookieAge, Cookie, SameSite};
use actix_web::HttpRequest;

use super::PageRequest;
use crate::http::AppState;

pub use actions::{allocation, export_attendees, export_counts, move_person, update_visit};
pub use checkin::{
    checkin_by_form, checkin_events_page, checkin_list_page, checkin_lists_page, checkin_roster,
    checkin_scans,
};
pub use messages::{compose_message, message_page, messages_page};
pub use roster::{bulk_action, visit_roster_page, without_seat_page};
pub use session::{sign_in, sign_in_page, sign_out};
pub use views::{board_page, events_page};

const SESSION_COOKIE: &str = "rp_board";
const FLASH_COOKIE: &str = "rp_flash";
const BOARD_PATH: &str = "/organiser";

/// A board page or action, in the language negotiated like a participant page's.
fn page(req: &HttpRequest, state: &AppState) -> PageRequest {
    PageRequest::new(req, state)
}

/// The address the language switch adds `lang=` to: this page with its query (search,
/// filters, page), less any `lang` it had.
fn switch_path(req: &HttpRequest) -> String {
    let kept: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .filter(|(name, _)| name != "lang")
        .collect();
    if kept.is_empty() {
        return req.path().to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    format!("{}?{query}", req.path())
}

fn board_cookie(name: &'static str, value: String, max_age: CookieAge, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(BOARD_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .finish()
}
