//! Issue 2: the service takes registrations, validates at the edge, guards admin routes,
//! and keeps everything across restarts; the CLI migrates and creates tokens.

use serde_json::json;

use crate::helpers::{assert_duplicate_answer, participant, Backend, TestApp, DEMO_EVENT};

crate::on_both_backends!(
    demo_event_is_served_with_its_three_visits,
    a_registration_is_created_and_readable_through_its_location,
    a_form_registration_keeps_the_order_of_its_preferences,
    every_invalid_field_is_named_and_nothing_is_written,
    the_same_email_in_another_case_is_a_duplicate,
    the_same_email_may_register_for_two_events,
    malformed_unsupported_and_oversized_bodies_are_refused,
    unknown_events_and_routes_are_404_problems,
    admin_routes_need_an_admin_token,
    admin_input_is_validated,
    registration_outside_its_window_is_refused,
    a_restart_keeps_everything,
);

fn demo_event_is_served_with_its_three_visits(backend: Backend) {
    let app = TestApp::spawn(backend);
    let event = app.event(DEMO_EVENT);
    assert_eq!(event["timezone"], "Europe/Brussels");
    let visits = event["site_visits"].as_array().unwrap();
    let slugs: Vec<&str> = visits.iter().map(|v| v["slug"].as_str().unwrap()).collect();
    assert_eq!(
        slugs,
        [
            "aperam-chatelet",
            "biopark-charleroi",
            "district-cleantech-porte-ouest"
        ]
    );
    for visit in visits {
        assert!(visit["capacity"].as_i64().unwrap() > 0);
        assert_eq!(visit["assigned"], 0);
        assert_eq!(visit["seats_left"], visit["capacity"]);
        assert_eq!(visit["waitlisted"], 0);
        assert!(
            visit["starts_at"].as_str().unwrap().ends_with("+01:00"),
            "{visit}"
        );
    }
    assert!(visits[0]["name"].as_str().unwrap().contains("Aperam"));
    // Loading the event file again at the restart does not duplicate anything.
    let app = app.restart();
    assert_eq!(app.event(DEMO_EVENT)["site_visits"].as_array().unwrap().len(), 3);
}

fn a_registration_is_created_and_readable_through_its_location(backend: Backend) {
    let app = TestApp::spawn(backend);
    let reply = app.register(
        DEMO_EVENT,
        &json!({
            "first_name": "Valeria", "last_name": "Tudisco", "email": "valeria@sviluppumbria.example",
            "organisation": "Sviluppumbria", "country": "it", "job_title": "Project manager",
            "preferences": ["biopark-charleroi", "aperam-chatelet"], "consent": true
        }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = reply.json();
    assert_eq!(created["status"], "confirmed");
    assert_eq!(created["country"], "IT");
    assert_eq!(created["country_name"], "Italy");
    assert_eq!(created["site_visit"]["slug"], "biopark-charleroi");
    assert_eq!(created["site_visit"]["status"], "assigned");
    let manage_url = created["manage_url"].as_str().unwrap();
    let token = manage_url.rsplit('/').next().unwrap();
    assert_eq!(manage_url, format!("{}/manage/{token}", app.url("")));
    assert!(token.len() >= 32, "at least 128 bits");
    let location = reply.location.expect("a Location header");
    assert_eq!(location, format!("/api/v1/manage/{token}"));

    let read = app.get(&location);
    assert_eq!(read.status, 200, "{}", read.body);
    let read = read.json();
    assert_eq!(read["id"], created["id"]);
    assert_eq!(read["job_title"], "Project manager");
    assert_eq!(
        read["preferences"],
        json!(["biopark-charleroi", "aperam-chatelet"])
    );
    let visit = &app.event(DEMO_EVENT)["site_visits"][1];
    assert_eq!(visit["assigned"], 1);
}

fn a_form_registration_keeps_the_order_of_its_preferences(backend: Backend) {
    let app = TestApp::spawn(backend);
    let reply = app.post_form(
        &format!("/api/v1/events/{DEMO_EVENT}/registrations"),
        "first_name=Daniel&last_name=Janeiro&email=daniel%40adral.example&organisation=ADRAL\
         &country=pt&preferences=district-cleantech-porte-ouest&preferences=aperam-chatelet\
         &preferences=&consent=on",
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let body = reply.json();
    assert_eq!(
        body["preferences"],
        json!(["district-cleantech-porte-ouest", "aperam-chatelet"])
    );
    assert_eq!(body["site_visit"]["slug"], "district-cleantech-porte-ouest");
    assert_eq!(body["country"], "PT");
}

fn every_invalid_field_is_named_and_nothing_is_written(backend: Backend) {
    let app = TestApp::spawn(backend);
    let cases = [
        (
            json!({}),
            vec![
                "first_name",
                "last_name",
                "email",
                "organisation",
                "country",
                "consent",
            ],
        ),
        (
            json!({"first_name": "A", "last_name": "B", "email": "not-an-email", "organisation": "O",
                   "country": "XX", "preferences": [], "consent": true}),
            vec!["email", "country"],
        ),
        (
            json!({"first_name": "A", "last_name": "B", "email": "a@example.org", "organisation": "O",
                   "country": "BE", "preferences": ["aperam-chatelet", "aperam-chatelet"], "consent": true}),
            vec!["preferences"],
        ),
        (
            json!({"first_name": "A", "last_name": "B", "email": "a@example.org", "organisation": "O",
                   "country": "BE", "preferences": ["atlantis"], "consent": true}),
            vec!["preferences"],
        ),
        (
            json!({"first_name": "A", "last_name": "B", "email": "a@example.org", "organisation": "O",
                   "country": "BE", "preferences": ["aperam-chatelet", "biopark-charleroi",
                   "district-cleantech-porte-ouest", "aperam-chatelet"], "consent": true}),
            vec!["preferences"],
        ),
        (
            json!({"first_name": "A", "last_name": "B", "email": "a@example.org", "organisation": "O",
                   "country": "BE", "consent": false}),
            vec!["consent"],
        ),
        (
            json!({"first_name": "x".repeat(101), "last_name": "B", "email": "a@example.org",
                   "organisation": "O", "country": "BE", "consent": true, "organization": "typo"}),
            vec!["first_name", "organization"],
        ),
        (
            json!({"first_name": 7, "last_name": ["B"], "email": "a@example.org", "organisation": "O",
                   "country": "BE", "consent": "perhaps", "preferences": "aperam-chatelet"}),
            vec!["first_name", "last_name", "consent"],
        ),
    ];
    for (body, fields) in cases {
        let reply = app.register(DEMO_EVENT, &body);
        let problem = reply.problem(422, "validation-failed");
        let errors = problem["errors"].as_object().unwrap();
        for field in &fields {
            assert!(
                errors.contains_key(*field),
                "{field} not named for {body}: {problem}"
            );
        }
        assert_eq!(
            errors.len(),
            fields.len(),
            "only the bad fields are named: {problem}"
        );
    }
    for visit in app.event(DEMO_EVENT)["site_visits"].as_array().unwrap() {
        assert_eq!(visit["assigned"], 0);
        assert_eq!(visit["waitlisted"], 0);
    }
    // The address used above was never stored.
    let reply = app.register(DEMO_EVENT, &participant(1, &["aperam-chatelet"]));
    assert_eq!(reply.status, 201, "{}", reply.body);
}

fn the_same_email_in_another_case_is_a_duplicate(backend: Backend) {
    let app = TestApp::spawn(backend);
    let mut body = participant(1, &["aperam-chatelet"]);
    assert_eq!(app.register(DEMO_EVENT, &body).status, 201);
    body["email"] = json!("PARTICIPANT1@Example.ORG");
    body["first_name"] = json!("Someone else");
    let again = app.register(DEMO_EVENT, &body);
    assert_duplicate_answer(&app, &again);
    let visit = &app.event(DEMO_EVENT)["site_visits"][0];
    assert_eq!(visit["assigned"], 1, "the duplicate took no seat");
}

fn the_same_email_may_register_for_two_events(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("agorada-2025", json!({}), &[("biopark", 5)]);
    let body = participant(3, &[]);
    let first = app.register(DEMO_EVENT, &body);
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.json()["site_visit"].is_null(), "no preference, no visit");
    let second = app.register("agorada-2025", &body);
    assert_eq!(second.status, 201, "{}", second.body);
}

fn malformed_unsupported_and_oversized_bodies_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend);
    let path = format!("/api/v1/events/{DEMO_EVENT}/registrations");
    let post = |content_type: &str, body: &str| {
        crate::helpers::send(ureq::post(&app.url(&path)), content_type, body, None)
    };
    post("application/json", "{\"first_name\": ").problem(400, "malformed-request");
    post("application/json", "[1, 2]").problem(400, "malformed-request");
    post("text/plain", "first_name=A").problem(415, "unsupported-media-type");
    post("application/xml", "<a/>").problem(415, "unsupported-media-type");
    let huge = json!({"first_name": "A".repeat(200_000)}).to_string();
    post("application/json", &huge).problem(413, "payload-too-large");
    let none = crate::helpers::call(ureq::post(&app.url(&path)), None);
    none.problem(415, "unsupported-media-type");
    for visit in app.event(DEMO_EVENT)["site_visits"].as_array().unwrap() {
        assert_eq!(visit["assigned"], 0);
    }
}

fn unknown_events_and_routes_are_404_problems(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.get("/api/v1/events/no-such-event").problem(404, "not-found");
    app.register("no-such-event", &participant(1, &[]))
        .problem(404, "not-found");
    app.get("/api/v1/nothing-here").problem(404, "not-found");
    app.get("/api/v1/manage/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
        .problem(404, "not-found");
    app.get("/api/v1/manage/short").problem(404, "not-found");
}

fn admin_routes_need_an_admin_token(backend: Backend) {
    let app = TestApp::spawn(backend);
    let event = json!({"slug": "new-event", "name": "New", "timezone": "Europe/Brussels",
                       "starts_on": "2030-01-01", "ends_on": "2030-01-02"});
    app.post_json("/api/v1/events", &event, None)
        .problem(401, "unauthorized");
    app.post_json("/api/v1/events", &event, Some("rpa_wrong"))
        .problem(401, "unauthorized");
    app.post_json("/api/v1/events", &event, Some(&app.organiser))
        .problem(403, "forbidden");
    let visit = json!({"slug": "v", "name": "V", "starts_at": "2024-12-05T13:30:00+01:00",
                       "ends_at": "2024-12-05T15:30:00+01:00", "capacity": 3});
    let visit_path = format!("/api/v1/events/{DEMO_EVENT}/site-visits");
    app.post_json(&visit_path, &visit, Some(&app.organiser))
        .problem(403, "forbidden");
    assert!(
        app.get("/api/v1/events/new-event").status == 404,
        "nothing was created"
    );

    let created = app.post_json("/api/v1/events", &event, Some(&app.admin));
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.location.as_deref(), Some("/api/v1/events/new-event"));
    let added = app.post_json(&visit_path, &visit, Some(&app.admin));
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.json()["capacity"], 3);
    assert_eq!(app.event(DEMO_EVENT)["site_visits"].as_array().unwrap().len(), 4);
}

fn admin_input_is_validated(backend: Backend) {
    let app = TestApp::spawn(backend);
    let reply = app.post_json(
        "/api/v1/events",
        &json!({"slug": "Bad Slug", "name": "", "timezone": "Mars/Olympus", "starts_on": "2030-02-02",
                "ends_on": "2030-01-01", "assignment_mode": "lottery"}),
        Some(&app.admin),
    );
    let problem = reply.problem(422, "validation-failed");
    for field in ["slug", "name", "timezone", "ends_on", "assignment_mode"] {
        assert!(problem["errors"].get(field).is_some(), "{field}: {problem}");
    }
    let duplicate = app.post_json(
        "/api/v1/events",
        &json!({"slug": DEMO_EVENT, "name": "Again", "timezone": "Europe/Brussels",
                "starts_on": "2030-01-01", "ends_on": "2030-01-01"}),
        Some(&app.admin),
    );
    assert!(duplicate.problem(422, "validation-failed")["errors"]["slug"].is_array());
    let visit = app.post_json(
        &format!("/api/v1/events/{DEMO_EVENT}/site-visits"),
        &json!({"slug": "late", "name": "Late", "starts_at": "2031-01-01T10:00:00+01:00",
                "ends_at": "2031-01-01T09:00:00+01:00", "capacity": -1}),
        Some(&app.admin),
    );
    let problem = visit.problem(422, "validation-failed");
    for field in ["ends_at", "capacity"] {
        assert!(problem["errors"].get(field).is_some(), "{field}: {problem}");
    }
}

fn registration_outside_its_window_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event(
        "closed-event",
        json!({"registration_opens_at": "2020-01-01T00:00:00+01:00",
               "registration_closes_at": "2020-02-01T00:00:00+01:00"}),
        &[("visit", 5)],
    );
    app.create_event(
        "future-event",
        json!({"registration_opens_at": "2099-01-01T00:00:00+01:00"}),
        &[("visit", 5)],
    );
    for event in ["closed-event", "future-event"] {
        assert_eq!(app.event(event)["registration_open"], false);
        app.register(event, &participant(1, &["visit"]))
            .problem(409, "registration-closed");
        assert_eq!(app.event(event)["site_visits"][0]["assigned"], 0);
    }
}

fn a_restart_keeps_everything(backend: Backend) {
    let app = TestApp::spawn(backend);
    let reply = app.register(DEMO_EVENT, &participant(8, &["aperam-chatelet"]));
    assert_eq!(reply.status, 201);
    let location = reply.location.unwrap();
    let app = app.restart();
    let read = app.get(&location);
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json()["site_visit"]["status"], "assigned");
    assert_eq!(app.event(DEMO_EVENT)["site_visits"][0]["assigned"], 1);
    // Tokens survive too.
    let reply = app.post_json(
        "/api/v1/events",
        &json!({"slug": "after-restart", "name": "A", "timezone": "UTC", "starts_on": "2030-01-01",
                "ends_on": "2030-01-01"}),
        Some(&app.admin),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}
