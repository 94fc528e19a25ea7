//! Issue 19: messages to a group reach exactly their audience, each person in their
//! language (else the other one written); a dry run and a test write nothing for the
//! participants; bad messages are refused field by field; an erasure takes the person
//! out of a message not yet delivered.

use std::time::{Duration, Instant};

use rallypoint::domain::access::Role;
use serde_json::{json, Value};

use crate::browsing::Browser;
use crate::checkin::{manage_key, register};
use crate::helpers::{participant, send, token, Backend, Reply, Server, TestApp};
use crate::smtp::{Received, SmtpServer};

crate::on_both_backends!(
    a_message_to_a_visit_reaches_exactly_its_people_in_their_languages,
    a_dry_run_and_a_test_write_nothing_for_the_participants,
    bad_messages_are_refused_field_by_field_and_change_nothing,
    an_erased_person_is_taken_out_of_a_message_not_yet_delivered,
    organisers_compose_preview_send_and_follow_a_message_on_the_board,
);

const WAIT: Duration = Duration::from_secs(30);

fn app_with_smtp(backend: Backend, smtp: &SmtpServer) -> TestApp {
    let url = smtp.url();
    TestApp::spawn_with(backend, move |settings| settings.mail.smtp_url = url)
}

/// Registers participant `n` in `language` (the registration's language comes from the
/// request's `Accept-Language`); returns the registration's id.
fn register_in(app: &TestApp, event: &str, n: usize, preferences: &[&str], language: &str) -> String {
    let reply = send(
        ureq::post(&app.url(&format!("/api/v1/events/{event}/registrations")))
            .set("Accept-Language", language),
        "application/json",
        &participant(n, preferences).to_string(),
        None,
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["id"].as_str().unwrap().to_owned()
}

fn message(app: &TestApp, event: &str, body: &Value) -> Reply {
    app.post_json(
        &format!("/api/v1/events/{event}/messages"),
        body,
        Some(&app.organiser),
    )
}

fn texts() -> Value {
    json!({
        "subject": {"en": "Coach A leaves at 13:15", "fr": "Le car A part à 13h15"},
        "body": {
            "en": "Coach A leaves at 13:15 from the main entrance.\n\nBring closed shoes.",
            "fr": "Le car A part à 13h15 de l'entrée principale.\n\nPrenez des chaussures fermées."
        }
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    base
}

/// Message emails received so far (by their subject), to each address.
fn messages_to(smtp: &SmtpServer, address: &str) -> Vec<Received> {
    smtp.to(address)
        .into_iter()
        .filter(|mail| mail.subject().contains("13:15") || mail.subject().contains("13h15"))
        .collect()
}

/// The message's status once `done` says so (the worker delivers in the background).
fn status_when(app: &TestApp, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = crate::helpers::call(
            ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {}", app.organiser)),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let status = reply.json();
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "not done in time: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn a_message_to_a_visit_reaches_exactly_its_people_in_their_languages(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    app.create_event("talk", json!({}), &[("steel", 2), ("bio", 5)]);
    // Steel: participant0 (English) and participant1 (French) seated, participant3
    // (French) waiting; bio: participant2 (English).
    let p0 = register_in(&app, "talk", 0, &["steel"], "en");
    let p1 = register_in(&app, "talk", 1, &["steel"], "fr");
    register_in(&app, "talk", 2, &["bio"], "en");
    register_in(&app, "talk", 3, &["steel"], "fr");
    smtp.wait_for(4, WAIT);

    let reply = message(
        &app,
        "talk",
        &with(texts(), json!({"audience": {"site_visit": "steel"}})),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let sent = reply.json();
    assert_eq!(sent["recipients"], 2, "{sent}");
    assert_eq!(
        (sent["english"].clone(), sent["french"].clone()),
        (json!(1), json!(1))
    );
    let id = sent["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/events/talk/messages/{id}");
    assert_eq!(reply.location.as_deref(), Some(path.as_str()));

    let status = status_when(&app, &path, |s| s["totals"]["sent"] == 2);
    assert_eq!(status["totals"], json!({"queued": 0, "sent": 2, "failed": 0}));
    assert_eq!(status["recipients"], 2);
    let mut listed: Vec<&str> = status["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["registration_id"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    let mut expected = vec![p0.as_str(), p1.as_str()];
    expected.sort_unstable();
    assert_eq!(listed, expected);
    assert_eq!(status["subject"]["fr"], "Le car A part à 13h15");

    let english = messages_to(&smtp, "participant0@example.org");
    assert_eq!(english.len(), 1);
    assert_eq!(english[0].subject(), "Coach A leaves at 13:15");
    assert!(
        english[0].text().contains("Dear Participant0 Tester"),
        "{}",
        english[0].text()
    );
    assert!(english[0].text().contains("Bring closed shoes."));
    assert!(english[0].text().contains("/manage/"), "the person's own link");
    assert!(english[0]
        .html()
        .contains("<p>Coach A leaves at 13:15 from the main entrance.</p>"));
    let french = messages_to(&smtp, "participant1@example.org");
    assert_eq!(french.len(), 1);
    assert_eq!(french[0].subject(), "Le car A part à 13h15");
    assert!(french[0].text().contains("Bonjour Participant1 Tester"));
    assert!(french[0].text().contains("chaussures fermées"));
    for outside in ["participant2@example.org", "participant3@example.org"] {
        assert!(
            messages_to(&smtp, outside).is_empty(),
            "{outside} is not seated in steel"
        );
    }

    // The waitlist, in English only: the French participant3 gets the English text.
    let english_only = json!({
        "audience": {"site_visit": "steel", "status": "waitlisted"},
        "subject": {"en": "Seats at 13:15 are unlikely"},
        "body": {"en": "The steel plant is full."}
    });
    let reply = message(&app, "talk", &english_only);
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["recipients"], 1);
    let deadline = Instant::now() + WAIT;
    while messages_to(&smtp, "participant3@example.org").is_empty() {
        assert!(Instant::now() < deadline, "the waitlist's message did not arrive");
        std::thread::sleep(Duration::from_millis(100));
    }
    let fallback = &messages_to(&smtp, "participant3@example.org")[0];
    assert_eq!(fallback.subject(), "Seats at 13:15 are unlikely");
    assert!(
        fallback.text().contains("Dear Participant3 Tester"),
        "the template of the text's language"
    );

    // Those not checked in yet: participant0 is checked in on steel's list.
    let steward = token(&app.server.db, Role::Steward, "coach A");
    let code = manage_key(&app).checkin_code_for(&p0);
    let scan = app.post_json(
        "/api/v1/events/talk/checkins",
        &json!({"code": code, "list": "visit:steel", "direction": "in", "nonce": "nonce-msg-0001"}),
        Some(&steward),
    );
    assert_eq!(scan.status, 201, "{}", scan.body);
    for (checked_in, expected) in [
        (false, "participant1@example.org"),
        (true, "participant0@example.org"),
    ] {
        let dry = message(
            &app,
            "talk",
            &with(
                texts(),
                json!({"dry_run": true, "audience": {"site_visit": "steel", "checked_in": checked_in}}),
            ),
        );
        assert_eq!(dry.status, 200, "{}", dry.body);
        assert_eq!(dry.json()["recipients"], 1, "{}", dry.body);
        let name = expected
            .split('@')
            .next()
            .unwrap()
            .replace("participant", "Participant");
        assert!(
            dry.json()["preview"]["text"].as_str().unwrap().contains(&name),
            "{}",
            dry.body
        );
    }
    // By country: participant2 is in PT, participant0 in BE.
    let dry = message(
        &app,
        "talk",
        &with(texts(), json!({"dry_run": true, "audience": {"country": "pt"}})),
    );
    assert_eq!(dry.json()["recipients"], 1, "{}", dry.body);
}

fn a_dry_run_and_a_test_write_nothing_for_the_participants(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    app.create_event("quiet", json!({}), &[("steel", 5)]);
    for n in 0..3 {
        register(&app, "quiet", n, &["steel"]);
    }
    smtp.wait_for(3, WAIT);

    let dry = message(&app, "quiet", &with(texts(), json!({"dry_run": true})));
    assert_eq!(dry.status, 200, "{}", dry.body);
    let dry = dry.json();
    assert_eq!(dry["recipients"], 3);
    assert_eq!(dry["id"], Value::Null);
    assert_eq!(dry["preview"]["subject"], "Coach A leaves at 13:15");
    let preview = dry["preview"]["text"].as_str().unwrap();
    assert!(preview.contains("Dear Participant0 Tester"), "{preview}");
    assert!(preview.contains("Bring closed shoes."), "{preview}");
    assert!(
        !preview.contains("/manage/rp"),
        "no one's private link in a preview: {preview}"
    );

    let test = message(
        &app,
        "quiet",
        &with(texts(), json!({"test_to": "me@organisers.example"})),
    );
    assert_eq!(test.status, 200, "{}", test.body);
    assert_eq!(test.json()["test_sent_to"], "me@organisers.example");
    let deadline = Instant::now() + WAIT;
    while messages_to(&smtp, "me@organisers.example").len() < 2 {
        assert!(Instant::now() < deadline, "the tests did not arrive");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut subjects: Vec<String> = messages_to(&smtp, "me@organisers.example")
        .iter()
        .map(Received::subject)
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["Coach A leaves at 13:15", "Le car A part à 13h15"]);
    // Give the worker time to send anything else it (wrongly) had.
    std::thread::sleep(Duration::from_millis(500));
    for n in 0..3 {
        assert!(
            messages_to(&smtp, &format!("participant{n}@example.org")).is_empty(),
            "a dry run and a test send nothing to participants"
        );
    }
}

fn bad_messages_are_refused_field_by_field_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("strict", json!({}), &[("steel", 5)]);
    register(&app, "strict", 0, &["steel"]);
    let errors = |body: Value| {
        let reply = message(&app, "strict", &body);
        reply.problem(422, "validation-failed")["errors"].clone()
    };
    let e = errors(json!({"subject": {}, "body": {}}));
    assert!(e["subject"].is_array(), "{e}");
    let e = errors(json!({"subject": {"en": "Hello"}, "body": {"fr": "Bonjour"}}));
    assert!(e["body.en"].is_array() && e["subject.fr"].is_array(), "{e}");
    let e = errors(with(
        texts(),
        json!({"audience": {"site_visit": "steel", "status": "confirmed", "colour": "red"}, "test_to": "not an address"}),
    ));
    assert!(e["audience.status"].is_array(), "{e}");
    assert!(e["audience.colour"].is_array(), "{e}");
    assert!(e["test_to"].is_array(), "{e}");
    let e = errors(json!({"subject": {"en": "two\nlines"}, "body": {"en": "x"}}));
    assert!(e["subject.en"].is_array(), "{e}");
    let e = errors(with(texts(), json!({"audience": {"site_visit": "nowhere"}})));
    assert!(e["audience.site_visit"].is_array(), "{e}");
    // Nobody in Japan: nothing to send (a dry run answers 0).
    let e = errors(with(texts(), json!({"audience": {"country": "JP"}})));
    assert!(e["audience"].is_array(), "{e}");
    let dry = message(
        &app,
        "strict",
        &with(texts(), json!({"dry_run": true, "audience": {"country": "JP"}})),
    );
    assert_eq!(dry.json()["recipients"], 0);

    message(&app, "nowhere", &texts()).problem(404, "not-found");
    let steward = token(&app.server.db, Role::Steward, "gate");
    app.post_json("/api/v1/events/strict/messages", &texts(), Some(&steward))
        .problem(403, "forbidden");
    app.post_json("/api/v1/events/strict/messages", &texts(), None)
        .problem(401, "unauthorized");
    let missing = crate::helpers::call(
        ureq::get(&app.url("/api/v1/events/strict/messages/0190aaaa-0000-7000-8000-000000000001"))
            .set("Authorization", &format!("Bearer {}", app.organiser)),
        None,
    );
    missing.problem(404, "not-found");

    // Nothing was queued for the participant but their confirmation.
    let emails = crate::helpers::call(
        ureq::get(&app.url("/api/v1/emails?limit=100"))
            .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    let kinds: Vec<String> = emails.json()["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["registered"]);
}

fn an_erased_person_is_taken_out_of_a_message_not_yet_delivered(backend: Backend) {
    // No delivery worker while the message is queued and the person erased (a worker
    // may still deliver an email it took before the erasure: docs/messages.md).
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |settings| {
        settings.mail.smtp_url = url;
        settings.mail.worker = false;
    });
    app.create_event("forget", json!({}), &[("steel", 5)]);
    let ids: Vec<String> = (0..3)
        .map(|n| register(&app, "forget", n, &["steel"]).0)
        .collect();
    let reply = message(&app, "forget", &texts());
    assert_eq!(reply.status, 201, "{}", reply.body);
    let path = reply.location.clone().unwrap();
    let erase = send(
        ureq::delete(&app.url(&format!(
            "/api/v1/events/forget/registrations/{}?erase=true",
            ids[1]
        ))),
        "application/json",
        "",
        Some(&app.admin),
    );
    assert_eq!(erase.status, 200, "{}", erase.body);
    let status = status_when(&app, &path, |_| true);
    assert_eq!(status["recipients"], 3, "the message keeps how many it went to");
    assert_eq!(status["totals"]["queued"], 2, "{status}");
    let listed: Vec<&str> = status["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["email"].as_str().unwrap())
        .collect();
    assert!(!listed.contains(&"participant1@example.org"), "{listed:?}");
    assert_eq!(status["body"]["en"], texts()["body"]["en"], "the text is kept");

    // Delivery starts: the two others get it, the erased person nothing.
    let TestApp {
        server,
        admin,
        organiser,
        db,
        backend,
    } = app;
    let mut settings = server.settings.clone();
    server.stop();
    settings.mail.worker = true;
    let app = TestApp {
        server: Server::start(settings),
        admin,
        organiser,
        db,
        backend,
    };
    let status = status_when(&app, &path, |s| s["totals"]["sent"] == 2);
    assert_eq!(status["totals"]["queued"], 0);
    assert_eq!(messages_to(&smtp, "participant0@example.org").len(), 1);
    assert_eq!(messages_to(&smtp, "participant2@example.org").len(), 1);
    let to_erased: Vec<String> = smtp
        .to("participant1@example.org")
        .iter()
        .map(Received::subject)
        .collect();
    assert!(to_erased.is_empty(), "{to_erased:?}");
}

fn organisers_compose_preview_send_and_follow_a_message_on_the_board(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    app.create_event("board", json!({}), &[("steel", 2), ("bio", 5)]);
    register_in(&app, "board", 0, &["steel"], "en");
    register_in(&app, "board", 1, &["steel"], "fr");
    register_in(&app, "board", 2, &["bio"], "en");
    let browser = Browser::signed_in(&app, &app.organiser);
    let overview = browser.get_ok("/organiser/events/board");
    overview.assert_contains("href=\"/organiser/events/board/messages\">Write to a group");
    let form = browser.get_ok("/organiser/events/board/messages");
    form.assert_contains("<h1>Messages</h1>");
    form.assert_says("No message sent yet.");

    let draft = [
        ("site_visit", "steel"),
        ("status", ""),
        ("country", ""),
        ("checked_in", ""),
        ("subject_en", "Coach A leaves at 13:15"),
        ("body_en", "From the main entrance."),
        ("subject_fr", ""),
        ("body_fr", ""),
        ("test_to", ""),
    ];
    let with_button = |button: &'static str| {
        let mut fields = draft.to_vec();
        fields.push(("button", button));
        fields
    };
    // Preview: how many, and the email; the draft is kept.
    let preview = browser.submit("/organiser/events/board/messages", &with_button("preview"));
    assert_eq!(preview.status, 200, "{}", preview.body);
    preview.assert_says("It would go to 2 people (2 in English, 0 in French).");
    preview.assert_contains("Dear Participant0 Tester,");
    assert_eq!(preview.input_value("subject_en"), "Coach A leaves at 13:15");
    // Refused: a subject without its text, said field by field, nothing sent.
    let mut half = with_button("send");
    half.retain(|(name, _)| *name != "body_en");
    let refused = browser.submit("/organiser/events/board/messages", &half);
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("body.en");
    // Send: to the message's page, with its delivery.
    let sent = browser.submit("/organiser/events/board/messages", &with_button("send"));
    let status = browser.follow(sent);
    status.assert_says("Message sent to 2 people.");
    status.assert_contains("participant0@example.org");
    status.assert_contains("participant1@example.org");
    status.assert_lacks("participant2@example.org");
    let deadline = Instant::now() + WAIT;
    while messages_to(&smtp, "participant0@example.org").is_empty()
        || messages_to(&smtp, "participant1@example.org").is_empty()
    {
        assert!(Instant::now() < deadline, "the board's message did not arrive");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(messages_to(&smtp, "participant2@example.org").is_empty());
    let list = browser.get_ok("/organiser/events/board/messages");
    list.assert_says("Coach A leaves at 13:15");
    // A steward may not open it.
    let steward = token(&app.server.db, Role::Steward, "gate");
    let as_steward = Browser::signed_in(&app, &steward).get("/organiser/events/board/messages");
    assert_eq!(as_steward.status, 403, "{}", as_steward.body);
}
