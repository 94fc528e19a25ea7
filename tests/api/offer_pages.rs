//! Offers with a claim window, as people meet them: the email that a seat is held (in
//! the registration's language, with its deadline and a link to the manage page only),
//! the manage page's offer section whose posted forms accept or decline it, a second
//! answer shown plainly, and the organisers' overview counting seats held (the roster
//! says for whom).

use std::time::{Duration, Instant};

use chrono::DateTime;
use serde_json::{json, Value};

use crate::browsing::Browser;
use crate::helpers::{call, send, Backend, Reply, TestApp};
use crate::smtp::{Received, SmtpServer};

crate::on_both_backends!(
    an_offer_is_emailed_and_accepted_with_the_page_form,
    a_declined_offer_goes_to_the_next_person_and_shows_on_the_board,
    a_french_registrant_reads_the_offer_in_french,
);

const WAIT: Duration = Duration::from_secs(30);
const EVENT: &str = "offers";

/// A path as the HTML pages write it in attributes (minijinja escapes `/`).
fn escaped(path: &str) -> String {
    path.replace('/', "&#x2f;")
}

fn person(first: &str, email: &str, preferences: &[&str]) -> Value {
    json!({"first_name": first, "last_name": "Tester", "email": email, "organisation": format!("{first} GmbH"),
           "country": "BE", "preferences": preferences, "consent": true})
}

/// A registration, in French when `language` says so (the API takes the language of
/// `Accept-Language`).
fn register(app: &TestApp, body: &Value, language: &str) -> Reply {
    let reply = send(
        ureq::post(&app.url(&format!("/api/v1/events/{EVENT}/registrations")))
            .set("Accept-Language", language),
        "application/json",
        &body.to_string(),
        None,
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply
}

/// The manage page's path of a registration answer (`/manage/{token}`).
fn manage_path(reply: &Reply) -> String {
    reply.location.clone().unwrap().replace("/api/v1", "")
}

fn registration(app: &TestApp, manage: &str) -> Value {
    let reply = app.get(&format!("/api/v1{manage}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn cancel(app: &TestApp, manage: &str) {
    let reply = call(ureq::delete(&app.url(&format!("/api/v1{manage}"))), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// An event that offers freed seats for 24 hours, with visits of these capacities.
fn offer_app(backend: Backend, smtp: &SmtpServer, visits: &[(&str, i64)]) -> TestApp {
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |settings| settings.mail.smtp_url = url);
    let event = app.create_event(EVENT, json!({"offer_window_hours": 24}), visits);
    assert_eq!(event["offer_window_hours"], 24, "{event}");
    app
}

/// The first email to `address` whose subject contains `subject`, once it arrived.
fn mail_to(smtp: &SmtpServer, address: &str, subject: &str) -> Received {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(mail) = smtp
            .to(address)
            .into_iter()
            .find(|m| m.subject().contains(subject))
        {
            return mail;
        }
        let subjects: Vec<String> = smtp.to(address).iter().map(Received::subject).collect();
        assert!(
            Instant::now() < deadline,
            "no email to {address} about `{subject}` within {WAIT:?}; got {subjects:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The offer's deadline as the API gives it, written as an English email or page writes
/// it: "Thursday 3 December 2026 at 07:40 (UTC+01:00)", in the event's zone.
fn english_deadline(offer: &Value) -> String {
    let at = DateTime::parse_from_rfc3339(offer["expires_at"].as_str().unwrap()).unwrap();
    at.format("%A %-d %B %Y at %H:%M (UTC%:z)").to_string()
}

fn an_offer_is_emailed_and_accepted_with_the_page_form(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = offer_app(backend, &smtp, &[("steel", 1), ("bio", 5)]);
    let holder = register(&app, &person("Anna", "anna@example.org", &["steel"]), "en");
    let waiter = register(
        &app,
        &person("Bruno", "bruno@example.org", &["steel", "bio"]),
        "en",
    );
    assert_eq!(waiter.json()["site_visit"]["slug"], "bio", "his second choice");
    let manage = manage_path(&waiter);
    let manage_url = waiter.json()["manage_url"].as_str().unwrap().to_owned();
    assert!(registration(&app, &manage)["offer"].is_null());

    // Anna cancels: her seat on `steel` is held for Bruno, not given.
    cancel(&app, &manage_path(&holder));
    let view = registration(&app, &manage);
    let offer = &view["offer"];
    assert_eq!(offer["site_visit"], "steel", "{view}");
    assert_eq!(view["site_visit"]["slug"], "bio", "he keeps his seat meanwhile");
    let deadline = english_deadline(offer);
    assert!(
        deadline.ends_with("(UTC+01:00)") || deadline.ends_with("(UTC+02:00)"),
        "Brussels time: {deadline}"
    );

    let mail = mail_to(&smtp, "bruno@example.org", "A seat is held for you");
    assert_eq!(
        mail.subject(),
        format!("A seat is held for you until {deadline}: Event {EVENT} — Visit steel")
    );
    let text = mail.text();
    assert!(text.contains("Dear Bruno Tester"), "{text}");
    assert!(
        text.contains("a seat on \"Visit steel\" has become free"),
        "{text}"
    );
    assert!(text.contains(&format!("Held until: {deadline}")), "{text}");
    assert!(
        text.contains("Starts:     Sunday 2 June 2030 at 13:30 (UTC+02:00)"),
        "{text}"
    );
    assert!(text.contains(&format!("{manage_url}#offer")), "{text}");
    assert!(text.contains("\"Visit steel\" leaves your choices"), "{text}");
    assert!(text.contains("you keep your seat on \"Visit bio\""), "{text}");
    let html = mail.html();
    assert!(
        html.contains(&format!("href=\"{}#offer\"", escaped(&manage_url))),
        "{html}"
    );
    assert!(html.contains(&format!("<strong>{deadline}</strong>")), "{html}");
    // Mail scanners open links: no link in the email answers the offer.
    for body in [&text, &html] {
        assert!(!body.contains("/offer/"), "{body}");
    }

    let browser = Browser::speaking(&app, "en");
    let page = browser.get(&manage);
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("id=\"offer\"");
    page.assert_contains("A seat is held for you");
    page.assert_contains(&format!(
        "A seat on Visit steel has become free: it is held for you until {deadline}."
    ));
    page.assert_contains("Sunday 2 June 2030, 13:30–17:00");
    page.assert_contains("Accepting it gives up your seat on Visit bio, which goes to the next person.");
    page.assert_contains(&format!("action=\"{}/offer/accept\"", escaped(&manage)));
    page.assert_contains(&format!("action=\"{}/offer/decline\"", escaped(&manage)));
    let at = page.body.find("id=\"offer\"").unwrap();
    let section = &page.body[at..at + page.body[at..].find("</section>").unwrap()];
    assert_eq!(section.matches("<form method=\"post\"").count(), 2, "{section}");
    assert_eq!(section.matches("name=\"csrf_token\"").count(), 2, "{section}");

    // A form without the token changes nothing; a GET of the form's address neither.
    let refused = browser.post(&format!("{manage}/offer/accept"), &[], &[]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    let fetched = browser.get(&format!("{manage}/offer/accept"));
    assert_ne!(fetched.status, 200);
    assert_eq!(registration(&app, &manage)["offer"]["site_visit"], "steel");

    let accepted = browser.submit(&format!("{manage}/offer/accept"), &[]);
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(accepted.location(), format!("{manage}?done=offer_accepted"));
    let view = registration(&app, &manage);
    assert_eq!(view["site_visit"]["slug"], "steel", "{view}");
    assert_eq!(view["site_visit"]["status"], "assigned", "{view}");
    assert!(view["offer"].is_null(), "{view}");
    assert_eq!(view["preferences"], json!(["steel", "bio"]));
    let page = browser.get(accepted.location());
    page.assert_contains("The seat is yours.");
    page.assert_contains("Your site visit: Visit steel");
    page.assert_lacks("id=\"offer\"");
    let event = app.event(EVENT);
    assert_eq!(event["site_visits"][0]["assigned"], 1, "{event}");
    assert_eq!(event["site_visits"][0]["offered"], 0, "{event}");
    assert_eq!(
        event["site_visits"][1]["assigned"], 0,
        "his seat on bio went back"
    );

    let mail = mail_to(&smtp, "bruno@example.org", "The seat is yours");
    assert_eq!(
        mail.subject(),
        format!("The seat is yours: Visit steel — Event {EVENT}")
    );
    let text = mail.text();
    assert!(
        text.contains("you accepted the seat offered to you: it is yours."),
        "{text}"
    );
    assert!(text.contains("Your site visit: Visit steel"), "{text}");
    assert!(mail.calendar().is_some_and(|ics| ics.contains("Visit steel")));

    // A second answer (another tab, a double click) is told plainly, not a failure.
    let again = browser.submit(&format!("{manage}/offer/accept"), &[]);
    assert_eq!(again.status, 409, "{}", again.body);
    again.assert_contains("This offer is no longer open");
    again.assert_contains("Your site visit: Visit steel");
    again.assert_lacks("id=\"offer\"");
    let declined = browser.submit(&format!("{manage}/offer/decline"), &[]);
    assert_eq!(declined.status, 409, "{}", declined.body);
    assert_eq!(
        registration(&app, &manage)["preferences"],
        json!(["steel", "bio"])
    );
}

fn a_declined_offer_goes_to_the_next_person_and_shows_on_the_board(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = offer_app(backend, &smtp, &[("steel", 1)]);
    let holder = register(&app, &person("Anna", "anna@example.org", &["steel"]), "en");
    let first = register(&app, &person("Bruno", "bruno@example.org", &["steel"]), "en");
    let second = register(&app, &person("Chiara", "chiara@example.org", &["steel"]), "en");
    assert_eq!(second.json()["site_visit"]["waitlist_position"], 2);
    let (bruno, chiara) = (manage_path(&first), manage_path(&second));
    cancel(&app, &manage_path(&holder));
    assert_eq!(registration(&app, &bruno)["offer"]["site_visit"], "steel");
    assert!(registration(&app, &chiara)["offer"].is_null());
    mail_to(&smtp, "bruno@example.org", "A seat is held for you");

    let browser = Browser::speaking(&app, "en");
    browser.get(&bruno).assert_contains("id=\"offer\"");
    let declined = browser.submit(&format!("{bruno}/offer/decline"), &[]);
    assert_eq!(declined.status, 303, "{}", declined.body);
    assert_eq!(declined.location(), format!("{bruno}?done=offer_declined"));
    let page = browser.get(declined.location());
    page.assert_contains("You declined the seat: it goes to the next person");
    page.assert_lacks("id=\"offer\"");
    page.assert_contains("No site visit chosen");
    let view = registration(&app, &bruno);
    assert!(view["offer"].is_null(), "{view}");
    assert_eq!(view["preferences"], json!([]), "steel left his choices");
    assert_eq!(view["status"], "confirmed");

    // The seat is held for Chiara now.
    let view = registration(&app, &chiara);
    assert_eq!(view["offer"]["site_visit"], "steel", "{view}");
    let deadline = english_deadline(&view["offer"]);
    let mail = mail_to(&smtp, "chiara@example.org", "A seat is held for you");
    assert!(mail.subject().contains(&deadline), "{}", mail.subject());
    let mail = mail_to(&smtp, "bruno@example.org", "You declined the seat offered");
    assert_eq!(
        mail.subject(),
        format!("You declined the seat offered: Event {EVENT}")
    );
    let text = mail.text();
    assert!(
        text.contains("the seat offered to you on \"Visit steel\""),
        "{text}"
    );
    assert!(text.contains("visit has left your choices"), "{text}");
    assert!(text.contains("You have not chosen a site visit"), "{text}");

    // The overview: one seat held; the roster: for Chiara, until her deadline.
    let organiser = Browser::speaking(&app, "en");
    organiser.get("/organiser/sign-in");
    let board_path = format!("/organiser/events/{EVENT}");
    let signed_in = organiser.submit(
        "/organiser/sign-in",
        &[("token", &app.organiser), ("next", &board_path)],
    );
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let board = organiser.get(&board_path);
    assert_eq!(board.status, 200, "{}", board.body);
    board.assert_contains("freed seats are offered to the next person waiting");
    board.assert_contains("<strong>0 / 1</strong> seats · 1 offered · 0 waiting");
    board.assert_contains("<dt>Offered</dt><dd data-n=\"offered\">1</dd>");
    // The overview names nobody; whom the seat is held for is on the roster (API).
    board.assert_lacks("Chiara");
    let roster = call(
        ureq::get(&app.url(&format!("/api/v1/events/{EVENT}/site-visits/steel/roster")))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    )
    .json();
    let offers = roster["offered"].as_array().unwrap();
    assert_eq!(offers.len(), 1, "{roster}");
    assert_eq!(offers[0]["first_name"], "Chiara");
    assert_eq!(offers[0]["organisation"], "Chiara GmbH");
    assert_eq!(offers[0]["expires_at"], view["offer"]["expires_at"], "{roster}");

    // Chiara does not answer: the expiry worker's run, with a clock past her deadline,
    // writes her email (due at that clock, so it is read from the outbox here).
    let later = rallypoint::domain::now() + chrono::Duration::hours(25);
    let expired = app
        .server
        .db
        .write_blocking(move |conn| rallypoint::domain::offers::expire_due(conn, later, 10))
        .unwrap();
    assert_eq!(expired, 1);
    let payloads: Vec<String> = app
        .server
        .db
        .read_blocking(|conn| {
            use diesel::prelude::*;
            use rallypoint::db::schema::outbox_emails::dsl::*;
            Ok::<_, rallypoint::db::DbError>(
                outbox_emails
                    .filter(recipient.eq("chiara@example.org"))
                    .select(payload)
                    .load(conn)?,
            )
        })
        .unwrap();
    let last: Value =
        serde_json::from_str(payloads.iter().find(|p| p.contains("offer_expired")).unwrap()).unwrap();
    assert_eq!(last["ended_offer"], "Visit steel", "{last}");
    let view = registration(&app, &chiara);
    assert!(view["offer"].is_null(), "{view}");
    assert_eq!(view["preferences"], json!([]));
}

fn a_french_registrant_reads_the_offer_in_french(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = offer_app(backend, &smtp, &[("steel", 1)]);
    let holder = register(&app, &person("Anna", "anna@example.org", &["steel"]), "en");
    let waiter = register(&app, &person("Élodie", "elodie@example.be", &["steel"]), "fr-BE");
    assert_eq!(waiter.json()["language"], "fr");
    let manage = manage_path(&waiter);
    let manage_url = waiter.json()["manage_url"].as_str().unwrap().to_owned();
    cancel(&app, &manage_path(&holder));
    let offer = registration(&app, &manage)["offer"].clone();
    assert_eq!(offer["site_visit"], "steel", "{offer}");
    let at = DateTime::parse_from_rfc3339(offer["expires_at"].as_str().unwrap()).unwrap();
    let clock = at.format("à %H:%M (UTC%:z)").to_string();

    let mail = mail_to(&smtp, "elodie@example.be", "Une place vous est réservée");
    let subject = mail.subject();
    assert!(
        subject.starts_with("Une place vous est réservée jusqu'au "),
        "{subject}"
    );
    assert!(subject.contains(&clock), "{subject}");
    assert!(
        subject.ends_with(&format!(": Event {EVENT} — Visit steel")),
        "{subject}"
    );
    let text = mail.text();
    assert!(text.contains("Bonjour Élodie Tester"), "{text}");
    assert!(
        text.contains("une place s'est libérée pour « Visit steel »"),
        "{text}"
    );
    assert!(text.contains(&format!("{manage_url}#offer")), "{text}");
    assert!(
        text.contains("Début :              dimanche 2 juin 2030 à 13:30 (UTC+02:00)"),
        "{text}"
    );
    assert!(text.contains(&clock), "{text}");
    assert!(
        text.contains("« Visit steel » sera retirée de vos choix"),
        "{text}"
    );
    assert!(
        mail.html().contains("Acceptez-la ou déclinez-la"),
        "{}",
        mail.html()
    );

    let browser = Browser::speaking(&app, "fr-BE,fr;q=0.9");
    let page = browser.get(&manage);
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("<h2 id=\"offer-heading\" class=\"notice__title\">Une place vous est réservée</h2>");
    page.assert_contains(&clock);
    page.assert_contains("Accepter la place");
    page.assert_contains("La décliner");
    let accepted = browser.submit(&format!("{manage}/offer/accept"), &[]);
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    browser
        .get(accepted.location())
        .assert_contains("La place est à vous.");
    let view = registration(&app, &manage);
    assert_eq!(view["site_visit"]["status"], "assigned", "{view}");
    assert!(view["offer"].is_null(), "{view}");
    let again = browser.submit(&format!("{manage}/offer/accept"), &[]);
    assert_eq!(again.status, 409, "{}", again.body);
    again.assert_contains("Cette offre n&#x27;est plus ouverte");
    let mail = mail_to(&smtp, "elodie@example.be", "La place est à vous");
    assert_eq!(
        mail.subject(),
        format!("La place est à vous : Visit steel — Event {EVENT}")
    );
}
