//! Issue 19: reminders before each site visit go at their time, relative to each visit's
//! own start, exactly once per person and rule across two workers and a restart; a
//! person seated after a reminder's time gets none for that rule; a visit moved by an
//! hour moves its reminders. The clock is the worker's argument (`send_due`).

use chrono::{Duration, NaiveDateTime, Utc};
use rallypoint::db::Database;
use rallypoint::domain::catalog::import_event_file;
use rallypoint::domain::event::EventFile;
use rallypoint::domain::reminders::send_due;
use rallypoint::domain::DomainError;
use serde_json::{json, Value};

use crate::helpers::{concurrently, participant, send, Backend, Job, TestApp};
use crate::smtp::{Received, SmtpServer};

crate::on_both_backends!(
    reminders_go_once_per_person_and_rule_at_their_time,
    a_latecomer_gets_only_the_reminders_ahead_and_a_moved_visit_moves_them,
);

const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn remind(db: &Database, at: NaiveDateTime) -> usize {
    db.write_blocking(move |conn| send_due(conn, at, 500)).unwrap()
}

fn visit(app: &TestApp, event: &str, body: Value) {
    let reply = app.post_json(
        &format!("/api/v1/events/{event}/site-visits"),
        &body,
        Some(&app.admin),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

fn register(app: &TestApp, event: &str, n: usize, preferences: &[&str], language: &str) {
    let reply = send(
        ureq::post(&app.url(&format!("/api/v1/events/{event}/registrations")))
            .set("Accept-Language", language),
        "application/json",
        &participant(n, preferences).to_string(),
        None,
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

fn reminders_to(smtp: &SmtpServer, address: &str) -> Vec<Received> {
    smtp.to(address)
        .into_iter()
        .filter(|mail| mail.subject().starts_with("Reminder") || mail.subject().starts_with("Rappel"))
        .collect()
}

fn reminders_go_once_per_person_and_rule_at_their_time(backend: Backend) {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |settings| settings.mail.smtp_url = url);
    app.create_event("remind", json!({"reminder_hours": [2, 24, 2]}), &[]);
    visit(
        &app,
        "remind",
        json!({
            "slug": "steel", "name": "Aperam Châtelet", "location": "Châtelet",
            "meeting_point": "Main entrance, coach A", "bring": "Closed shoes and an identity card",
            "starts_at": "2030-06-02T13:30:00+02:00", "ends_at": "2030-06-02T17:00:00+02:00",
            "capacity": 2
        }),
    );
    register(&app, "remind", 0, &["steel"], "en");
    register(&app, "remind", 1, &["steel"], "fr");
    register(&app, "remind", 2, &["steel"], "en");
    smtp.wait_for(3, WAIT);
    let starts = "2030-06-02T11:30:00".parse::<NaiveDateTime>().unwrap();
    let db = app.server.db.clone();

    assert_eq!(remind(&db, starts - Duration::hours(25)), 0, "not yet");
    assert_eq!(
        remind(&db, starts - Duration::hours(24)),
        2,
        "the day before: the two seated"
    );
    assert_eq!(remind(&db, starts - Duration::hours(23)), 0, "once");

    // Two workers at once, at the second rule's time: one reminder each, not two.
    let at = starts - Duration::hours(2) + Duration::minutes(1);
    let jobs: Vec<Job<usize>> = (0..2)
        .map(|_| {
            let db = db.clone();
            Box::new(move |_: &ureq::Agent| remind(&db, at)) as Job<usize>
        })
        .collect();
    let queued: usize = concurrently(2, jobs).into_iter().sum();
    assert_eq!(queued, 2, "two workers queue each reminder once");

    let app = app.restart();
    let db = app.server.db.clone();
    assert_eq!(
        remind(&db, starts - Duration::hours(1)),
        0,
        "nothing again after a restart"
    );
    assert_eq!(
        remind(&db, starts + Duration::minutes(1)),
        0,
        "none once the visit started"
    );

    // The clock reaches the reminders' time: the emails queued at it fall due now.
    db.write_blocking(|conn| -> Result<usize, DomainError> {
        use diesel::prelude::*;
        use rallypoint::db::schema::outbox_emails::dsl::*;
        Ok(diesel::update(outbox_emails.filter(kind.eq("reminder")))
            .set(next_attempt_at.eq(rallypoint::domain::now()))
            .execute(conn)?)
    })
    .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while reminders_to(&smtp, "participant0@example.org").len()
        + reminders_to(&smtp, "participant1@example.org").len()
        < 4
    {
        if std::time::Instant::now() > deadline {
            let emails = crate::helpers::call(
                ureq::get(&app.url("/api/v1/emails?limit=100"))
                    .set("Authorization", &format!("Bearer {}", app.admin)),
                None,
            );
            panic!("the reminders did not arrive: {}", emails.body);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let english = reminders_to(&smtp, "participant0@example.org");
    assert_eq!(english.len(), 2, "one per rule");
    let text = english[0].text();
    assert!(
        english[0].subject().starts_with("Reminder: Aperam Châtelet, "),
        "{}",
        english[0].subject()
    );
    assert!(text.contains("Meet at:   Main entrance, coach A"), "{text}");
    assert!(
        text.contains("Bring:     Closed shoes and an identity card"),
        "{text}"
    );
    assert!(text.contains("Your check-in code:"), "{text}");
    assert!(
        text.contains("13:30"),
        "the visit's time in the event's zone: {text}"
    );
    assert!(english.iter().any(|mail| mail.text().contains("in 2 hours")));
    let french = reminders_to(&smtp, "participant1@example.org");
    assert_eq!(french.len(), 2);
    assert!(
        french[0].subject().starts_with("Rappel : Aperam Châtelet"),
        "{}",
        french[0].subject()
    );
    assert!(
        french[0].text().contains("À prendre :    Closed shoes"),
        "{}",
        french[0].text()
    );
    assert!(
        reminders_to(&smtp, "participant2@example.org").is_empty(),
        "waiting, not seated"
    );
}

fn a_latecomer_gets_only_the_reminders_ahead_and_a_moved_visit_moves_them(backend: Backend) {
    let app = TestApp::spawn(backend);
    let now = Utc::now().naive_utc();
    let iso = |t: NaiveDateTime| format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S"));
    let day = |t: NaiveDateTime| t.format("%Y-%m-%d").to_string();
    // Soon: starts in 10 hours (its 24-hour reminder's time has passed); later: in 20.
    let (soon, later) = (now + Duration::hours(10), now + Duration::hours(20));
    let event = |later_starts: NaiveDateTime| {
        json!({
            "slug": "moving", "name": "Moving", "timezone": "UTC", "reminder_hours": [24, 2],
            "starts_on": day(now), "ends_on": day(now + Duration::days(2)),
            "site_visits": [
                {"slug": "soon", "name": "Soon", "starts_at": iso(soon),
                 "ends_at": iso(soon + Duration::hours(3)), "capacity": 5},
                {"slug": "later", "name": "Later", "starts_at": iso(later_starts),
                 "ends_at": iso(later_starts + Duration::hours(3)), "capacity": 5},
            ]
        })
    };
    let import = |body: Value| {
        let Value::Object(map) = body else { unreachable!() };
        let file = EventFile::parse(map).unwrap();
        app.server
            .db
            .write_blocking(move |conn| -> Result<(), DomainError> {
                import_event_file(conn, &file, rallypoint::domain::now())?;
                Ok(())
            })
            .unwrap();
    };
    import(event(later));
    register(&app, "moving", 0, &["soon"], "en");
    register(&app, "moving", 1, &["later"], "en");
    let db = app.server.db.clone();

    assert_eq!(
        remind(&db, now + Duration::minutes(1)),
        0,
        "seated after the day-before time"
    );
    assert_eq!(
        remind(&db, soon - Duration::hours(2)),
        1,
        "but reminded two hours before"
    );

    // Later moves an hour on: its day-before and two-hour reminders move with it.
    import(event(later + Duration::hours(1)));
    assert_eq!(
        remind(&db, later - Duration::hours(2) + Duration::minutes(1)),
        0,
        "not at the old time"
    );
    assert_eq!(
        remind(&db, later - Duration::hours(1) + Duration::minutes(1)),
        1,
        "at the new one"
    );
}
