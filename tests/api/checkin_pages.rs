//! Issue 18: the board's check-in pages, on both backends, as a browser without
//! JavaScript meets them (and the two JSON endpoints its script calls): a steward signs
//! in, sees the lists, searches a name and checks the person in with the form; a second
//! check-in says "already"; the steward is refused everywhere else on the board; the
//! script's endpoints need the session and the CSRF header, and a replayed nonce writes
//! nothing. Also the API's `registration` in place of `code`.

use rallypoint::domain::access::Role;
use rallypoint::domain::DomainError;
use serde_json::{json, Value};

use crate::browsing::{unescaped, Browser, Page};
use crate::helpers::{call, participant, token, Backend, TestApp};

crate::on_both_backends!(
    a_steward_checks_people_in_by_name_with_the_form,
    a_steward_may_open_nothing_else_of_the_board,
    the_scripts_endpoints_need_the_session_and_the_csrf_header,
    the_api_checks_in_by_registration_id_too,
);

/// Event `gate` with visits a and b (five seats each); p0, p1 in a, p2, p3 in b.
fn gate(app: &TestApp) -> Vec<String> {
    app.create_event("gate", json!({}), &[("a", 5), ("b", 5)]);
    ["a", "a", "b", "b"]
        .iter()
        .enumerate()
        .map(|(n, visit)| {
            let reply = app.register("gate", &participant(n, &[visit]));
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.json()["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn status(app: &TestApp, list: &str, token: &str) -> Value {
    let reply = call(
        ureq::get(&app.url(&format!("/api/v1/events/gate/checkin-lists/{list}/status")))
            .set("Authorization", &format!("Bearer {token}")),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn scans_recorded(app: &TestApp) -> i64 {
    app.server
        .db
        .read_blocking(move |conn| -> Result<i64, DomainError> {
            let row = rallypoint::store::events::find_by_slug(conn, "gate")?.unwrap();
            Ok(rallypoint::store::checkins::count_scans(conn, &row.id)?)
        })
        .unwrap()
}

/// The number shown in `<dd id="{id}">`.
fn count(page: &Page, id: &str) -> i64 {
    let marker = format!("id=\"{id}\">");
    let at = page.body.find(&marker).unwrap_or_else(|| panic!("no {id}")) + marker.len();
    page.body[at..at + page.body[at..].find('<').unwrap()]
        .parse()
        .unwrap()
}

const LIST_A: &str = "/organiser/events/gate/checkin/visit:a";

fn a_steward_checks_people_in_by_name_with_the_form(backend: Backend) {
    let app = TestApp::spawn(backend);
    let ids = gate(&app);
    let steward = token(&app.server.db, Role::Steward, "gate steward");
    let browser = Browser::new(&app);
    assert_eq!(browser.get("/organiser/sign-in").status, 200);
    let signed = browser.submit(
        "/organiser/sign-in",
        &[("token", &steward), ("next", "/organiser")],
    );
    assert_eq!(
        signed.location(),
        "/organiser/checkin",
        "a steward lands on check-in"
    );

    let events = browser.get_ok("/organiser/checkin");
    events.assert_contains("/organiser/events/gate/checkin");
    let lists = browser.get_ok("/organiser/events/gate/checkin");
    let links: Vec<String> = lists.attributes("href").iter().map(|h| unescaped(h)).collect();
    for list in ["entry", "visit:a", "visit:b"] {
        assert!(
            links.contains(&format!("/organiser/events/gate/checkin/{list}")),
            "{links:?}"
        );
    }
    lists.assert_contains("0 of 4 checked in");
    lists.assert_contains("0 of 2 checked in");

    // The list page, a search, the form.
    let page = browser.get_ok(LIST_A);
    assert_eq!(
        (count(&page, "count-expected"), count(&page, "count-checked-in")),
        (2, 0)
    );
    page.assert_contains("/static/checkin.js");
    page.assert_lacks("<script>");
    let found = browser.get_ok(&format!("{LIST_A}?q=participant1"));
    assert_eq!(found.row_ids(), [ids[1].clone()]);
    let nonce = found.input_value("nonce");
    let registration = found.input_value("registration");
    assert_eq!(registration, ids[1]);
    let before = scans_recorded(&app);
    let done = browser.submit(
        LIST_A,
        &[
            ("registration", &registration),
            ("nonce", &nonce),
            ("q", "participant1"),
        ],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    done.assert_contains("Participant1 Tester is checked in.");
    assert_eq!(count(&done, "count-checked-in"), 1);
    assert_eq!(count(&done, "count-inside"), 1);
    done.assert_contains("Checked in ");
    let api = status(&app, "visit:a", &steward);
    assert_eq!(
        (api["checked_in"].as_i64(), api["inside"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(scans_recorded(&app), before + 1);

    // The same form again (a reload): a replay, nothing written.
    let again = browser.submit(LIST_A, &[("registration", &registration), ("nonce", &nonce)]);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        scans_recorded(&app),
        before + 1,
        "a replayed nonce writes nothing"
    );
    // A second check-in (another nonce): already, with when.
    let second = browser.submit(
        LIST_A,
        &[("registration", &registration), ("nonce", "second-nonce-0001")],
    );
    second.assert_contains("Participant1 Tester was already checked in ");
    assert_eq!(count(&second, "count-checked-in"), 1);
    // Seated in b: the page names b and links to its list.
    let wrong = browser.submit(
        LIST_A,
        &[("registration", &ids[2]), ("nonce", "wrong-nonce-0001")],
    );
    wrong.assert_contains("Participant2 Tester is not on this list: their group is Visit b.");
    wrong.assert_contains("visit:b");
    // Nobody by that name; and the page in French.
    browser
        .get_ok(&format!("{LIST_A}?q=nobody"))
        .assert_contains("Nobody on this list has that name.");
    let french = browser.get_ok(&format!("{LIST_A}?lang=fr"));
    french.assert_contains("Enregistrés");
    french.assert_contains("lang=\"fr\"");
    let api = status(&app, "visit:a", &steward);
    assert_eq!(api["checked_in"], 1);

    // The organisers' roster of visit a says who is checked in, and only them.
    let board = Browser::signed_in(&app, &app.organiser);
    let roster = board.get_ok("/organiser/events/gate/site-visits/a");
    assert_eq!(roster.row_ids(), ids[..2]);
    assert_eq!(roster.body.matches("seated · checked in ").count(), 1);
    let row = &roster.body[roster.body.find(&format!("data-id=\"{}\"", ids[1])).unwrap()..];
    assert!(row[..row.find("</tr>").unwrap()].contains("seated · checked in "));
    board
        .get_ok("/organiser/events/gate/site-visits/a?lang=fr")
        .assert_says("place attribuée · présent·e depuis le ");
}

fn a_steward_may_open_nothing_else_of_the_board(backend: Backend) {
    let app = TestApp::spawn(backend);
    let ids = gate(&app);
    let steward = token(&app.server.db, Role::Steward, "gate steward");
    let browser = Browser::signed_in(&app, &steward);
    for path in [
        "/organiser",
        "/organiser/events/gate",
        "/organiser/events/gate/site-visits/a",
        "/organiser/events/gate/without-seat",
        "/organiser/events/gate/exports/counts?by=country&format=csv",
        "/organiser/events/gate/exports/attendees?format=csv",
    ] {
        let page = browser.get(path);
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        page.assert_lacks("Participant0");
    }
    let moved = browser.submit(
        "/organiser/events/gate/move",
        &[("registration", &ids[0]), ("site_visit", "b")],
    );
    assert_eq!(moved.status, 403, "{}", moved.body);
    assert_eq!(
        app.event("gate")["site_visits"][0]["assigned"],
        2,
        "nothing moved"
    );
    // Signing in again with a board page as `next` still lands on check-in.
    let signed = browser.submit(
        "/organiser/sign-in",
        &[("token", &steward), ("next", "/organiser/events/gate")],
    );
    assert_eq!(signed.location(), "/organiser/checkin");
    // An organiser keeps the whole board, and may check in too.
    let organiser = Browser::signed_in(&app, &app.organiser);
    assert_eq!(organiser.get("/organiser/events/gate").status, 200);
    assert_eq!(organiser.get(LIST_A).status, 200);
    // Signing out works for the steward, and ends the check-in pages too.
    let out = browser.submit("/organiser/sign-out", &[]);
    assert_eq!(out.status, 303);
    assert!(browser.get(LIST_A).sent_to_sign_in());
}

fn post_scans(browser: &Browser, csrf: Option<&str>, body: &Value) -> Page {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(csrf) = csrf {
        headers.push(("X-CSRF-Token", csrf));
    }
    Page::read(
        browser
            .request("POST", &format!("{LIST_A}/scans"), &headers)
            .send_string(&body.to_string()),
    )
}

fn the_scripts_endpoints_need_the_session_and_the_csrf_header(backend: Backend) {
    let app = TestApp::spawn(backend);
    let ids = gate(&app);
    let steward = token(&app.server.db, Role::Steward, "gate steward");
    let browser = Browser::signed_in(&app, &steward);
    browser.get_ok(LIST_A);
    let csrf = browser.cookie("rp_csrf").unwrap();
    let page = browser.get_ok(LIST_A);
    assert_eq!(page.input_value("csrf_token"), csrf, "the page embeds the token");

    // The roster: the API's body and tag.
    let roster = browser.get(&format!("{LIST_A}/roster.json"));
    assert_eq!(roster.status, 200, "{}", roster.body);
    let api = call(
        ureq::get(&app.url("/api/v1/events/gate/checkin-lists/visit:a/roster"))
            .set("Authorization", &format!("Bearer {steward}")),
        None,
    );
    assert_eq!(roster.body, api.body);
    let etag = roster.header("etag").to_owned();
    assert!(!etag.is_empty());
    let unchanged = Page::read(
        browser
            .request(
                "GET",
                &format!("{LIST_A}/roster.json"),
                &[("If-None-Match", &etag)],
            )
            .call(),
    );
    assert_eq!(unchanged.status, 304);
    let stranger = Browser::new(&app);
    stranger.get_ok("/organiser/sign-in");
    assert_eq!(stranger.get(&format!("{LIST_A}/roster.json")).status, 401);

    // Scans: the header must carry the page's token, and a session must exist.
    let body = json!({"scans": [
        {"registration": ids[0], "direction": "in", "nonce": "page-nonce-0001", "scanned_at": "2030-06-02T11:00:00Z"},
        {"registration": ids[2], "direction": "in", "nonce": "page-nonce-0002"},
    ]});
    let before = scans_recorded(&app);
    assert_eq!(post_scans(&browser, None, &body).status, 403);
    assert_eq!(post_scans(&browser, Some(&"0".repeat(64)), &body).status, 403);
    let stranger_csrf = stranger.cookie("rp_csrf").unwrap();
    assert_eq!(post_scans(&stranger, Some(&stranger_csrf), &body).status, 401);
    assert_eq!(scans_recorded(&app), before, "refused requests write nothing");
    let sent = post_scans(&browser, Some(&csrf), &body);
    assert_eq!(sent.status, 200, "{}", sent.body);
    let answer: Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(answer["results"][0]["outcome"], "checked_in");
    assert_eq!(answer["results"][0]["list"], "visit:a");
    assert_eq!(answer["results"][1]["outcome"], "wrong_list");
    assert_eq!(answer["results"][1]["belongs_to"]["list"], "visit:b");
    assert_eq!(scans_recorded(&app), before + 2);
    // Sent again (a phone whose answer was lost): replays, nothing new.
    let again = post_scans(&browser, Some(&csrf), &body);
    let answer: Value = serde_json::from_str(&again.body).unwrap();
    assert_eq!(answer["replayed"], 2, "{answer}");
    assert_eq!(scans_recorded(&app), before + 2);
    assert_eq!(status(&app, "visit:a", &steward)["checked_in"], 1);
    // The roster changed, and so did its tag.
    let changed = Page::read(
        browser
            .request(
                "GET",
                &format!("{LIST_A}/roster.json"),
                &[("If-None-Match", &etag)],
            )
            .call(),
    );
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), etag);
}

fn the_api_checks_in_by_registration_id_too(backend: Backend) {
    let app = TestApp::spawn(backend);
    let ids = gate(&app);
    let steward = token(&app.server.db, Role::Steward, "gate steward");
    let scan = |body: Value| app.post_json("/api/v1/events/gate/checkins", &body, Some(&steward));
    let first =
        scan(json!({"registration": ids[0], "list": "entry", "direction": "in", "nonce": "api-nonce-0001"}));
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["person"]["id"], ids[0].as_str());
    scan(json!({"registration": ids[0], "list": "entry", "direction": "in", "nonce": "api-nonce-0002"}))
        .problem(409, "already-checked-in");
    scan(json!({"registration": "no-such-registration", "list": "entry", "direction": "in", "nonce": "api-nonce-0003"}))
        .problem(404, "not-found");
    let both = scan(
        json!({"registration": ids[1], "code": "ABCDEFGHIJKLMNOPQRST", "list": "entry",
        "direction": "in", "nonce": "api-nonce-0004"}),
    );
    let problem = both.problem(422, "validation-failed");
    assert!(problem["errors"]["registration"].is_array(), "{problem}");
}
