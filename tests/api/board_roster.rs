//! Issue 17 over HTTP: the roster page of one visit (and of the people without a seat),
//! paged, searched without regard to case or accents, filtered and sorted; its waitlist
//! in the API roster's order and positions; the bulk move (each person on their own, the
//! ones that do not fit named) and the CSV of a selection; CSRF and sign-in as on the
//! rest of the board; the page and its messages in French.

use serde_json::{json, Value};

use crate::browsing::Browser;
use crate::helpers::{call, Backend, TestApp};

crate::on_both_backends!(
    roster_pages_page_search_filter_and_sort,
    the_waitlist_pages_keep_the_api_rosters_order_and_positions,
    bulk_move_moves_who_fits_and_names_who_does_not,
    the_csv_of_a_selection_is_those_lines_of_the_attendee_list,
    roster_pages_need_a_session_and_bulk_actions_a_csrf_token,
    the_roster_and_its_bulk_moves_speak_french,
);

fn person(
    n: usize,
    first: &str,
    last: &str,
    organisation: &str,
    country: &str,
    preferences: &[&str],
) -> Value {
    json!({
        "first_name": first, "last_name": last,
        "email": format!("person{n}@example.org"), "organisation": organisation,
        "country": country, "preferences": preferences, "consent": true
    })
}

/// Registers `count` people ranking `preferences`; a few carry accents. Their ids in
/// registration order.
fn register_people(app: &TestApp, event: &str, count: usize, preferences: &[&str]) -> Vec<String> {
    (0..count)
        .map(|n| {
            let body = match n {
                7 => person(n, "Zofia", "Łobocka", "Politechnika Łódzka", "PL", preferences),
                13 => person(n, "Jürgen", "Müller", "Fraunhofer", "DE", preferences),
                _ => {
                    let country = ["BE", "IT", "PT", "FR", "NL"][n % 5];
                    // Last names in an order other than registration order.
                    let last = format!("Name{:03}", (n * 37) % 1000);
                    person(n, &format!("First{n}"), &last, "Test Org", country, preferences)
                }
            };
            let reply = app.register(event, &body);
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.json()["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn organiser_get(app: &TestApp, path: &str) -> Value {
    let reply = call(
        ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn api_roster(app: &TestApp, event: &str, visit: &str) -> Value {
    organiser_get(app, &format!("/api/v1/events/{event}/site-visits/{visit}/roster"))
}

fn ids(people: &Value) -> Vec<String> {
    people
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The test's own folding of the few letters it uses: what sorting by name compares.
fn folded(text: &str) -> String {
    text.to_lowercase().replace('ł', "l").replace('ü', "u")
}

fn roster_pages_page_search_filter_and_sort(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("rp", json!({}), &[("big", 200), ("small", 1)]);
    let people = register_people(&app, "rp", 120, &["big"]);
    let browser = Browser::signed_in(&app, &app.organiser);
    let path = "/organiser/events/rp/site-visits/big";

    // Paging: first, middle, last, and past the last (the last page, said so).
    let first = browser.get(path);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.row_ids(), people[..50]);
    first.assert_contains("1–50 of 120 people · page 1 of 3");
    first.assert_contains("120 / 200 seated");
    // One form: the toolbar and a checkbox per row, no form per person.
    assert_eq!(
        first
            .body
            .matches("<form method=\"post\" action=\"/organiser/events/rp/bulk\"")
            .count(),
        1
    );
    assert_eq!(
        first
            .body
            .matches("type=\"checkbox\" name=\"registration\"")
            .count(),
        50
    );
    first.assert_contains("<label for=\"select-");
    let middle = browser.get(&format!("{path}?page=2"));
    assert_eq!(middle.row_ids(), people[50..100]);
    middle.assert_contains("51–100 of 120 people · page 2 of 3");
    middle.assert_contains("rel=\"prev\"");
    middle.assert_contains("rel=\"next\"");
    let last = browser.get(&format!("{path}?page=3"));
    assert_eq!(last.row_ids(), people[100..]);
    last.assert_contains("101–120 of 120 people · page 3 of 3");
    let beyond = browser.get(&format!("{path}?page=9"));
    assert_eq!(beyond.status, 200);
    assert_eq!(beyond.row_ids(), people[100..]);
    beyond.assert_contains("There is no such page: this is the last page, page 3 of 3.");
    assert_eq!(browser.get(&format!("{path}?page=junk")).row_ids(), people[..50]);

    // Search: letter case and accents ignored, on names, organisation and email.
    for (q, who) in [
        ("lobocka", 7),
        ("ŁOBOCKA", 7),
        ("lodzka", 7),
        ("muller", 13),
        ("MÜLLER", 13),
        ("person13@", 13),
    ] {
        let found = browser.get(&format!("{path}?q={}", urlencode(q)));
        assert_eq!(found.row_ids(), [people[who].clone()], "{q}");
    }
    found_nobody(&browser, &format!("{path}?q=nobody-here"));
    // The API's list searches by the same rule.
    let listed = organiser_get(&app, "/api/v1/events/rp/registrations?q=LOBOCKA");
    assert_eq!(ids(&listed["registrations"]), [people[7].clone()]);

    // Filters: country and status (all seated here), combined with search.
    let all = organiser_get(&app, "/api/v1/events/rp/registrations?limit=500");
    let everyone = all["registrations"].as_array().unwrap().clone();
    let italians: Vec<String> = everyone
        .iter()
        .filter(|p| p["country"] == "IT")
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let page = browser.get(&format!("{path}?country=it"));
    assert_eq!(page.row_ids(), italians);
    assert_eq!(
        browser.get(&format!("{path}?country=PL&q=zofia")).row_ids(),
        [people[7].clone()]
    );
    assert_eq!(
        browser.get(&format!("{path}?country=PL&q=muller")).row_ids(),
        Vec::<String>::new()
    );
    assert_eq!(
        browser.get(&format!("{path}?status=seated")).row_ids(),
        people[..50]
    );
    found_nobody(&browser, &format!("{path}?status=waiting"));
    found_nobody(&browser, &format!("{path}?status=offered"));

    // Sorts: name (last, first; "Łobocka" with the Ls), registration time, country.
    let key = |p: &Value, field: &str| p[field].as_str().unwrap().to_owned();
    let sorted = |mut list: Vec<Value>, by: &dyn Fn(&Value) -> (String, String, String)| {
        list.sort_by_key(|p| by(p));
        list.iter().map(|p| key(p, "id")).collect::<Vec<_>>()
    };
    let by_name = sorted(everyone.clone(), &|p| {
        (
            folded(&key(p, "last_name")),
            folded(&key(p, "first_name")),
            key(p, "id"),
        )
    });
    let by_country = sorted(everyone.clone(), &|p| {
        (
            key(p, "country"),
            folded(&key(p, "last_name")),
            folded(&key(p, "first_name")),
        )
    });
    let by_time: Vec<String> = everyone.iter().map(|p| key(p, "id")).collect();
    for (sort, expected) in [
        ("name", &by_name),
        ("registered", &by_time),
        ("country", &by_country),
    ] {
        let mut shown = browser.get(&format!("{path}?sort={sort}")).row_ids();
        shown.extend(browser.get(&format!("{path}?sort={sort}&page=2")).row_ids());
        shown.extend(browser.get(&format!("{path}?sort={sort}&page=3")).row_ids());
        assert_eq!(&shown, expected, "sort={sort}");
    }
    // Links keep the query.
    let page = browser.get(&format!("{path}?sort=name&status=seated"));
    page.assert_contains("?status=seated&amp;sort=name&amp;page=2\" rel=\"next\"");
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn found_nobody(browser: &Browser, path: &str) {
    let page = browser.get(path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.row_ids().is_empty(), "{path}");
    page.assert_contains("id=\"roster-empty\"");
}

fn the_waitlist_pages_keep_the_api_rosters_order_and_positions(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("wl", json!({}), &[("small", 1), ("big", 200)]);
    // The first takes the one seat of `small`; everyone else is seated in `big` and
    // waits for `small`, their first choice.
    let people = register_people(&app, "wl", 110, &["small", "big"]);
    let browser = Browser::signed_in(&app, &app.organiser);
    let roster = api_roster(&app, "wl", "small");
    let waitlist = roster["waitlist"].as_array().unwrap();
    assert_eq!(waitlist.len(), 109);
    let path = "/organiser/events/wl/site-visits/small?status=waiting";
    let mut shown = Vec::new();
    let mut positions = Vec::new();
    for n in 1..=3 {
        let page = browser.get(&format!("{path}&page={n}"));
        assert_eq!(page.status, 200, "{}", page.body);
        shown.extend(page.row_ids());
        positions.extend(page.attributes("data-position"));
    }
    assert_eq!(shown, ids(&roster["waitlist"]));
    let api_positions: Vec<String> = waitlist.iter().map(|w| w["position"].to_string()).collect();
    assert_eq!(positions, api_positions);
    // Everyone in roster order: the seated one, then the waitlist from #1.
    let page = browser.get("/organiser/events/wl/site-visits/small");
    assert_eq!(page.row_ids()[0], people[0]);
    assert_eq!(page.row_ids()[1..], ids(&roster["waitlist"])[..49]);
    page.assert_contains("1 / 1 seated · 0 offered · 109 waiting");
    page.assert_contains("#1 waiting · now in Visit big");
    page.assert_contains("1st choice");
    // A search keeps each person's own position.
    let found = browser.get(&format!("{path}&q=lobocka"));
    assert_eq!(found.row_ids(), [people[7].clone()]);
    let position = waitlist.iter().find(|w| w["id"] == people[7].as_str()).unwrap()["position"].to_string();
    assert_eq!(found.attributes("data-position"), [position]);

    // People holding no seat wait in the visit's queue, ahead of those who would move
    // up: a search finds each at their own place, and the last page of the waitlist
    // reads on from the queue into the others.
    let queued: Vec<String> = (0..3)
        .map(|n| {
            let reply = app.register(
                "wl",
                &person(500 + n, "Ana", "Łobocka", "Queue Org", "PT", &["small"]),
            );
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.json()["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let roster = api_roster(&app, "wl", "small");
    let waitlist = roster["waitlist"].as_array().unwrap();
    assert_eq!(ids(&roster["waitlist"])[..3], queued[..]);
    let expected: Vec<(String, String)> = waitlist
        .iter()
        .filter(|w| w["last_name"] == "Łobocka")
        .map(|w| (w["id"].as_str().unwrap().to_owned(), w["position"].to_string()))
        .collect();
    assert_eq!(expected.len(), 4);
    let found = browser.get(&format!("{path}&q=LOBOCKA"));
    let shown: Vec<(String, String)> = found
        .row_ids()
        .into_iter()
        .zip(found.attributes("data-position"))
        .collect();
    assert_eq!(shown, expected);
    let last = browser.get(&format!("{path}&page=3"));
    assert_eq!(last.row_ids(), ids(&roster["waitlist"])[100..]);
    let positions: Vec<String> = (101..=112).map(|p: usize| p.to_string()).collect();
    assert_eq!(last.attributes("data-position"), positions);
    let beyond = browser.get(&format!("{path}&page=1000"));
    assert_eq!(beyond.row_ids(), last.row_ids());
    beyond.assert_contains("this is the last page, page 3 of 3");
}

fn bulk_move_moves_who_fits_and_names_who_does_not(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("bm", json!({}), &[("a", 10), ("b", 3)]);
    let in_a = register_people(&app, "bm", 5, &["a"]);
    let reply = app.register("bm", &person(50, "Bea", "Seated", "Org", "BE", &["b"]));
    assert_eq!(reply.status, 201);
    let browser = Browser::signed_in(&app, &app.organiser);
    let page = browser.get("/organiser/events/bm/site-visits/a");
    assert_eq!(page.row_ids(), in_a);
    let back = "/organiser/events/bm/site-visits/a?sort=name";

    // b has two seats left: the first two selected are moved, the third is named.
    let moved = browser.submit(
        "/organiser/events/bm/bulk",
        &[
            ("registration", &in_a[0]),
            ("registration", &in_a[1]),
            ("registration", &in_a[2]),
            ("site_visit", "b"),
            ("action", "move"),
            ("back", back),
        ],
    );
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert_eq!(moved.header("location"), back);
    let after = browser.follow(moved);
    after.assert_contains("2 people moved to Visit b. Not moved: First2 Name074 (Visit b is full");
    after.assert_contains("notice--error");
    // Each move whole or not at all: the third still holds their seat in a.
    let b = api_roster(&app, "bm", "b");
    assert_eq!(ids(&b["assigned"]).len(), 3);
    assert!(ids(&b["assigned"]).contains(&in_a[0]) && ids(&b["assigned"]).contains(&in_a[1]));
    assert_eq!(ids(&api_roster(&app, "bm", "a")["assigned"]), in_a[2..]);
    assert_eq!(app.event("bm")["site_visits"][1]["assigned"], 3);

    // Out of every visit: they are on the without-seat roster.
    let out = browser.submit(
        "/organiser/events/bm/bulk",
        &[
            ("registration", &in_a[3]),
            ("registration", &in_a[4]),
            ("site_visit", ""),
            ("action", "move"),
            ("back", back),
        ],
    );
    browser
        .follow(out)
        .assert_contains("2 people now hold no site visit.");
    let without = browser.get("/organiser/events/bm/without-seat");
    assert_eq!(without.status, 200, "{}", without.body);
    assert_eq!(without.row_ids(), in_a[3..]);
    without.assert_contains("2 confirmed without a seat");

    // Nothing selected, or a foreign `back`: refused plainly, back to this event's board.
    let none = browser.submit(
        "/organiser/events/bm/bulk",
        &[
            ("site_visit", "b"),
            ("action", "move"),
            ("back", "https://evil.example/"),
        ],
    );
    assert_eq!(none.header("location"), "/organiser/events/bm");
}

fn the_csv_of_a_selection_is_those_lines_of_the_attendee_list(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("cs", json!({}), &[("a", 10)]);
    let people = register_people(&app, "cs", 4, &["a"]);
    // A formula in a name is neutralised as in the export.
    let reply = app.register("cs", &person(60, "=cmd", "Formula", "@org", "BE", &["a"]));
    assert_eq!(reply.status, 201);
    let formula = reply.json()["id"].as_str().unwrap().to_owned();
    let browser = Browser::new(&app);
    // An organiser, not only an admin, downloads what the roster shows.
    browser.sign_in(&app.organiser);
    browser.get("/organiser/events/cs/site-visits/a");
    let csv = browser.submit(
        "/organiser/events/cs/bulk",
        &[
            ("registration", &formula),
            ("registration", &people[1]),
            ("action", "csv"),
            ("site_visit", "a"),
        ],
    );
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(
        csv.header("content-type").starts_with("text/csv"),
        "{}",
        csv.header("content-type")
    );
    assert!(csv.header("content-disposition").contains("cs-selection-"));
    let export = call(
        ureq::get(&app.url("/api/v1/events/cs/exports/attendees?format=csv"))
            .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    assert_eq!(export.status, 200);
    let export_lines: Vec<&str> = export.body.split("\r\n").collect();
    // Header, then the selected lines in registration order, as the export has them.
    let expected: Vec<&str> = std::iter::once(export_lines[0])
        .chain(
            export_lines[1..]
                .iter()
                .copied()
                .filter(|line| line.starts_with(&people[1]) || line.starts_with(&formula)),
        )
        .collect();
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines, expected);
    assert_eq!(lines.len(), 3);
    assert!(lines[2].contains("'=cmd"), "{}", lines[2]);
}

fn roster_pages_need_a_session_and_bulk_actions_a_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("se", json!({}), &[("a", 10), ("b", 10)]);
    let people = register_people(&app, "se", 2, &["a"]);
    let browser = Browser::new(&app);
    let page = browser.get("/organiser/events/se/site-visits/a?sort=name");
    assert_eq!(page.status, 303);
    assert_eq!(
        page.header("location"),
        "/organiser/sign-in?next=%2Forganiser%2Fevents%2Fse%2Fsite-visits%2Fa%3Fsort%3Dname"
    );
    assert_eq!(browser.get("/organiser/events/se/without-seat").status, 303);
    // Without a session, a bulk action (with a valid CSRF token) goes to sign in.
    browser.get("/organiser/sign-in");
    let refused = browser.submit(
        "/organiser/events/se/bulk",
        &[
            ("registration", &people[0]),
            ("site_visit", "b"),
            ("action", "move"),
        ],
    );
    assert_eq!(refused.status, 303);
    assert!(refused.header("location").starts_with("/organiser/sign-in"));

    browser.sign_in(&app.organiser);
    assert_eq!(browser.get("/organiser/events/se/site-visits/a").status, 200);
    // Without the token: 403, nothing moved, no file.
    for action in ["move", "csv"] {
        let forged = browser.post(
            "/organiser/events/se/bulk",
            &[
                ("registration", &people[0]),
                ("site_visit", "b"),
                ("action", action),
            ],
            &[],
        );
        assert_eq!(forged.status, 403, "{action}");
        assert!(!forged.body.contains("person0@example.org"));
    }
    assert_eq!(ids(&api_roster(&app, "se", "a")["assigned"]), people);
    // An unknown visit is a 404 page.
    assert_eq!(browser.get("/organiser/events/se/site-visits/nope").status, 404);
}

fn the_roster_and_its_bulk_moves_speak_french(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("rf", json!({}), &[("a", 3), ("b", 2)]);
    let people = register_people(&app, "rf", 5, &["a"]);
    let browser = Browser::french(&app);
    browser.sign_in(&app.organiser);
    let path = "/organiser/events/rf/site-visits/a";
    let page = browser.get(path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("content-language"), "fr");
    page.assert_says("<html lang=\"fr\">");
    // The rows and their data attributes as in English: only the words change.
    assert_eq!(page.row_ids(), people);
    assert_eq!(page.attributes("data-position"), ["1", "2"]);
    page.assert_says("<caption id=\"roster-range\">1–5 sur 5 personnes · page 1 sur 1</caption>");
    page.assert_says("3 / 3 places attribuées · 0 en offre · 2 en attente");
    page.assert_says("<td>1er choix</td>");
    page.assert_says("<td>place attribuée</td>");
    page.assert_says("<td>n° 1 en attente</td>");
    page.assert_says("<label for=\"bulk-target\">Déplacer les personnes sélectionnées vers</label>");
    page.assert_says("<option value=\"\">Aucune visite</option>");
    page.assert_says("<option value=\"waiting\">En attente</option>");
    page.assert_says("<label for=\"sort\">Trier par</label>");
    page.assert_says(">Télécharger la sélection (CSV)</button>");
    page.assert_says("class=\"visually-hidden\">Sélectionner First0 Name000</label>");
    page.assert_says(">Sans visite</a>");
    for english in ["Move the selected", "Roster order", "No site visit", "Sign out"] {
        page.assert_lacks(english);
    }
    // The switch keeps the search, filters and sort.
    let sorted = browser.get(&format!("{path}?status=waiting&sort=name"));
    assert_eq!(
        sorted.switch_link("en"),
        format!("{path}?status=waiting&sort=name&lang=en")
    );
    sorted.assert_says("<caption id=\"roster-range\">1–2 sur 2 personnes · page 1 sur 1</caption>");
    let clamped = browser.get(&format!("{path}?page=9"));
    clamped.assert_says("Cette page n'existe pas : voici la dernière, page 1 sur 1.");

    // b has two seats: two of the three selected move, the third is named, in French.
    let back = format!("{path}?sort=name");
    let moved = browser.submit(
        "/organiser/events/rf/bulk",
        &[
            ("registration", &people[0]),
            ("registration", &people[1]),
            ("registration", &people[2]),
            ("site_visit", "b"),
            ("action", "move"),
            ("back", &back),
        ],
    );
    assert_eq!(moved.status, 303, "{}", moved.body);
    let after = browser.follow(moved);
    after.assert_says(
        "id=\"flash\">2 personnes déplacées vers Visit b. Personnes non déplacées : First2 Name074 (Visit b est complète (2 places prises sur 2)).</p>",
    );
    after.assert_says("notice--error");
    assert_eq!(ids(&api_roster(&app, "rf", "b")["assigned"]).len(), 2);
    // Nothing fits: nobody moved, and who was not is named.
    let again = browser.submit(
        "/organiser/events/rf/bulk",
        &[
            ("registration", &people[2]),
            ("site_visit", "b"),
            ("action", "move"),
            ("back", &back),
        ],
    );
    browser
        .follow(again)
        .assert_says("id=\"flash\">Personne n'a été déplacé. Personnes non déplacées : First2 Name074 (Visit b est complète (2 places prises sur 2)).</p>");
    // Out of every visit: on the without-seat page, in French.
    let one = browser.submit(
        "/organiser/events/rf/bulk",
        &[
            ("registration", &people[0]),
            ("site_visit", ""),
            ("action", "move"),
            ("back", &back),
        ],
    );
    browser
        .follow(one)
        .assert_says("id=\"flash\">1 personne n'a plus de visite.</p>");
    let without = browser.get("/organiser/events/rf/without-seat");
    without.assert_says("<h1>Sans visite</h1>");
    without.assert_says("1 personne confirmée sans place");
    without.assert_says("<td>sans place · placement manuel</td>");
    let nothing = browser.submit(
        "/organiser/events/rf/bulk",
        &[("site_visit", "b"), ("action", "move"), ("back", &back)],
    );
    browser
        .follow(nothing)
        .assert_says("id=\"flash\">Sélectionnez d'abord au moins une personne.</p>");
}
