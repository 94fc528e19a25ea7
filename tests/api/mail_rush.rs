//! Issue 19: mail that keeps up with a rush. A worker sends several emails at once
//! (`mail.concurrency`) and settles them in batched writes, and keeps issue 4's
//! guarantees (tests/api/email.rs): one email per state change, none lost, a 451
//! retried, and a stopped worker leaves nothing claimed behind it.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

use crate::email::{assert_each_once, registration_jobs};
use crate::helpers::{concurrently, Backend, TestApp, DEMO_EVENT};
use crate::smtp::SmtpServer;

crate::on_both_backends!(
    a_rush_gets_exactly_one_confirmation_each,
    a_deferring_server_with_several_in_flight_gets_each_email_once,
    a_stopped_worker_hands_back_what_it_did_not_send,
);

const WAIT: Duration = Duration::from_secs(60);
/// Long enough after the last expected email for a duplicate to show.
const SETTLE: Duration = Duration::from_millis(500);

/// The outbox's emails of one status, as an admin lists them.
fn outbox(app: &TestApp, status: &str) -> Vec<Value> {
    let reply = crate::helpers::call(
        ureq::get(&app.url(&format!("/api/v1/emails?status={status}&limit=500")))
            .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["emails"].as_array().unwrap().clone()
}

/// A delivery worker of its own on the app's database, sending to `smtp`, as
/// `rallypoint worker` runs one.
fn start_worker(
    app: &TestApp,
    smtp: &SmtpServer,
    concurrency: u32,
) -> rallypoint::background::BackgroundThread {
    let mut settings = app.server.settings.clone();
    settings.mail.smtp_url = smtp.url();
    settings.mail.concurrency = concurrency;
    let url = settings.database_url().unwrap();
    let db = rallypoint::db::Database::connect(&url, settings.db_options()).unwrap();
    let key = rallypoint::startup::load_manage_key(&db, &settings).unwrap();
    rallypoint::startup::delivery_worker(&settings, db, "http://rallypoint.test", key)
        .unwrap()
        .spawn()
}

/// 200 people register at once while the server's worker sends with 4 senders: each
/// gets one confirmation, the one its outbox row names (Message-ID), each sent at its
/// first attempt, and nothing is left claimed.
fn a_rush_gets_exactly_one_confirmation_each(backend: Backend) {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |settings| {
        settings.mail.smtp_url = url;
        settings.mail.concurrency = 4;
    });
    let replies = concurrently(25, registration_jobs(&app, DEMO_EVENT, 200));
    assert!(replies.iter().all(|r| r.status == 201));
    smtp.wait_for(200, WAIT);
    std::thread::sleep(SETTLE);
    let received = smtp.received();
    assert_eq!(received.len(), 200, "exactly once");
    assert_each_once(&received, 200);

    let sent = outbox(&app, "sent");
    assert_eq!(sent.len(), 200);
    assert!(
        sent.iter().all(|email| email["attempts"] == 1),
        "each sent at its first attempt"
    );
    let outbox_ids: HashSet<String> = sent
        .iter()
        .map(|email| format!("{}@rallypoint", email["id"].as_str().unwrap()))
        .collect();
    let message_ids: HashSet<String> = received.iter().map(|m| m.message_id()).collect();
    assert_eq!(message_ids, outbox_ids, "each message is its outbox row's");
    assert!(outbox(&app, "sending").is_empty());
    assert!(outbox(&app, "pending").is_empty());
}

/// The SMTP server answers 451 to the first 12 messages while 4 are in flight: every
/// email arrives once, and the outbox counts one attempt per 451 on top of one each.
fn a_deferring_server_with_several_in_flight_gets_each_email_once(backend: Backend) {
    const PEOPLE: usize = 40;
    const DEFERRED: usize = 12;
    let smtp = SmtpServer::start();
    smtp.defer_next(DEFERRED);
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |settings| {
        settings.mail.smtp_url = url;
        settings.mail.concurrency = 4;
        // Which email meets which 451 is up to the timing; none may run out of attempts.
        settings.mail.max_attempts = 100;
    });
    let replies = concurrently(8, registration_jobs(&app, DEMO_EVENT, PEOPLE));
    assert!(replies.iter().all(|r| r.status == 201));
    smtp.wait_for(PEOPLE, WAIT);
    std::thread::sleep(SETTLE);
    let received = smtp.received();
    assert_eq!(received.len(), PEOPLE, "exactly once");
    assert_each_once(&received, PEOPLE);

    let sent = outbox(&app, "sent");
    assert_eq!(sent.len(), PEOPLE);
    let attempts: i64 = sent.iter().map(|email| email["attempts"].as_i64().unwrap()).sum();
    assert_eq!(
        attempts,
        (PEOPLE + DEFERRED) as i64,
        "one attempt each, one more per 451"
    );
    assert!(outbox(&app, "failed").is_empty());
}

/// A worker stopped in the middle of 200 emails records what it sent and hands back
/// what it claimed but did not start: nothing stays `sending` (where it would wait for
/// its lease), the handed-back emails keep their attempts, and the next worker sends
/// each remaining email once.
fn a_stopped_worker_hands_back_what_it_did_not_send(backend: Backend) {
    const PEOPLE: usize = 200;
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, |settings| settings.mail.worker = false);
    let replies = concurrently(25, registration_jobs(&app, DEMO_EVENT, PEOPLE));
    assert!(replies.iter().all(|r| r.status == 201));

    let worker = start_worker(&app, &smtp, 4);
    smtp.wait_for(10, WAIT);
    worker.stop();
    let delivered = smtp.received().len();
    assert!(
        outbox(&app, "sending").is_empty(),
        "a stopped worker leaves nothing claimed"
    );
    assert_eq!(
        outbox(&app, "sent").len(),
        delivered,
        "every email the server accepted is recorded as sent"
    );
    let pending = outbox(&app, "pending");
    assert_eq!(pending.len(), PEOPLE - delivered);
    assert!(!pending.is_empty(), "the worker was stopped mid-rush");
    assert!(
        pending.iter().all(|email| email["attempts"] == 0),
        "an email handed back unsent keeps its attempts"
    );

    let worker = start_worker(&app, &smtp, 4);
    smtp.wait_for(PEOPLE, WAIT);
    std::thread::sleep(SETTLE);
    worker.stop();
    let received = smtp.received();
    assert_eq!(received.len(), PEOPLE, "exactly once");
    assert_each_once(&received, PEOPLE);
}
