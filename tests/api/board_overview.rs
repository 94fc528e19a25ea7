//! Issue 17 over HTTP: the event's overview page shows each visit's numbers as the API
//! does, the registrations over time adding up to every active registration, the
//! countries as the counts export has them, and stays small with many people (no person
//! on it); the organisers' event list pages and searches; both in French too.

use serde_json::{json, Value};

use crate::browsing::{unescaped, Browser};
use crate::helpers::{call, concurrently, participant, Backend, Job, TestApp};

crate::on_both_backends!(
    the_overview_shows_the_numbers_of_the_api_and_the_exports,
    the_overview_stays_small_with_many_registrations,
    the_event_list_pages_and_searches,
    the_overview_and_the_event_list_speak_french,
);

/// The text between `start` (found after `from`) and the next `end`.
fn between<'b>(body: &'b str, from: &str, start: &str, end: &str) -> &'b str {
    let at = body
        .find(from)
        .unwrap_or_else(|| panic!("`{from}` not in page:\n{body}"));
    let rest = &body[at..];
    let begin = rest.find(start).unwrap() + start.len();
    &rest[begin..begin + rest[begin..].find(end).unwrap()]
}

/// A visit's number as the overview shows it (`data-n` of its block).
fn visit_number(body: &str, visit: &str, name: &str) -> i64 {
    let block = between(body, &format!("id=\"numbers-{visit}\""), "", "</dl>");
    between(block, &format!("data-n=\"{name}\""), ">", "<")
        .parse()
        .unwrap()
}

/// The running total of the last day of the registrations-by-day table.
fn chart_total(body: &str) -> i64 {
    let table = between(body, "id=\"registrations-by-day\"", "", "</table>");
    let last = table.rfind("data-cumulative=\"").expect("a day") + 17;
    table[last..last + table[last..].find('"').unwrap()]
        .parse()
        .unwrap()
}

/// The countries table as `code,registered,assigned,waitlisted` lines, TOTAL last.
fn countries_table(body: &str) -> Vec<String> {
    let table = between(body, "id=\"countries-table\"", "", "</table>");
    table
        .split("<tr data-country=\"")
        .skip(1)
        .map(|row| {
            let code = &row[..row.find('"').unwrap()];
            let numbers: Vec<&str> = row
                .split("<td class=\"num\">")
                .skip(1)
                .map(|cell| &cell[..cell.find('<').unwrap()])
                .collect();
            format!("{code},{}", numbers.join(","))
        })
        .collect()
}

fn api(app: &TestApp, path: &str, token: &str) -> String {
    let reply = call(
        ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {token}")),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// The counts export by country as the same lines as [`countries_table`].
fn exported_countries(app: &TestApp, event: &str) -> Vec<String> {
    let csv = api(
        app,
        &format!("/api/v1/events/{event}/exports/counts?by=country&format=csv"),
        &app.admin,
    );
    csv.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            format!("{},{},{},{}", cells[0], cells[2], cells[3], cells[4])
        })
        .collect()
}

fn the_overview_shows_the_numbers_of_the_api_and_the_exports(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("ov", json!({"capacity": 40}), &[("a", 2), ("b", 3), ("c", 10)]);
    let browser = Browser::signed_in(&app, &app.organiser);
    let empty = browser.get_ok("/organiser/events/ov").body;
    assert!(empty.contains("Nobody has registered yet."), "{empty}");
    let mut ids = Vec::new();
    for n in 0..14 {
        let prefs: &[&str] = match n % 3 {
            0 => &["a", "b"],
            1 => &["b", "a"],
            _ => &["a"],
        };
        let reply = app.register("ov", &participant(n, prefs));
        assert_eq!(reply.status, 201, "{}", reply.body);
        ids.push(reply.json()["id"].as_str().unwrap().to_owned());
    }
    // One cancelled registration leaves every count, the chart's included.
    let reply = call(
        ureq::delete(&app.url(&format!("/api/v1/events/ov/registrations/{}", ids[13])))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    );
    assert!(reply.status < 300, "{}", reply.body);

    let body = browser.get_ok("/organiser/events/ov").body;
    let view = app.event("ov");
    for visit in view["site_visits"].as_array().unwrap() {
        let slug = visit["slug"].as_str().unwrap();
        for name in ["capacity", "assigned", "offered", "seats_left", "waitlisted"] {
            assert_eq!(
                Value::from(visit_number(&body, slug, name)),
                visit[name],
                "{slug} {name}"
            );
        }
        assert!(
            body.contains(&format!("href=\"/organiser/events/ov/site-visits/{slug}\"")),
            "a link to the roster of {slug}"
        );
    }
    let registered = api(
        &app,
        "/api/v1/events/ov/registrations?status=confirmed",
        &app.organiser,
    );
    let confirmed: Value = serde_json::from_str(&registered).unwrap();
    let active = confirmed["total"].as_i64().unwrap();
    assert_eq!(active, 13);
    assert_eq!(chart_total(&body), active);
    assert!(body.contains("role=\"img\" aria-label=\"Registrations over time: 13 from"));
    assert!(body.contains("event capacity 40"));
    assert!(body.contains("class=\"chart__capacity\""));
    assert_eq!(countries_table(&body), exported_countries(&app, "ov"));
    // Seated in no visit: those who ranked only a full a (a has 2 seats, b 3).
    let without: Value = serde_json::from_str(&api(
        &app,
        "/api/v1/events/ov/registrations?status=confirmed&limit=500",
        &app.organiser,
    ))
    .unwrap();
    let seatless = without["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["site_visit"].is_null())
        .count();
    assert_eq!(
        between(&body, "data-n=\"without_seat\"", ">", "<"),
        seatless.to_string()
    );
    assert!(body.contains("href=\"/organiser/events/ov/without-seat\""));
    for person in ["Participant", "Tester", "@example.org"] {
        assert!(!body.contains(person), "{person} on the overview");
    }
    // The strict CSP holds: no inline style or script on the page.
    assert!(!body.contains("style=") && !body.contains("<script>"));
}

fn the_overview_stays_small_with_many_registrations(backend: Backend) {
    const PEOPLE: usize = 1_500;
    let app = TestApp::spawn(backend);
    app.create_event("big", json!({}), &[("a", 400), ("b", 400), ("c", 400)]);
    let url = app.url("/api/v1/events/big/registrations");
    let jobs: Vec<Job<u16>> = (0..PEOPLE)
        .map(|n| {
            let url = url.clone();
            let prefs = [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]][n % 3];
            let mut body = participant(n, &prefs);
            body["country"] = json!(["BE", "IT", "PT", "PL", "DE", "FR", "NL", "ES"][n % 8]);
            Box::new(move |agent: &ureq::Agent| {
                match agent
                    .post(&url)
                    .set("Content-Type", "application/json")
                    .send_string(&body.to_string())
                {
                    Ok(response) => response.status(),
                    Err(ureq::Error::Status(status, _)) => status,
                    Err(other) => panic!("{other}"),
                }
            }) as Job<u16>
        })
        .collect();
    assert!(concurrently(8, jobs).iter().all(|status| *status == 201));

    let browser = Browser::signed_in(&app, &app.organiser);
    let body = browser.get_ok("/organiser/events/big").body;
    assert!(body.len() < 200_000, "{} bytes", body.len());
    assert!(body.len() < 30_000, "counts only: {} bytes", body.len());
    assert!(!body.contains("Participant") && !body.contains("Tester"));
    assert_eq!(chart_total(&body), PEOPLE as i64);
    assert_eq!(countries_table(&body), exported_countries(&app, "big"));
    assert_eq!(countries_table(&body).len(), 9, "8 countries and the total");
    let view = app.event("big");
    assert_eq!(view["site_visits"][0]["assigned"], 400);
    assert_eq!(visit_number(&body, "a", "assigned"), 400);
    assert_eq!(
        visit_number(&body, "c", "waitlisted"),
        view["site_visits"][2]["waitlisted"].as_i64().unwrap()
    );
}

/// The event links of an events page, in order.
fn event_links(body: &str) -> Vec<String> {
    body.split("<li><a href=\"/organiser/events/")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// The address of the pager's link `rel` (`next` or `prev`), unescaped.
fn pager_link(body: &str, rel: &str) -> Option<String> {
    let marker = format!("\" rel=\"{rel}\"");
    let end = body.find(&marker)?;
    let start = body[..end].rfind("href=\"").unwrap() + 6;
    Some(unescaped(&body[start..end]))
}

fn the_event_list_pages_and_searches(backend: Backend) {
    let app = TestApp::spawn(backend);
    for n in 0..30 {
        let day = format!("2030-01-{:02}", n + 1);
        app.create_event(
            &format!("ev-{n:02}"),
            json!({"name": format!("Forum {n:02}"), "starts_on": day, "ends_on": day}),
            &[],
        );
    }
    let browser = Browser::signed_in(&app, &app.organiser);
    // 30 events and the demo event, the latest start first, 25 a page.
    let first = browser.get_ok("/organiser").body;
    assert!(first.contains("31 events · page 1 of 2"), "{first}");
    let links = event_links(&first);
    assert_eq!(links.len(), 25);
    assert_eq!(links[0], "ev-29");
    assert_eq!(links[24], "ev-05");
    assert_eq!(pager_link(&first, "prev"), None);
    let next = pager_link(&first, "next").unwrap();
    assert_eq!(next, "/organiser?page=2");
    let second = browser.get_ok(&next).body;
    let links = event_links(&second);
    assert_eq!(links.len(), 6);
    assert_eq!(links[..5], ["ev-04", "ev-03", "ev-02", "ev-01", "ev-00"]);
    assert_eq!(pager_link(&second, "next"), None);
    assert_eq!(pager_link(&second, "prev").unwrap(), "/organiser");
    // Past the end: the last page; not a number: the first.
    assert_eq!(event_links(&browser.get_ok("/organiser?page=99").body).len(), 6);
    assert_eq!(event_links(&browser.get_ok("/organiser?page=x").body).len(), 25);

    // Search by name, any letter case, and by slug.
    let found = browser.get_ok("/organiser?q=FORUM+1").body;
    assert!(found.contains("10 events matching"), "{found}");
    assert!(found.contains("value=\"FORUM 1\""));
    assert_eq!(event_links(&found).first().map(String::as_str), Some("ev-19"));
    assert_eq!(event_links(&found).len(), 10);
    assert_eq!(pager_link(&found, "next"), None);
    assert_eq!(event_links(&browser.get_ok("/organiser?q=ev-2").body).len(), 10);
    assert_eq!(event_links(&browser.get_ok("/organiser?q=ev-").body).len(), 25);
    let paged = browser.get_ok("/organiser?q=ev-").body;
    assert_eq!(pager_link(&paged, "next").unwrap(), "/organiser?q=ev-&page=2");
    assert_eq!(
        event_links(&browser.get_ok("/organiser?q=ev-&page=2").body).len(),
        5
    );
    // LIKE's wildcards are searched as themselves.
    let none = browser.get_ok("/organiser?q=%25").body;
    assert!(none.contains("No event matches."), "{none}");
    assert_eq!(
        event_links(&browser.get_ok("/organiser?q=+").body).len(),
        25,
        "blank: every event"
    );
}

fn the_overview_and_the_event_list_speak_french(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("fr", json!({"capacity": 40}), &[("a", 2), ("b", 3)]);
    let browser = Browser::french(&app);
    browser.sign_in(&app.organiser);
    let empty = browser.get_ok("/organiser/events/fr");
    empty.assert_says("Personne ne s'est encore inscrit.");
    for n in 0..4 {
        assert_eq!(app.register("fr", &participant(n, &["a"])).status, 201);
    }

    let page = browser.get_ok("/organiser/events/fr");
    assert_eq!(page.header("content-language"), "fr");
    page.assert_says("<html lang=\"fr\">");
    page.assert_says("<title>Vue d'ensemble — Event fr</title>");
    page.assert_says(">Se déconnecter</button>");
    page.assert_says("capacité de l'événement : 40, 36 places restantes");
    page.assert_says("<h2 id=\"visits-heading\">Visites de sites</h2>");
    // The ids and data attributes the tests and scripts read stay as they are.
    page.assert_says("<meter id=\"fill-a\" min=\"0\" max=\"2\" value=\"2\"");
    page.assert_says("data-fill=\"a\"><strong>2 / 2</strong> places · 2 en attente</span>");
    page.assert_says("<dt>Liste d'attente</dt><dd data-n=\"waitlisted\">2</dd>");
    assert_eq!(visit_number(&page.body, "b", "seats_left"), 3);
    page.assert_says("<strong data-n=\"without_seat\">2</strong> personnes confirmées n'ont pas de place.");
    page.assert_says(
        "Participants et liste d'attente<span class=\"visually-hidden\"> de la visite Visit a</span>",
    );
    page.assert_says("role=\"img\" aria-label=\"Inscriptions au fil du temps : 4 du ");
    page.assert_says(", capacité de l'événement 40\"");
    page.assert_says(">capacité 40</text>");
    page.assert_says("<summary>Inscriptions par jour (tableau)</summary>");
    page.assert_says(">Figer la liste</button>");
    page.assert_says(">Voir le plan de répartition</button>");
    assert_eq!(chart_total(&page.body), 4);
    assert_eq!(countries_table(&page.body), exported_countries(&app, "fr"));
    for english in [
        "Sign out",
        "Site visits",
        "Registrations over time",
        "Seats left",
        "Capacity",
    ] {
        page.assert_lacks(english);
    }

    // The switch is a plain link, and the choice is kept (the participant pages' cookie).
    let to_english = page.switch_link("en");
    assert_eq!(to_english, "/organiser/events/fr?lang=en");
    let english = browser.get_ok(&to_english);
    english.assert_says("<html lang=\"en\">");
    english.assert_says(">Sign out</button>");
    assert!(
        english.cookie_line("rp_lang").contains("Path=/;"),
        "{:?}",
        english.set_cookies
    );
    browser
        .get_ok("/organiser/events/fr")
        .assert_says("Registrations over time");
    let french = browser.get_ok("/organiser/events/fr?lang=fr");
    french.assert_says("<span aria-current=\"true\">Français</span>");
    assert_eq!(french.switch_link("en"), "/organiser/events/fr?lang=en");

    // The event list, its count and search in French; the switch keeps the search.
    let list = browser.get_ok("/organiser?q=Event+fr");
    list.assert_says("<h1>Événements</h1>");
    list.assert_says("<label for=\"q\">Rechercher par nom ou par identifiant</label>");
    list.assert_says("1 événement correspondant à « Event fr »");
    assert_eq!(list.switch_link("en"), "/organiser?q=Event+fr&lang=en");
    let none = browser.get_ok("/organiser?q=nothing-like-it");
    none.assert_says("0 événement correspondant");
    none.assert_says("Aucun événement ne correspond.");
}
