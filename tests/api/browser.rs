//! Issue 7 in a real browser: headless Chromium driven over WebDriver (chromedriver and
//! the fantoccini client). A participant registers and sees the confirmation; a form
//! with errors keeps its values; the manage page cancels after its confirmation step;
//! an organiser signs in, moves a participant (the overview lists nobody, so the move
//! form's POST is sent from the page) and sees the bars change; and on a board of
//! 10,000 people (issue 17) the overview and a roster page load, the search finds
//! "Łobocka" and one person is moved from the roster's toolbar. Each step leaves a
//! screenshot in `target/screenshots/<test>-<step>.png`. Chromium itself is started by
//! [`crate::chrome`].
//!
//! These run on SQLite only: they test pages, and the HTTP tests cover both backends.
//! Without Chromium they print a note and pass, except in CI (`CI=true`), where a
//! missing browser is a failure: `.ci/run` installs it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::chrome::Chrome;
use crate::helpers::{call, concurrently, participant, Backend, Job, TestApp, DEMO_EVENT};

/// One browser at a time: the machine has two cores and the HTTP tests run meanwhile.
static ONE_BROWSER_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A window the size of a phone, and one of a laptop.
const PHONE: (u32, u32) = (412, 1500);
const DESKTOP: (u32, u32) = (1280, 1100);

/// `target/screenshots` (or under `CARGO_TARGET_DIR`).
fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, test: &str, step: &str) -> Result<(), CmdError> {
    let png = client.screenshot().await?;
    std::fs::write(screenshots_dir().join(format!("{test}-{step}.png")), png).unwrap();
    Ok(())
}

async fn type_into(client: &Client, id: &str, text: &str) -> Result<(), CmdError> {
    let field = client.find(Locator::Id(id)).await?;
    field.clear().await?;
    field.send_keys(text).await
}

async fn choose(client: &Client, id: &str, value: &str) -> Result<(), CmdError> {
    client.find(Locator::Id(id)).await?.select_by_value(value).await
}

async fn value_of(client: &Client, id: &str) -> Result<String, CmdError> {
    Ok(client
        .find(Locator::Id(id))
        .await?
        .prop("value")
        .await?
        .unwrap_or_default())
}

/// Signs in on the board's sign-in form shown (a redirect brought the browser there).
async fn sign_in_with(client: &Client, token: &str) -> Result<(), CmdError> {
    client.wait().for_element(Locator::Id("token")).await?;
    type_into(client, "token", token).await?;
    client
        .find(Locator::Css("form.form button[type=submit]"))
        .await?
        .click()
        .await
}

async fn text_of(client: &Client, css: &str) -> Result<String, CmdError> {
    client.wait().for_element(Locator::Css(css)).await?.text().await
}

#[test]
fn a_participant_fills_the_form_and_sees_the_confirmation() {
    const TEST: &str = "register";
    let _one = ONE_BROWSER_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(chrome) = Chrome::start(TEST) else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite);
    let event_url = app.url(&format!("/events/{DEMO_EVENT}"));
    chrome.run(DESKTOP, |client| {
        let event_url = event_url.clone();
        async move {
            client.goto(&event_url).await?;
            screenshot(&client, TEST, "event-desktop").await
        }
    });
    chrome.run(PHONE, |client| async move {
        client.goto(&event_url).await?;
        assert_eq!(client.title().await?, format!("Register — {}", event_name()));
        screenshot(&client, TEST, "event-phone").await?;
        type_into(&client, "first_name", "Irena").await?;
        type_into(&client, "last_name", "Łobocka").await?;
        type_into(&client, "email", "irena@example.pl").await?;
        type_into(&client, "organisation", "Sustainable Infrastructure Cluster").await?;
        choose(&client, "country", "PL").await?;
        type_into(&client, "dietary", "vegetarian").await?;
        choose(&client, "choice-1", "biopark-charleroi").await?;
        // The script (allowed by the CSP, from /static) keeps a visit from being ranked twice.
        let repeated = client
            .find(Locator::Css("#choice-2 option[value='biopark-charleroi']"))
            .await?;
        assert!(
            !repeated.is_enabled().await?,
            "the script disables a chosen visit"
        );
        choose(&client, "choice-2", "aperam-chatelet").await?;
        client.find(Locator::Id("consent")).await?.click().await?;
        screenshot(&client, TEST, "form-filled-phone").await?;
        client
            .find(Locator::Css("form.form button[type=submit]"))
            .await?
            .click()
            .await?;
        let heading = text_of(&client, ".confirmation h1").await?;
        assert_eq!(heading, "Registration confirmed");
        let seat = text_of(&client, ".seat__title").await?;
        assert_eq!(seat, "Your site visit: Brussels South Charleroi BioPark");
        let note = text_of(&client, ".check-email").await?;
        assert!(note.contains("irena@example.pl"), "{note}");
        screenshot(&client, TEST, "confirmation-phone").await
    });
    let event = app.event(DEMO_EVENT);
    assert_eq!(event["site_visits"][1]["assigned"], 1);
}

fn event_name() -> &'static str {
    "Clusters Meet Regions — Driving the Regional Economic Revival in Europe"
}

#[test]
fn a_form_with_errors_keeps_its_values() {
    const TEST: &str = "form-errors";
    let _one = ONE_BROWSER_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(chrome) = Chrome::start(TEST) else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite);
    let event_url = app.url(&format!("/events/{DEMO_EVENT}?lang=fr"));
    chrome.run(DESKTOP, |client| async move {
        client.goto(&event_url).await?;
        type_into(&client, "first_name", "Daniel").await?;
        type_into(&client, "email", "daniel-at-adral").await?;
        type_into(&client, "organisation", "ADRAL").await?;
        choose(&client, "country", "PT").await?;
        choose(&client, "choice-1", "district-cleantech-porte-ouest").await?;
        client
            .find(Locator::Css("form.form button[type=submit]"))
            .await?
            .click()
            .await?;
        let summary = text_of(&client, "#error-summary").await?;
        assert!(summary.contains("Veuillez corriger"), "{summary}");
        assert_eq!(
            text_of(&client, "#last_name-error").await?,
            "Ce champ est obligatoire."
        );
        assert!(text_of(&client, "#email-error").await?.contains("adresse e-mail"));
        assert!(text_of(&client, "#consent-error")
            .await?
            .contains("Cochez la case"));
        assert_eq!(value_of(&client, "first_name").await?, "Daniel");
        assert_eq!(value_of(&client, "email").await?, "daniel-at-adral");
        assert_eq!(value_of(&client, "organisation").await?, "ADRAL");
        assert_eq!(value_of(&client, "country").await?, "PT");
        assert_eq!(
            value_of(&client, "choice-1").await?,
            "district-cleantech-porte-ouest"
        );
        screenshot(&client, TEST, "errors-desktop").await?;
        // The summary links lead to the fields.
        client
            .find(Locator::Css("#error-summary a[href='#last_name']"))
            .await?
            .click()
            .await?;
        let focused = client.active_element().await?;
        assert_eq!(focused.attr("id").await?.as_deref(), Some("last_name"));
        // Corrected, it goes through (the browser's own Origin and cookies pass the
        // CSRF check).
        type_into(&client, "last_name", "Janeiro").await?;
        type_into(&client, "email", "daniel@adral.example").await?;
        client.find(Locator::Id("consent")).await?.click().await?;
        client
            .find(Locator::Css("form.form button[type=submit]"))
            .await?
            .click()
            .await?;
        assert_eq!(
            text_of(&client, ".confirmation h1").await?,
            "Inscription confirmée"
        );
        screenshot(&client, TEST, "confirmation-fr-desktop").await
    });
}

#[test]
fn the_manage_page_cancels_after_a_confirmation() {
    const TEST: &str = "manage";
    let _one = ONE_BROWSER_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(chrome) = Chrome::start(TEST) else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite);
    let reply = app.register(
        DEMO_EVENT,
        &participant(3, &["aperam-chatelet", "biopark-charleroi"]),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let manage_url = reply.json()["manage_url"].as_str().unwrap().to_owned();
    let api = app.url(&reply.location.unwrap());
    let page_url = manage_url.clone();
    chrome.run(PHONE, |client| async move {
        client.goto(&page_url).await?;
        assert_eq!(
            text_of(&client, ".seat__title").await?,
            "Your site visit: Aperam Châtelet stainless-steel plant"
        );
        screenshot(&client, TEST, "manage-phone").await?;
        client.find(Locator::Id("cancel-link")).await?.click().await?;
        assert_eq!(text_of(&client, "h1").await?, "Cancel your registration?");
        screenshot(&client, TEST, "confirm-phone").await?;
        client
            .find(Locator::Css("form.actions button[type=submit]"))
            .await?
            .click()
            .await?;
        let flash = text_of(&client, "#flash").await?;
        assert!(flash.starts_with("Your registration is cancelled."), "{flash}");
        assert_eq!(text_of(&client, ".status").await?, "Cancelled");
        assert!(client.find(Locator::Id("cancel-link")).await.is_err());
        screenshot(&client, TEST, "cancelled-phone").await
    });
    let view = crate::helpers::call(ureq::get(&api), None).json();
    assert_eq!(view["status"], "cancelled");
}

/// The overview is counts only: no participant's name on it.
async fn page_shows_no_person(client: &Client) -> Result<(), CmdError> {
    let html = client.source().await?;
    assert!(!html.contains("Tester"), "a person on the overview");
    Ok(())
}

#[test]
fn an_organiser_signs_in_moves_a_participant_and_sees_the_bars_change() {
    const TEST: &str = "board";
    let _one = ONE_BROWSER_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(chrome) = Chrome::start(TEST) else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite);
    for n in 0..4 {
        let reply = app.register(
            DEMO_EVENT,
            &participant(n, &["aperam-chatelet", "biopark-charleroi"]),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let moved = app.register(DEMO_EVENT, &participant(4, &["aperam-chatelet"]));
    let moved_id = moved.json()["id"].as_str().unwrap().to_owned();
    let board_url = app.url(&format!("/organiser/events/{DEMO_EVENT}"));
    let token = app.organiser.clone();
    let fill = |client: Client, visit: &'static str| async move {
        client
            .find(Locator::Id(&format!("fill-{visit}")))
            .await?
            .attr("value")
            .await
            .map(Option::unwrap_or_default)
    };
    chrome.run(DESKTOP, |client| async move {
        client.goto(&board_url).await?;
        // Not signed in: the sign-in form, which comes back here.
        client.wait().for_element(Locator::Id("token")).await?;
        screenshot(&client, TEST, "sign-in-desktop").await?;
        sign_in_with(&client, &token).await?;
        client.wait().for_element(Locator::Css(".board")).await?;
        assert_eq!(client.current_url().await?.as_str(), board_url);
        assert_eq!(fill(client.clone(), "aperam-chatelet").await?, "5");
        assert_eq!(fill(client.clone(), "biopark-charleroi").await?, "0");
        screenshot(&client, TEST, "board-before-desktop").await?;

        // The overview lists nobody: move the person with the move form's own POST,
        // sent by the browser with its session and the page's CSRF token.
        page_shows_no_person(&client).await?;
        client
            .execute(
                "const token = document.querySelector('input[name=csrf_token]').value;
                 const form = document.createElement('form');
                 form.method = 'post';
                 form.action = arguments[0];
                 for (const [name, value] of [['csrf_token', token], ['registration', arguments[1]],
                                              ['site_visit', 'biopark-charleroi']]) {
                     const input = document.createElement('input');
                     input.type = 'hidden';
                     input.name = name;
                     input.value = value;
                     form.appendChild(input);
                 }
                 document.body.appendChild(form);
                 form.submit();",
                vec![
                    json!(format!("/organiser/events/{DEMO_EVENT}/move")),
                    json!(moved_id),
                ],
            )
            .await?;
        client.wait().for_element(Locator::Id("flash")).await?;
        let flash = text_of(&client, "#flash").await?;
        assert_eq!(
            flash,
            "Participant4 Tester moved to Brussels South Charleroi BioPark."
        );
        assert_eq!(fill(client.clone(), "aperam-chatelet").await?, "4");
        assert_eq!(fill(client.clone(), "biopark-charleroi").await?, "1");
        let counts = text_of(&client, "[data-fill='biopark-charleroi']").await?;
        assert!(counts.starts_with("1 / 45"), "{counts}");
        screenshot(&client, TEST, "board-after-desktop").await?;
        client
            .execute("document.getElementById('timeline').scrollIntoView()", vec![])
            .await?;
        screenshot(&client, TEST, "overview-chart-desktop").await?;
        client.set_window_size(PHONE.0, PHONE.1).await?;
        screenshot(&client, TEST, "board-after-phone").await
    });
    let event = app.event(DEMO_EVENT);
    assert_eq!(event["site_visits"][0]["assigned"], 4);
    assert_eq!(event["site_visits"][1]["assigned"], 1);
}

/// Issue 17's event: 10,000 registrations over 3 visits of 3,000 seats, each person
/// ranking all three, 20 countries, some names with accents. The overview and a roster
/// page load, the search finds "Łobocka" from "lobocka", and one person is moved off
/// their seat from the roster's toolbar (the freed seat goes to the next in line).
#[test]
fn a_board_of_ten_thousand_loads_searches_and_moves_one_person() {
    const TEST: &str = "board-10k";
    const PEOPLE: usize = 10_000;
    const COUNTRIES: [&str; 20] = [
        "BE", "IT", "PT", "PL", "DE", "FR", "ES", "NL", "AT", "SE", "DK", "FI", "IE", "CZ", "HU", "RO", "BG",
        "GR", "SK", "SI",
    ];
    let _one = ONE_BROWSER_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(chrome) = Chrome::start(TEST) else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite);
    app.create_event("big", json!({}), &[("v1", 3_000), ("v2", 3_000), ("v3", 3_000)]);
    let url = app.url("/api/v1/events/big/registrations");
    let jobs: Vec<Job<u16>> = (0..PEOPLE)
        .map(|n| {
            let url = url.clone();
            let ranking = [["v1", "v2", "v3"], ["v2", "v3", "v1"], ["v3", "v1", "v2"]][n % 3];
            let mut body = participant(n, &ranking);
            body["country"] = json!(COUNTRIES[n % COUNTRIES.len()]);
            if n % 250 == 0 {
                body["last_name"] = json!("Łobocka");
            }
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

    // Whom the search must find: the API roster's people called Łobocka, seated or waiting.
    let roster = call(
        ureq::get(&app.url("/api/v1/events/big/site-visits/v1/roster"))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    )
    .json();
    let named = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .filter(|p| p["last_name"] == "Łobocka")
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut lobocka = named(&roster["assigned"]);
    lobocka.extend(named(&roster["waitlist"]));
    assert!(!lobocka.is_empty());
    let moved = roster["assigned"][0]["id"].as_str().unwrap().to_owned();
    let moved_name = format!(
        "{} {}",
        roster["assigned"][0]["first_name"].as_str().unwrap(),
        roster["assigned"][0]["last_name"].as_str().unwrap()
    );

    let overview_url = app.url("/organiser/events/big");
    let roster_url = app.url("/organiser/events/big/site-visits/v1");
    let token = app.organiser.clone();
    let expected = lobocka.clone();
    let selected = moved.clone();
    chrome.run(DESKTOP, |client| async move {
        client.goto(&overview_url).await?;
        sign_in_with(&client, &token).await?;
        client.wait().for_element(Locator::Css(".board")).await?;
        let seats = text_of(&client, "[data-fill='v1']").await?;
        assert!(seats.starts_with("3000 / 3000"), "{seats}");
        screenshot(&client, TEST, "overview-desktop").await?;

        client.goto(&roster_url).await?;
        let range = text_of(&client, "#roster-range").await?;
        assert!(range.starts_with("1–50 of "), "{range}");
        assert_eq!(client.find_all(Locator::Css("tr[data-id]")).await?.len(), 50);
        screenshot(&client, TEST, "roster-desktop").await?;

        type_into(&client, "q", "lobocka").await?;
        client
            .find(Locator::Css("form.roster-filters button[type=submit]"))
            .await?
            .click()
            .await?;
        // The answer's search field holds the words searched for.
        client
            .wait()
            .for_element(Locator::Css("input#q[value='lobocka']"))
            .await?;
        let mut found = Vec::new();
        for row in client.find_all(Locator::Css("tr[data-id]")).await? {
            found.push(row.attr("data-id").await?.unwrap_or_default());
        }
        assert_eq!(
            found, expected,
            "the search shows the roster's Łobocka, in roster order"
        );
        screenshot(&client, TEST, "search-desktop").await?;

        // Move the first seated person to "No site visit" from the toolbar.
        client.goto(&roster_url).await?;
        client
            .find(Locator::Css(&format!("input[value='{selected}']")))
            .await?
            .click()
            .await?;
        choose(&client, "bulk-target", "").await?;
        client
            .find(Locator::Css("#bulk button[value=move]"))
            .await?
            .click()
            .await?;
        let flash = text_of(&client, "#flash").await?;
        assert_eq!(flash, "1 person now holds no site visit.");
        screenshot(&client, TEST, "moved-desktop").await?;
        client.set_window_size(PHONE.0, PHONE.1).await?;
        screenshot(&client, TEST, "moved-phone").await
    });
    let after = call(
        ureq::get(&app.url("/api/v1/events/big/site-visits/v1/roster"))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    )
    .json();
    let assigned = after["assigned"].as_array().unwrap();
    assert!(
        assigned.iter().all(|p| p["id"] != moved.as_str()),
        "{moved_name} left v1"
    );
    assert_eq!(assigned.len(), 3_000, "the freed seat went to the next in line");
}

/// A Chrome DevTools command sent through chromedriver (`goog/cdp/execute`): how a test
/// takes the browser's network away and gives it back.
#[derive(Debug)]
struct DevTools {
    method: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.method, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}

async fn network(client: &Client, offline: bool) -> Result<(), CmdError> {
    client
        .issue_cmd(DevTools {
            method: "Network.enable",
            params: json!({}),
        })
        .await?;
    client
        .issue_cmd(DevTools {
            method: "Network.emulateNetworkConditions",
            params: json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        })
        .await?;
    Ok(())
}

/// Searches `name` on the check-in page and taps the first "Check in" button shown.
async fn check_in_by_name(client: &Client, name: &str) -> Result<(), CmdError> {
    type_into(client, "q", name).await?;
    let button = client
        .wait()
        .for_element(Locator::Css("#checkin-found .checkin-person__button"))
        .await?;
    button.click().await
}

async fn waiting(client: &Client) -> Result<String, CmdError> {
    Ok(client
        .find(Locator::Id("checkin-sync"))
        .await?
        .attr("data-waiting")
        .await?
        .unwrap_or_default())
}

/// Issue 18 on a phone: a steward signs in, opens the entrance list, finds a person by
/// name and checks them in; offline (DevTools network emulation) two more check-ins
/// queue on the phone ("2 waiting"); back online they sync, and the server counts three.
#[test]
fn a_steward_checks_people_in_online_and_offline() {
    const TEST: &str = "checkin";
    let _one = ONE_BROWSER_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(chrome) = Chrome::start(TEST) else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite);
    for n in 0..5 {
        let reply = app.register(DEMO_EVENT, &participant(n, &["aperam-chatelet"]));
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let steward = crate::helpers::token(
        &app.server.db,
        rallypoint::domain::access::Role::Steward,
        "gate A",
    );
    let list_url = app.url(&format!("/organiser/events/{DEMO_EVENT}/checkin/entry"));
    let status_url = app.url(&format!("/api/v1/events/{DEMO_EVENT}/checkin-lists/entry/status"));
    let steward_api = steward.clone();
    let checked_in = move || {
        let reply = call(
            ureq::get(&status_url).set("Authorization", &format!("Bearer {steward_api}")),
            None,
        );
        reply.json()["checked_in"].as_i64().unwrap()
    };
    chrome.run(PHONE, |client| {
        let (list_url, steward) = (list_url.clone(), steward.clone());
        async move {
            client.goto(&list_url).await?;
            sign_in_with(&client, &steward).await?;
            client.wait().for_element(Locator::Id("checkin")).await?;
            assert_eq!(client.current_url().await?.as_str(), list_url);
            assert_eq!(text_of(&client, "#count-expected").await?, "5");
            screenshot(&client, TEST, "list-phone").await?;

            check_in_by_name(&client, "participant0").await?;
            client
                .wait()
                .for_element(Locator::Css("#checkin-results .checkin-result--ok"))
                .await?;
            let said = text_of(&client, "#checkin-results .checkin-result").await?;
            assert_eq!(said, "Participant0 Tester is checked in.");
            assert_eq!(text_of(&client, "#count-checked-in").await?, "1");
            screenshot(&client, TEST, "checked-in-phone").await?;

            network(&client, true).await?;
            check_in_by_name(&client, "participant1").await?;
            check_in_by_name(&client, "participant2").await?;
            // Let the failed sends happen: the scans must stay queued.
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            assert_eq!(waiting(&client).await?, "2");
            let line = text_of(&client, "#checkin-sync").await?;
            assert_eq!(line, "2 waiting to sync");
            assert_eq!(text_of(&client, "#count-checked-in").await?, "3");
            screenshot(&client, TEST, "offline-two-waiting-phone").await?;

            network(&client, false).await?;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while waiting(&client).await? != "0" {
                assert!(std::time::Instant::now() < deadline, "the queue never synced");
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            screenshot(&client, TEST, "synced-phone").await
        }
    });
    assert_eq!(checked_in(), 3, "the server counts all three");
}
