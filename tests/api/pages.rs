//! Issue 7 over HTTP: every web page's status and key content, form errors shown again
//! with the values kept, CSRF refusals, both languages (pages and emails), the manage
//! page's change and cancel steps, the organisers' sign-in, board actions and sign-out
//! (in English and French).

use std::time::Duration;

use serde_json::{json, Value};

use crate::browsing::{unescaped, Browser, Page};
use crate::helpers::{call, participant, registrations_total, settings_for, Backend, TestApp, DEMO_EVENT};

crate::on_both_backends!(
    the_event_page_shows_the_visits_and_a_labelled_form,
    a_form_registration_is_confirmed_in_the_page_language,
    errors_are_shown_by_their_fields_with_every_value_kept,
    forms_without_the_token_or_from_another_site_are_refused,
    french_comes_from_accept_language_or_the_switch,
    emails_are_written_in_the_language_of_the_registration,
    the_manage_page_changes_choices_and_cancels_after_a_confirmation,
    closed_and_full_states_are_shown_plainly,
    board_sign_in_takes_an_organiser_token_and_keeps_only_a_session_secret,
    board_actions_move_resize_freeze_and_allocate,
    signing_out_or_revoking_the_token_ends_the_session,
    admins_download_the_exports_from_the_board,
    the_board_speaks_french_from_sign_in_to_its_messages,
);

/// The form fields of a complete registration.
fn registration_form<'a>(email: &'a str, choices: [&'a str; 3]) -> Vec<(&'a str, &'a str)> {
    vec![
        ("first_name", "Sophie"),
        ("last_name", "Bourez"),
        ("email", email),
        ("organisation", "Wagralim"),
        ("country", "BE"),
        ("job_title", ""),
        ("dietary", "vegetarian"),
        ("preferences", choices[0]),
        ("preferences", choices[1]),
        ("preferences", choices[2]),
        ("consent", "on"),
    ]
}

/// The manage link in a confirmation page (HTML-escaped there).
fn manage_path_in(page: &Page) -> String {
    let at = page.body.find("manage&#x2f;").expect("a manage link") + 12;
    format!("/manage/{}", &page.body[at..at + 64])
}

fn assert_html_with_security_headers(page: &Page) {
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("x-frame-options"), "DENY");
}

fn the_event_page_shows_the_visits_and_a_labelled_form(backend: Backend) {
    let app = TestApp::spawn(backend);
    let browser = Browser::new(&app);
    let page = browser.get(&format!("/events/{DEMO_EVENT}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_html_with_security_headers(&page);
    page.assert_contains("<html lang=\"en\">");
    page.assert_contains("Clusters Meet Regions");
    page.assert_contains("4–5 December 2024");
    for visit in [
        "Aperam Châtelet stainless-steel plant",
        "Brussels South Charleroi BioPark",
        "District Cleantech — Porte Ouest",
    ] {
        page.assert_contains(visit);
    }
    page.assert_contains("35 seats left");
    page.assert_contains("Thursday 5 December 2024, 13:30–17:30");
    // Every input has its label; the ranking is three labelled selects.
    for field in [
        "first_name",
        "last_name",
        "email",
        "organisation",
        "country",
        "job_title",
        "dietary",
        "choice-1",
        "choice-2",
        "choice-3",
        "consent",
    ] {
        page.assert_contains(&format!("<label for=\"{field}\""));
        page.assert_contains(&format!("id=\"{field}\""));
    }
    page.assert_contains("1st choice");
    page.assert_contains("3rd choice");
    page.assert_contains("I agree that my data are used");
    // Countries from the table, by name, nothing chosen in advance.
    let belgium = page.body.find("<option value=\"BE\">Belgium</option>").unwrap();
    let netherlands = page.body.find(">The Netherlands</option>").unwrap();
    let portugal = page.body.find(">Portugal</option>").unwrap();
    assert!(belgium < netherlands && netherlands < portugal);
    page.assert_lacks("<option value=\"BE\" selected>");
    // The double-submit token: a strict, HTTP-only cookie and the same value in the form.
    let cookie = page.cookie_line("rp_csrf");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert_eq!(page.input_value("csrf_token"), browser.cookie("rp_csrf").unwrap());
    // The same token serves the next page.
    let again = browser.get(&format!("/events/{DEMO_EVENT}"));
    assert_eq!(again.cookie_line("rp_csrf"), "");
    assert_eq!(
        again.input_value("csrf_token"),
        browser.cookie("rp_csrf").unwrap()
    );

    // The stylesheet and the script are served by rallypoint, versioned and cached.
    let css_path = {
        let at = page.body.find("/static/rallypoint.css?v=").unwrap();
        page.body[at..at + page.body[at..].find('"').unwrap()].to_owned()
    };
    let css = browser.get(&css_path);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.header("cache-control").contains("max-age=31536000"));
    assert!(css.body.contains(":focus-visible"));
    let js = browser.get("/static/rallypoint.js");
    assert_eq!(js.status, 200);
    assert_eq!(js.header("cache-control"), "no-cache");
    assert_eq!(browser.get("/static/other.css").status, 404);

    // An unknown event is a page too, not a problem document.
    let missing = browser.get("/events/no-such-event");
    assert_eq!(missing.status, 404);
    assert_html_with_security_headers(&missing);
    missing.assert_contains("Page not found");
    // The JSON API is where it was.
    assert_eq!(
        app.get(&format!("/api/v1/events/{DEMO_EVENT}")).content_type,
        "application/json"
    );
}

fn a_form_registration_is_confirmed_in_the_page_language(backend: Backend) {
    let app = TestApp::spawn(backend);
    let browser = Browser::new(&app);
    browser.get(&format!("/events/{DEMO_EVENT}"));
    let page = browser.submit(
        &format!("/events/{DEMO_EVENT}/register"),
        &registration_form(
            "sophie@wagralim.example",
            ["", "biopark-charleroi", "aperam-chatelet"],
        ),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert_html_with_security_headers(&page);
    page.assert_contains("Registration confirmed");
    page.assert_contains("Your site visit: Brussels South Charleroi BioPark");
    page.assert_contains("We are sending a confirmation to sophie@wagralim.example");
    let manage_url = manage_path_in(&page);
    let api = app.get(&format!("/api/v1{manage_url}")).json();
    assert_eq!(api["status"], "confirmed");
    assert_eq!(
        api["preferences"],
        json!(["biopark-charleroi", "aperam-chatelet"])
    );
    assert_eq!(api["dietary"], "vegetarian");
    assert_eq!(api["job_title"], Value::Null);
    assert_eq!(api["language"], "en");
    // The form and the API register through one service: both are counted.
    assert_eq!(
        app.register(DEMO_EVENT, &participant(1, &["aperam-chatelet"]))
            .status,
        201
    );
    let metrics = app.get("/metrics").body;
    assert!(metrics.contains("rallypoint_registrations_total 2"), "{metrics}");

    // In French, through the switch.
    let french = Browser::new(&app);
    let form_page = french.get(&format!("/events/{DEMO_EVENT}?lang=fr"));
    form_page.assert_contains("<html lang=\"fr\">");
    let page = french.submit(
        &format!("/events/{DEMO_EVENT}/register"),
        &registration_form("marc@igretec.example", ["aperam-chatelet", "", ""]),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("<html lang=\"fr\">");
    page.assert_contains("Inscription confirmée");
    page.assert_contains("Votre visite : Aperam Châtelet stainless-steel plant");
    page.assert_contains("jeudi 5 décembre 2024, 13:30–17:30");
    let list = call(
        ureq::get(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations?q=marc")))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    )
    .json();
    assert_eq!(list["total"], 1);
}

fn errors_are_shown_by_their_fields_with_every_value_kept(backend: Backend) {
    let app = TestApp::spawn(backend);
    let browser = Browser::new(&app);
    let path = format!("/events/{DEMO_EVENT}/register");
    browser.get(&format!("/events/{DEMO_EVENT}"));
    let page = browser.submit(
        &path,
        &[
            ("first_name", "Ana <b>"),
            ("last_name", ""),
            ("email", "ana-at-example"),
            ("organisation", "ADRAL"),
            ("country", "PT"),
            ("job_title", "Director"),
            ("dietary", ""),
            ("preferences", "district-cleantech-porte-ouest"),
            ("preferences", "district-cleantech-porte-ouest"),
            ("preferences", ""),
        ],
    );
    assert_eq!(page.status, 422, "{}", page.body);
    assert_html_with_security_headers(&page);
    page.assert_contains("Please correct the following:");
    page.assert_contains("<p class=\"field-error\" id=\"last_name-error\">This field is required.</p>");
    page.assert_contains("id=\"email-error\">Enter an email address such as name@example.org.");
    page.assert_contains("id=\"preferences-error\">Choose each site visit only once.");
    page.assert_contains("id=\"consent-error\">Tick the box to give your consent");
    page.assert_contains("aria-describedby=\"last_name-error\" aria-invalid=\"true\"");
    page.assert_contains("<a href=\"#last_name\">Last name: This field is required.</a>");
    // Every value is kept, escaped; choices stay in their boxes.
    assert_eq!(page.input_value("first_name"), "Ana &lt;b&gt;");
    assert_eq!(page.input_value("email"), "ana-at-example");
    assert_eq!(page.input_value("job_title"), "Director");
    page.assert_contains("<option value=\"PT\" selected>Portugal</option>");
    assert_eq!(
        page.body
            .matches("<option value=\"district-cleantech-porte-ouest\" selected>")
            .count(),
        2
    );
    page.assert_lacks("<b>");
    assert_eq!(registrations_total(&app, DEMO_EVENT), 0);

    // In French, the same messages in French.
    let french = Browser::french(&app);
    french.get(&format!("/events/{DEMO_EVENT}"));
    let page = french.submit(&path, &[("first_name", "Ana")]);
    assert_eq!(page.status, 422);
    page.assert_contains("id=\"last_name-error\">Ce champ est obligatoire.");
    page.assert_contains("Veuillez corriger les points suivants :");
    page.assert_contains("<a href=\"#country\">Pays : Ce champ est obligatoire.</a>");

    // An email already registered gets the page a new registration gets (invariant 13),
    // which says for everyone that the email then holds the right link; nothing is made.
    let note = "If this address was already registered for this event, no second registration is made";
    let first = browser.submit(
        &path,
        &registration_form("ana@adral.example", ["aperam-chatelet", "", ""]),
    );
    assert_eq!(first.status, 200, "{}", first.body);
    first.assert_contains(note);
    let again = browser.submit(
        &path,
        &registration_form("ANA@adral.example", ["biopark-charleroi", "", ""]),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    again.assert_contains(note);
    again.assert_contains("Brussels South Charleroi BioPark");
    assert_eq!(registrations_total(&app, DEMO_EVENT), 1);
}

fn forms_without_the_token_or_from_another_site_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend);
    let browser = Browser::new(&app);
    let path = format!("/events/{DEMO_EVENT}/register");
    browser.get(&format!("/events/{DEMO_EVENT}"));
    let token = browser.cookie("rp_csrf").unwrap();
    let mut fields = registration_form("eve@example.org", ["aperam-chatelet", "", ""]);

    let refused = |page: Page| {
        assert_eq!(page.status, 403, "{}", page.body);
        assert_html_with_security_headers(&page);
        page.assert_contains("Form not accepted");
        page.assert_lacks("<form");
    };
    // No token in the form.
    refused(browser.post(&path, &fields, &[]));
    // A token that is not the cookie's.
    let wrong = "0".repeat(64);
    fields.push(("csrf_token", &wrong));
    refused(browser.post(&path, &fields, &[]));
    fields.pop();
    // The right token, but no cookie (another browser's token).
    fields.push(("csrf_token", &token));
    let stranger = Browser::new(&app);
    refused(stranger.post(&path, &fields, &[]));
    // The right token and cookie, sent from another site.
    refused(browser.post(&path, &fields, &[("Origin", "https://evil.example")]));
    refused(browser.post(
        &path,
        &fields,
        &[("Referer", "https://evil.example/events/cmr-charleroi-2024")],
    ));
    // This host under another scheme is another origin.
    let ftp = app.url("").replacen("http://", "ftp://", 1);
    refused(browser.post(&path, &fields, &[("Origin", ftp.trim_end_matches('/'))]));
    assert_eq!(registrations_total(&app, DEMO_EVENT), 0);

    // `Origin: null` is what browsers send under `Referrer-Policy: no-referrer`.
    let page = browser.post(&path, &fields, &[("Origin", "null")]);
    assert_eq!(page.status, 200, "{}", page.body);
    // The site's own origin is accepted too.
    let origin = app.url("");
    fields[2] = ("email", "eve2@example.org");
    let page = browser.post(&path, &fields, &[("Origin", &origin)]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(registrations_total(&app, DEMO_EVENT), 2);

    // Every other form checks it too: cancelling without the token changes nothing.
    let reply = app.register(DEMO_EVENT, &participant(1, &["aperam-chatelet"]));
    let manage = reply.location.unwrap().replace("/api/v1", "");
    refused(browser.post(&format!("{manage}/cancel"), &[], &[]));
    refused(browser.post(
        &format!("{manage}/preferences"),
        &[("preferences", "biopark-charleroi")],
        &[],
    ));
    assert_eq!(app.get(&format!("/api/v1{manage}")).json()["status"], "confirmed");
}

fn french_comes_from_accept_language_or_the_switch(backend: Backend) {
    let app = TestApp::spawn(backend);
    let event = format!("/events/{DEMO_EVENT}");
    let french = Browser::french(&app);
    let page = french.get(&event);
    page.assert_contains("<html lang=\"fr\">");
    assert_eq!(page.header("content-language"), "fr");
    page.assert_contains("Visites de sites");
    page.assert_contains("35 places restantes");
    page.assert_contains("<label for=\"first_name\">Prénom</label>");
    page.assert_contains("Fonction <span class=\"optional\">(facultatif)</span>");
    page.assert_contains("1er choix");
    page.assert_contains("J&#x27;accepte que mes données");

    // The switch wins over Accept-Language and is remembered.
    let page = french.get(&format!("{event}?lang=en"));
    page.assert_contains("<html lang=\"en\">");
    let cookie = page.cookie_line("rp_lang");
    assert!(
        cookie.starts_with("rp_lang=en") && cookie.contains("Path=/"),
        "{cookie}"
    );
    french.get(&event).assert_contains("<html lang=\"en\">");

    let english = Browser::new(&app);
    english.get(&event).assert_contains("<html lang=\"en\">");
    english
        .get(&format!("{event}?lang=fr"))
        .assert_contains("Visites de sites");
    let page = english.get(&event);
    page.assert_contains("<html lang=\"fr\">");
    // The switch links to the other language on the same page.
    page.assert_contains("?lang=en\" hreflang=\"en\" lang=\"en\">English</a>");
    // An unknown language is ignored.
    english
        .get(&format!("{event}?lang=de"))
        .assert_contains("<html lang=\"fr\">");
}

/// The `.eml` files written so far (the test settings write emails to files).
fn emails(app: &TestApp, expected: usize) -> Vec<String> {
    let dir = settings_for(&app.db).mail.outbox_dir;
    for _ in 0..600 {
        let files: Vec<_> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        if files.len() >= expected {
            // Give the last file a moment to be complete.
            std::thread::sleep(Duration::from_millis(100));
            return files
                .iter()
                .map(|path| std::fs::read(path).unwrap())
                .map(|bytes| {
                    let message = mail_parser::MessageParser::default().parse(&bytes).unwrap();
                    format!(
                        "To: {}\nSubject: {}\n\n{}",
                        message.to().unwrap().first().unwrap().address().unwrap(),
                        message.subject().unwrap_or_default(),
                        message.body_text(0).unwrap_or_default()
                    )
                })
                .collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("fewer than {expected} emails in {}", dir.display());
}

fn emails_are_written_in_the_language_of_the_registration(backend: Backend) {
    let app = TestApp::spawn(backend);
    // A French page registration.
    let browser = Browser::french(&app);
    browser.get(&format!("/events/{DEMO_EVENT}"));
    let page = browser.submit(
        &format!("/events/{DEMO_EVENT}/register"),
        &registration_form("claire@charleroi.example", ["biopark-charleroi", "", ""]),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    // A JSON registration asking for French, one asking for German (English it is).
    let mut body = participant(1, &["aperam-chatelet"]);
    let reply = crate::helpers::send(
        ureq::post(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations")))
            .set("Accept-Language", "fr-CH, de;q=0.5"),
        "application/json",
        &body.to_string(),
        None,
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["language"], "fr");
    body = participant(2, &["aperam-chatelet"]);
    let reply = crate::helpers::send(
        ureq::post(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations")))
            .set("Accept-Language", "de-DE"),
        "application/json",
        &body.to_string(),
        None,
    );
    assert_eq!(reply.json()["language"], "en");

    let all = emails(&app, 3);
    let to = |address: &str| {
        all.iter()
            .find(|m| m.starts_with(&format!("To: {address}")))
            .unwrap_or_else(|| panic!("no email to {address} in {all:?}"))
    };
    let claire = to("claire@charleroi.example");
    assert!(claire.contains("Subject: Inscription confirmée"), "{claire}");
    assert!(claire.contains("Bonjour Sophie Bourez"), "{claire}");
    assert!(
        claire.contains("jeudi 5 décembre 2024, 13:30–17:00 (UTC+01:00)"),
        "{claire}"
    );
    assert!(claire.contains("Consulter, modifier ou annuler"), "{claire}");
    let json_french = to("participant1@example.org");
    assert!(json_french.contains("Bonjour Participant1"), "{json_french}");
    let english = to("participant2@example.org");
    assert!(english.contains("Subject: Registration confirmed"), "{english}");
    assert!(
        english.contains("Thursday 5 December 2024, 13:30–17:30"),
        "{english}"
    );
}

fn the_manage_page_changes_choices_and_cancels_after_a_confirmation(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("manage", json!({}), &[("steel", 1), ("bio", 5), ("clean", 5)]);
    let holder = app.register("manage", &participant(0, &["steel"]));
    let reply = app.register("manage", &participant(1, &["steel", "bio"]));
    assert_eq!(reply.json()["site_visit"]["slug"], "bio");
    let manage = reply.location.clone().unwrap().replace("/api/v1", "");
    let browser = Browser::new(&app);

    let page = browser.get(&manage);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_html_with_security_headers(&page);
    page.assert_contains("<meta name=\"robots\" content=\"noindex\">");
    page.assert_contains("Your registration");
    page.assert_contains("Your site visit: Visit bio");
    page.assert_contains("Participant1 Tester");
    page.assert_contains("Italy");
    page.assert_contains("<li>Visit steel</li><li>Visit bio</li>");
    page.assert_contains("<option value=\"steel\" selected>Visit steel (full — waiting list)</option>");
    page.assert_contains("Cancel my registration…");

    // Change: `clean` first. A visit with room is taken at once.
    let changed = browser.submit(
        &format!("{manage}/preferences"),
        &[
            ("preferences", "clean"),
            ("preferences", "steel"),
            ("preferences", ""),
        ],
    );
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_eq!(changed.location(), format!("{manage}?done=changed"));
    let page = browser.get(changed.location());
    page.assert_contains("Your choices are saved.");
    page.assert_contains("Your site visit: Visit clean");
    assert_eq!(
        app.get(&format!("/api/v1{manage}")).json()["preferences"],
        json!(["clean", "steel"])
    );

    // A bad ranking is shown again with its message and the choices as sent.
    let bad = browser.submit(
        &format!("{manage}/preferences"),
        &[("preferences", "bio"), ("preferences", "bio")],
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    bad.assert_contains("id=\"preferences-error\">Choose each site visit only once.");
    assert_eq!(bad.body.matches("<option value=\"bio\" selected>").count(), 2);
    assert_eq!(
        app.get(&format!("/api/v1{manage}")).json()["preferences"],
        json!(["clean", "steel"])
    );

    // Cancelling asks first; the question changes nothing.
    let confirm = browser.get(&format!("{manage}/cancel"));
    assert_eq!(confirm.status, 200);
    confirm.assert_contains("Cancel your registration?");
    confirm.assert_contains("Yes, cancel my registration");
    confirm.assert_contains(&format!("href=\"{}\"", manage.replace('/', "&#x2f;")));
    assert_eq!(app.get(&format!("/api/v1{manage}")).json()["status"], "confirmed");
    let cancelled = browser.submit(&format!("{manage}/cancel"), &[]);
    assert_eq!(cancelled.status, 303);
    assert_eq!(cancelled.location(), format!("{manage}?done=cancelled"));
    let page = browser.get(cancelled.location());
    page.assert_contains("Your registration is cancelled.");
    page.assert_contains("status--cancelled");
    page.assert_lacks("Save my choices");
    page.assert_lacks("Cancel my registration…");
    assert_eq!(app.get(&format!("/api/v1{manage}")).json()["status"], "cancelled");
    // The confirmation step of a cancelled registration just shows it.
    let again = browser.get(&format!("{manage}/cancel"));
    assert_eq!(again.status, 303);

    // In French; an unknown link is a plain not-found page.
    let french = Browser::french(&app);
    let holder_manage = holder.location.unwrap().replace("/api/v1", "");
    let page = french.get(&holder_manage);
    page.assert_contains("Statut : <span");
    page.assert_contains("Votre visite : Visit steel");
    let missing = browser.get(&format!("/manage/{}", "a".repeat(64)));
    assert_eq!(missing.status, 404);
    missing.assert_contains("Page not found");
    assert_eq!(browser.get("/manage/short").status, 404);
}

fn closed_and_full_states_are_shown_plainly(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event(
        "closed",
        json!({"registration_opens_at": "2020-01-01T09:00:00+01:00",
               "registration_closes_at": "2020-02-01T18:00:00+01:00",
               "contact_email": "team@closed.example"}),
        &[("a", 5)],
    );
    app.create_event(
        "later",
        json!({"registration_opens_at": "2029-03-01T09:00:00+01:00"}),
        &[("a", 5)],
    );
    app.create_event("full", json!({"capacity": 1}), &[("a", 1), ("b", 3)]);
    let browser = Browser::new(&app);

    let page = browser.get("/events/closed");
    assert_eq!(page.status, 200);
    page.assert_contains("Registration is closed");
    page.assert_contains("Registration closed on Saturday 1 February 2020 at 18:00.");
    page.assert_contains("team@closed.example");
    page.assert_lacks("<form");
    let refused = browser.submit(
        "/events/closed/register",
        &registration_form("late@example.org", ["a", "", ""]),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    refused.assert_contains("Registration is closed");
    assert_eq!(registrations_total(&app, "closed"), 0);

    let french = Browser::french(&app);
    let page = french.get("/events/later");
    page.assert_contains("Les inscriptions ouvrent le jeudi 1er mars 2029 à 09:00.");
    page.assert_lacks("<form");

    // A full visit stays selectable and says so; a full event says newcomers wait.
    assert_eq!(
        app.register("full", &participant(0, &["a"])).json()["site_visit"]["status"],
        "assigned"
    );
    let page = browser.get("/events/full");
    page.assert_contains("Full — waiting list");
    page.assert_contains("<option value=\"a\">Visit a (full — waiting list)</option>");
    page.assert_contains("3 seats left");
    page.assert_contains("The event is full. You can still register");
    let waiting = browser.submit(
        "/events/full/register",
        &registration_form("wait@example.org", ["a", "b", ""]),
    );
    assert_eq!(waiting.status, 200, "{}", waiting.body);
    waiting.assert_contains("You are on the waiting list");
    waiting.assert_contains("The event is full: you are number 1 on its waiting list.");
}

fn board_sign_in_takes_an_organiser_token_and_keeps_only_a_session_secret(backend: Backend) {
    let app = TestApp::spawn(backend);
    let board = format!("/organiser/events/{DEMO_EVENT}");
    let browser = Browser::new(&app);
    let page = browser.get(&board);
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location(),
        "/organiser/sign-in?next=%2Forganiser%2Fevents%2Fcmr-charleroi-2024"
    );
    let page = browser.get(page.location());
    assert_eq!(page.status, 200);
    assert_html_with_security_headers(&page);
    page.assert_contains("<label for=\"token\">Token</label>");
    assert_eq!(
        page.input_value("next"),
        "&#x2f;organiser&#x2f;events&#x2f;cmr-charleroi-2024"
    );

    // A wrong token: the form again, no session.
    let wrong = browser.submit(
        "/organiser/sign-in",
        &[("token", "rpa_not-a-token"), ("next", &board)],
    );
    assert_eq!(wrong.status, 401);
    wrong.assert_contains("This token is not valid");
    assert_eq!(wrong.cookie_line("rp_board"), "");
    assert_eq!(browser.get(&board).status, 303);

    // The organiser's token: a session cookie that holds no token, then the board.
    let page = browser.submit(
        "/organiser/sign-in",
        &[("token", &app.organiser), ("next", &board)],
    );
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), board);
    let cookie = page.cookie_line("rp_board");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/organiser", "Max-Age=43200"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http here: {cookie}");
    assert!(!cookie.contains(&app.organiser[4..20]), "{cookie}");
    let page = browser.get(&board);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_html_with_security_headers(&page);
    page.assert_contains("test organiser");
    page.assert_contains("<meter id=\"fill-aperam-chatelet\" min=\"0\" max=\"35\" value=\"0\"");
    page.assert_lacks("Exports");
    let events = browser.get("/organiser");
    assert_eq!(events.status, 200);
    events.assert_contains(&format!("href=\"/organiser/events/{DEMO_EVENT}\""));

    // The cookie is the session's random secret alone; altered in any way, it is no
    // session.
    let session = browser.cookie("rp_board").unwrap();
    assert!(
        session.len() == 64 && session.bytes().all(|b| b.is_ascii_hexdigit()),
        "{session}"
    );
    let last = if session.ends_with('0') { "1" } else { "0" };
    browser.set_cookie("rp_board", &format!("{}{last}", &session[..63]));
    assert_eq!(browser.get(&board).status, 303);
    browser.set_cookie("rp_board", &format!("{session}0"));
    assert_eq!(browser.get(&board).status, 303);
    browser.set_cookie("rp_board", &session);
    assert_eq!(browser.get(&board).status, 200);

    // Sign-in only sends the browser on to board pages.
    let admin = Browser::new(&app);
    admin.get("/organiser/sign-in");
    let page = admin.submit(
        "/organiser/sign-in",
        &[("token", &app.admin), ("next", "https://evil.example/")],
    );
    assert_eq!(page.location(), "/organiser");
    let page = admin.get(&board);
    page.assert_contains("test admin (admin)");
    page.assert_contains("Exports");
    page.assert_contains("exports&#x2f;counts?by=country&amp;format=csv");

    // Behind https, the cookies are Secure.
    let https = TestApp::spawn_with(backend, |s| s.server.public_url = "https://cmr.example".into());
    let browser = Browser::new(&https);
    let page = browser.get("/organiser/sign-in");
    assert!(page.cookie_line("rp_csrf").contains("Secure"));
    let page = browser.submit(
        "/organiser/sign-in",
        &[("token", &https.organiser), ("next", "/organiser")],
    );
    assert!(
        page.cookie_line("rp_board").contains("Secure"),
        "{:?}",
        page.set_cookies
    );
}

fn flash(page: &Page) -> String {
    let at = page.body.find("id=\"flash\">").expect("a flash message") + 11;
    page.body[at..at + page.body[at..].find("</p>").unwrap()].to_owned()
}

fn fill(page: &Page, visit: &str) -> String {
    let at = page
        .body
        .find(&format!("data-fill=\"{visit}\"><strong>"))
        .unwrap();
    let rest = &page.body[at..];
    let start = rest.find("<strong>").unwrap() + 8;
    rest[start..rest.find("</strong>").unwrap()].to_owned()
}

fn board_actions_move_resize_freeze_and_allocate(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("board", json!({}), &[("a", 1), ("b", 2)]);
    let ids: Vec<String> = [(0, vec!["a"]), (1, vec!["a", "b"]), (2, vec!["a"])]
        .iter()
        .map(|(n, prefs)| {
            app.register("board", &participant(*n, prefs)).json()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let browser = Browser::signed_in(&app, &app.organiser);
    let board = "/organiser/events/board";
    let page = browser.get(board);
    assert_eq!(fill(&page, "a"), "1 / 1");
    assert_eq!(fill(&page, "b"), "1 / 2");
    // The overview shows counts, never people: the waitlist is read through the API.
    page.assert_contains("<tr data-country=\"BE\"><th scope=\"row\">Belgium <abbr>BE</abbr></th><td class=\"num\">1</td><td class=\"num\">1</td>");
    page.assert_contains("href=\"/organiser/events/board/site-visits/a\"");
    page.assert_lacks("Participant2 Tester");
    let roster = call(
        ureq::get(&app.url("/api/v1/events/board/site-visits/a/roster"))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    )
    .json();
    assert_eq!(roster["waitlist"][0]["position"], 1);
    assert_eq!(roster["waitlist"][0]["id"], ids[2].as_str());

    // Move person 1 from b into a: a is full, so it is refused and says why.
    let refused = browser.submit(
        "/organiser/events/board/move",
        &[("registration", &ids[1]), ("site_visit", "a")],
    );
    assert_eq!(refused.status, 303);
    assert_eq!(refused.location(), board);
    let page = browser.get(board);
    assert!(flash(&page).contains("Visit a is full"), "{}", flash(&page));
    page.assert_contains("notice--error");
    assert_eq!(fill(&page, "a"), "1 / 1");
    // The flash is shown once.
    assert!(!browser.get(board).body.contains("id=\"flash\""));

    let moved = browser.submit(
        "/organiser/events/board/move",
        &[("registration", &ids[0]), ("site_visit", "b")],
    );
    assert_eq!(moved.status, 303);
    let page = browser.get(board);
    assert_eq!(flash(&page), "Participant0 Tester moved to Visit b.");
    assert_eq!(fill(&page, "a"), "1 / 1");
    assert_eq!(fill(&page, "b"), "2 / 2");
    // Person 0 from a to b: a's seat goes at once to person 2, who has none.
    let roster = call(
        ureq::get(&app.url("/api/v1/events/board/site-visits/a/roster"))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    )
    .json();
    assert_eq!(roster["assigned"][0]["id"], ids[2].as_str());

    // Capacity: a raise fills from the waitlist; below the seats taken is refused.
    let raised = browser.submit("/organiser/events/board/site-visits/a", &[("capacity", "3")]);
    assert_eq!(raised.status, 303);
    let page = browser.get(board);
    assert_eq!(flash(&page), "Capacity of Visit a is 3.");
    assert_eq!(
        fill(&page, "a"),
        "2 / 3",
        "person 1 moves up to their first choice"
    );
    assert_eq!(fill(&page, "b"), "1 / 2");
    browser.submit("/organiser/events/board/site-visits/a", &[("capacity", "1")]);
    let page = browser.get(board);
    assert!(flash(&page).contains("cannot go below"), "{}", flash(&page));
    assert_eq!(fill(&page, "a"), "2 / 3");
    browser.submit("/organiser/events/board/site-visits/a", &[("capacity", "lots")]);
    assert!(flash(&browser.get(board)).contains("capacity: must be a whole number"));

    // Freeze and unfreeze.
    browser.submit("/organiser/events/board/site-visits/b", &[("frozen", "true")]);
    let page = browser.get(board);
    assert_eq!(
        flash(&page),
        "Visit b is frozen: its roster changes only by hand."
    );
    page.assert_contains("<span class=\"badge badge--frozen\">frozen</span>");
    page.assert_contains("Unfreeze roster");
    browser.submit("/organiser/events/board/site-visits/b", &[("frozen", "false")]);
    assert_eq!(flash(&browser.get(board)), "Visit b is no longer frozen.");

    // Removing a seat counts the person under "Without a site visit".
    browser.submit(
        "/organiser/events/board/move",
        &[("registration", &ids[0]), ("site_visit", "")],
    );
    let page = browser.get(board);
    assert_eq!(flash(&page), "Participant0 Tester now holds no site visit.");
    page.assert_contains("<strong data-n=\"without_seat\">1</strong> confirmed person holds no seat.");
    let listed = call(
        ureq::get(&app.url("/api/v1/events/board/registrations?q=Participant0"))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    )
    .json();
    let person = &listed["registrations"][0];
    assert_eq!(person["id"], ids[0].as_str());
    assert_eq!(person["site_visit"], Value::Null);
    assert_eq!(person["auto_seat"], false, "placed by hand");

    // Every action is audited under the token's name.
    let audit = call(
        ureq::get(&app.url("/api/v1/events/board/audit"))
            .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    )
    .json();
    let entries = audit["entries"].as_array().unwrap();
    assert!(entries.len() >= 5, "{audit}");
    assert!(entries.iter().all(|e| e["actor"] == "test organiser"), "{audit}");

    // The allocation: a preview that changes nothing, then apply.
    app.create_event(
        "prefs",
        json!({"assignment_mode": "preferences"}),
        &[("x", 1), ("y", 2)],
    );
    for (n, prefs) in [(10, ["x", "y"]), (11, ["x", "y"]), (12, ["y", "x"])] {
        assert_eq!(app.register("prefs", &participant(n, &prefs)).status, 201);
    }
    let page = browser.get("/organiser/events/prefs");
    page.assert_contains("seats by preference allocation");
    assert_eq!(fill(&page, "x"), "0 / 1");
    let preview = browser.submit(
        "/organiser/events/prefs/allocation",
        &[("dry_run", "true"), ("balance_countries", "true")],
    );
    assert_eq!(preview.status, 200, "{}", preview.body);
    preview.assert_contains("This is a dry run: nothing has changed yet.");
    preview.assert_contains("<dt>In their 1st choice</dt><dd>2</dd>");
    preview.assert_contains("<dt>In their 2nd choice</dt><dd>1</dd>");
    preview.assert_contains("<input type=\"hidden\" name=\"balance_countries\" value=\"true\">");
    assert_eq!(fill(&browser.get("/organiser/events/prefs"), "x"), "0 / 1");
    let applied = browser.submit(
        "/organiser/events/prefs/allocation",
        &[("dry_run", "false"), ("balance_countries", "true")],
    );
    assert_eq!(applied.status, 303, "{}", applied.body);
    let page = browser.get("/organiser/events/prefs");
    assert!(flash(&page).starts_with("Allocation applied: 3 seats changed, 2 people in their first choice"));
    assert_eq!(fill(&page, "x"), "1 / 1");
    assert_eq!(fill(&page, "y"), "2 / 2");
}

fn signing_out_or_revoking_the_token_ends_the_session(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("out", json!({}), &[("a", 2)]);
    let id = app.register("out", &participant(0, &["a"])).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = Browser::signed_in(&app, &app.organiser);
    assert_eq!(browser.get("/organiser/events/out").status, 200);
    let page = browser.submit("/organiser/sign-out", &[]);
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), "/organiser/sign-in");
    let cleared = page.cookie_line("rp_board");
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("Path=/organiser"),
        "{cleared}"
    );
    assert_eq!(browser.get("/organiser/events/out").status, 303);
    // An action without a session does nothing and asks to sign in.
    let page = browser.submit(
        "/organiser/events/out/move",
        &[("registration", &id), ("site_visit", "")],
    );
    assert_eq!(page.status, 303);
    assert!(page.location().starts_with("/organiser/sign-in?next="));
    let view = app.get("/api/v1/events/out").json();
    assert_eq!(view["site_visits"][0]["assigned"], 1);

    // Revoking the token ends its sessions at once.
    let browser = Browser::signed_in(&app, &app.organiser);
    assert_eq!(browser.get("/organiser/events/out").status, 200);
    app.server
        .db
        .write_blocking(|conn| {
            use diesel::prelude::*;
            use rallypoint::db::schema::api_tokens;
            diesel::update(api_tokens::table.filter(api_tokens::name.eq("test organiser")))
                .set(api_tokens::revoked_at.eq(Some(rallypoint::domain::now())))
                .execute(conn)
                .map_err(rallypoint::domain::DomainError::from)
        })
        .unwrap();
    assert_eq!(browser.get("/organiser/events/out").status, 303);
}

/// The export links of the board, as the browser would follow them.
fn export_links(page: &Page) -> Vec<String> {
    page.body
        .split("<a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(unescaped)
        .filter(|href| href.contains("/exports/"))
        .collect()
}

fn admins_download_the_exports_from_the_board(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("dl", json!({}), &[("a", 1)]);
    for n in 0..2 {
        assert_eq!(app.register("dl", &participant(n, &["a"])).status, 201);
    }
    let counts = "/organiser/events/dl/exports/counts?by=country&format=csv";

    // Without a session: sign in first, then back to the same download.
    let browser = Browser::new(&app);
    let page = browser.get(counts);
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location(),
        "/organiser/sign-in?next=%2Forganiser%2Fevents%2Fdl%2Fexports%2Fcounts%3Fby%3Dcountry%26format%3Dcsv"
    );
    // An organiser's session is not enough for the admins' exports.
    let organiser = Browser::signed_in(&app, &app.organiser);
    let refused = organiser.get(counts);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_html_with_security_headers(&refused);

    // An admin's board links to every export, and each link downloads it.
    let admin = Browser::signed_in(&app, &app.admin);
    let board = admin.get("/organiser/events/dl");
    let links = export_links(&board);
    assert_eq!(links.len(), 5, "{links:?}");
    for link in &links {
        assert!(link.starts_with("/organiser/events/dl/exports/"), "{link}");
        let download = admin.get(link);
        assert_eq!(download.status, 200, "{link}: {}", download.body);
        assert!(
            download
                .header("content-disposition")
                .starts_with("attachment; filename=\"dl-"),
            "{link}: {:?}",
            download.headers
        );
        let api_path = link.replace("/organiser/events/", "/api/v1/events/");
        let api = call(
            ureq::get(&app.url(&api_path)).set("Authorization", &format!("Bearer {}", app.admin)),
            None,
        );
        assert_eq!(api.status, 200, "{api_path}");
        assert_eq!(download.header("content-type"), api.content_type, "{link}");
        if link.contains("format=csv") {
            // The same file as the API's: the waitlisted person is counted too.
            assert_eq!(download.body, api.body, "{link}");
        }
    }
    let by_country = admin.get(counts);
    let total = by_country
        .body
        .lines()
        .find(|l| l.starts_with("TOTAL"))
        .unwrap()
        .to_owned();
    assert!(total.starts_with("TOTAL,,2,1,1"), "{total}");

    // Bad parameters get the error page, not a file.
    let bad = admin.get("/organiser/events/dl/exports/counts?format=pdf");
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.header("content-disposition"), "");
    assert_eq!(admin.get("/organiser/events/nope/exports/attendees").status, 404);
}

fn the_board_speaks_french_from_sign_in_to_its_messages(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event(
        "bfr",
        json!({"assignment_mode": "preferences"}),
        &[("a", 1), ("b", 2)],
    );
    let ids: Vec<String> = [(0, vec!["a", "b"]), (1, vec!["a", "b"])]
        .iter()
        .map(|(n, prefs)| {
            app.register("bfr", &participant(*n, prefs)).json()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let board = "/organiser/events/bfr";
    let browser = Browser::french(&app);

    // Sign-in, from Accept-Language: the form, a wrong token, then the board.
    let page = browser.get("/organiser/sign-in");
    assert_eq!(page.status, 200);
    assert_html_with_security_headers(&page);
    assert_eq!(page.header("content-language"), "fr");
    page.assert_contains("<html lang=\"fr\">");
    page.assert_says("<title>Connexion — espace des organisateurs</title>");
    page.assert_contains("<label for=\"token\">Jeton</label>");
    page.assert_says("Connectez-vous avec votre jeton d'organisateur, d'administrateur ou de steward. Il commence par <code>rpa_</code>.");
    page.assert_contains(">Se connecter</button>");
    assert_eq!(page.switch_link("en"), "/organiser/sign-in?lang=en");
    let wrong = browser.submit(
        "/organiser/sign-in",
        &[("token", "rpa_not-a-token"), ("next", board)],
    );
    assert_eq!(wrong.status, 401);
    wrong.assert_says("Ce jeton n'est pas valable, a été révoqué, ou n'est pas celui d'un organisateur, d'un administrateur ou d'un steward.");
    assert_eq!(
        wrong.switch_link("en"),
        "/organiser/sign-in?next=%2Forganiser%2Fevents%2Fbfr&lang=en"
    );
    let signed = browser.submit(
        "/organiser/sign-in",
        &[("token", &app.organiser), ("next", board)],
    );
    assert_eq!(signed.location(), board);
    let page = browser.get_ok(board);
    page.assert_says("places attribuées par répartition selon les préférences");
    assert_eq!(fill(&page, "a"), "0 / 1");

    // A move, a refusal, a capacity and a freeze: each message in French.
    browser.submit(
        "/organiser/events/bfr/move",
        &[("registration", &ids[0]), ("site_visit", "a")],
    );
    let page = browser.get_ok(board);
    assert_eq!(
        flash(&page),
        "Participant0 Tester est maintenant dans la visite Visit a."
    );
    assert_eq!(fill(&page, "a"), "1 / 1");
    browser.submit(
        "/organiser/events/bfr/move",
        &[("registration", &ids[1]), ("site_visit", "a")],
    );
    let page = browser.get_ok(board);
    assert_eq!(flash(&page), "Visit a est complète (1 place prise sur 1)");
    page.assert_contains("notice--error");
    browser.submit("/organiser/events/bfr/site-visits/b", &[("capacity", "lots")]);
    assert_eq!(
        flash(&browser.get_ok(board)),
        "capacité : Saisissez un nombre entier."
    );
    browser.submit("/organiser/events/bfr/site-visits/b", &[("capacity", "3")]);
    assert_eq!(flash(&browser.get_ok(board)), "La capacité de Visit b est de 3.");
    browser.submit("/organiser/events/bfr/site-visits/b", &[("frozen", "true")]);
    let page = browser.get_ok(board);
    assert_eq!(
        flash(&page),
        "Visit b est figée : sa liste ne change plus qu&#x27;à la main."
    );
    page.assert_contains("<span class=\"badge badge--frozen\">figée</span>");
    page.assert_contains(">Ne plus figer la liste</button>");
    browser.submit("/organiser/events/bfr/site-visits/b", &[("frozen", "false")]);
    browser.submit(
        "/organiser/events/bfr/move",
        &[("registration", &ids[0]), ("site_visit", "")],
    );
    assert_eq!(
        flash(&browser.get_ok(board)),
        "Participant0 Tester n&#x27;a plus de visite."
    );

    // The allocation's plan and its outcome.
    let preview = browser.submit(
        "/organiser/events/bfr/allocation",
        &[("dry_run", "true"), ("balance_countries", "false")],
    );
    assert_eq!(preview.status, 200, "{}", preview.body);
    preview.assert_contains("<html lang=\"fr\">");
    preview.assert_contains("<h1>Plan de répartition</h1>");
    preview.assert_says("Ceci est une simulation : rien n'a encore changé.");
    preview.assert_contains("<dt>Dans leur 1er choix</dt><dd>");
    preview.assert_contains("<dt>Pays équilibrés</dt><dd>non (écart");
    preview.assert_contains(">Appliquer cette répartition</button>");
    let applied = browser.submit(
        "/organiser/events/bfr/allocation",
        &[("dry_run", "false"), ("balance_countries", "false")],
    );
    assert_eq!(applied.status, 303, "{}", applied.body);
    assert!(
        flash(&browser.get_ok(board)).starts_with("Répartition appliquée : "),
        "in French"
    );

    // The admin's export links are named in French; the files are the same.
    let admin = Browser::french(&app);
    admin.sign_in(&app.admin);
    let page = admin.get_ok(board);
    page.assert_contains("<h2 id=\"exports-heading\">Exportations</h2>");
    page.assert_contains("download>Chiffres par pays (CSV)</a>");
    page.assert_contains("test admin (admin)");
    assert_eq!(export_links(&page).len(), 5);

    // Chosen with the switch, English stays (the cookie), whatever the browser asks.
    let english = browser.get_ok(&format!("{board}?lang=en"));
    english.assert_contains("<html lang=\"en\">");
    browser.get_ok(board).assert_contains(">Sign out</button>");
    let other = Browser::french(&app);
    other.get_ok("/organiser/sign-in?lang=en");
    other
        .get_ok("/organiser/sign-in")
        .assert_contains("<label for=\"token\">Token</label>");
}
