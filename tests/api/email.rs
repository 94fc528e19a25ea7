//! Issue 4: every change a participant must hear about reaches a real SMTP server, and
//! an SMTP outage, a slow or refusing server, several workers or a killed process lose
//! no email and send none twice (but the one in flight when a process is killed).

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    concurrently, participant, send, settings_for, spawn_binary, Backend, Job, Reply, TestApp, TestDb,
};
use crate::smtp::{free_port, Received, SmtpServer};

crate::on_both_backends!(
    every_kind_of_email_arrives_with_its_details,
    an_smtp_outage_delays_but_loses_nothing,
    temporary_failures_are_retried_and_permanent_ones_listed,
    two_workers_deliver_every_email_exactly_once,
    a_killed_server_loses_no_email,
    without_smtp_emails_are_written_as_eml_files,
);

const WAIT: Duration = Duration::from_secs(30);

fn app_with_smtp(backend: Backend, smtp: &SmtpServer) -> TestApp {
    let url = smtp.url();
    TestApp::spawn_with(backend, move |settings| settings.mail.smtp_url = url)
}

fn person(first: &str, last: &str, email: &str, preferences: &[&str]) -> Value {
    json!({"first_name": first, "last_name": last, "email": email, "organisation": "Cluster",
           "country": "BE", "preferences": preferences, "consent": true})
}

fn manage_url(reply: &Reply) -> String {
    reply.json()["manage_url"].as_str().unwrap().to_owned()
}

fn calendar_event(mail: &Received) -> icalendar::Calendar {
    let text = mail
        .calendar()
        .unwrap_or_else(|| panic!("no calendar in {}", mail.subject()));
    text.parse::<icalendar::Calendar>().expect("a parseable .ics")
}

fn property(calendar: &icalendar::Calendar, name: &str) -> String {
    use icalendar::Component;
    calendar.components[0]
        .as_event()
        .expect("a VEVENT")
        .property_value(name)
        .unwrap_or_default()
        .to_owned()
}

fn every_kind_of_email_arrives_with_its_details(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    app.create_event(
        "mails",
        json!({"contact_email": "team@cmr.example"}),
        &[("steel", 1), ("bio", 5)],
    );
    let irena = app.register(
        "mails",
        &person("Irena", "Łobocka", "irena@example.pl", &["steel"]),
    );
    let jorg = app.register(
        "mails",
        &person("Jörg", "Müller", "jorg@example.de", &["steel", "bio"]),
    );
    assert_eq!(jorg.json()["site_visit"]["slug"], "bio", "his second choice");
    let li = app.register("mails", &person("明", "李", "li@example.cn", &["steel"]));
    assert_eq!(li.json()["site_visit"]["waitlist_position"], 1);

    let first = smtp.wait_for(3, WAIT);
    let to_irena = &smtp.to("irena@example.pl")[0];
    assert_eq!(to_irena.to_name(), "Irena Łobocka");
    assert!(
        to_irena.subject().contains("Registration confirmed"),
        "{}",
        to_irena.subject()
    );
    assert!(to_irena.subject().contains("Visit steel"));
    let text = to_irena.text();
    assert!(text.contains(&manage_url(&irena)), "{text}");
    assert!(
        text.contains("Visit steel") && text.contains("Charleroi"),
        "{text}"
    );
    assert!(
        text.contains("Sunday 2 June 2030, 13:30–17:00"),
        "local time: {text}"
    );
    assert!(text.contains("team@cmr.example"));
    assert!(to_irena.html().contains("<strong>Event mails</strong>"));
    let invite = calendar_event(to_irena);
    assert_eq!(invite.property_value("METHOD"), Some("REQUEST"));
    assert_eq!(property(&invite, "SEQUENCE"), "0");
    assert!(property(&invite, "SUMMARY").contains("Visit steel"));
    assert_eq!(property(&invite, "DTSTART"), "20300602T113000Z");
    let uid = property(&invite, "UID");
    assert!(uid.ends_with("@rallypoint"));

    let to_li = &smtp.to("li@example.cn")[0];
    assert_eq!(to_li.to_name(), "明 李");
    assert!(to_li.text().contains("number 1 on"), "{}", to_li.text());
    assert!(to_li.calendar().is_none(), "no seat, no invitation");
    let ids: HashSet<String> = first.iter().map(Received::message_id).collect();
    assert_eq!(ids.len(), 3, "one Message-ID per email");

    // Irena switches to `bio`: her seat on `steel` goes to Li (the unseated waiter),
    // ahead of Jörg's upgrade.
    let reply = send(
        ureq::request("PATCH", &app.url(irena.location.as_deref().unwrap())),
        "application/json",
        &json!({"preferences": ["bio"]}).to_string(),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    smtp.wait_for(5, WAIT);
    let changed = &smtp.to("irena@example.pl")[1];
    assert!(
        changed.subject().contains("choices are updated"),
        "{}",
        changed.subject()
    );
    let update = calendar_event(changed);
    assert_eq!(
        property(&update, "UID"),
        uid,
        "the same calendar entry is updated"
    );
    assert_eq!(property(&update, "SEQUENCE"), "1");
    assert!(property(&update, "SUMMARY").contains("Visit bio"));
    let promoted = &smtp.to("li@example.cn")[1];
    assert!(
        promoted.text().contains("a seat has become free"),
        "{}",
        promoted.text()
    );
    assert!(calendar_event(promoted).property_value("METHOD") == Some("REQUEST"));

    // Li cancels: a cancellation with a calendar CANCEL; Jörg moves up from `bio`.
    let reply = crate::helpers::call(ureq::delete(&app.url(li.location.as_deref().unwrap())), None);
    assert_eq!(reply.status, 200);
    smtp.wait_for(7, WAIT);
    let cancelled = smtp.to("li@example.cn").pop().unwrap();
    assert!(cancelled.subject().contains("cancelled"));
    let cancel = calendar_event(&cancelled);
    assert_eq!(cancel.property_value("METHOD"), Some("CANCEL"));
    assert_eq!(property(&cancel, "STATUS"), "CANCELLED");
    let upgraded = smtp.to("jorg@example.de").pop().unwrap();
    assert!(upgraded.text().contains("moved up"), "{}", upgraded.text());
    assert_eq!(upgraded.to_name(), "Jörg Müller");
    assert!(property(&calendar_event(&upgraded), "SUMMARY").contains("Visit steel"));
    // Cancelling again sends nothing more.
    crate::helpers::call(ureq::delete(&app.url(li.location.as_deref().unwrap())), None);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(smtp.received().len(), 7);
}

pub(crate) fn registration_jobs(app: &TestApp, event: &str, count: usize) -> Vec<Job<Reply>> {
    let url = app.url(&format!("/api/v1/events/{event}/registrations"));
    (0..count)
        .map(|n| {
            let url = url.clone();
            Box::new(move |agent: &ureq::Agent| {
                send(
                    agent.post(&url),
                    "application/json",
                    &participant(n, &["aperam-chatelet"]).to_string(),
                    None,
                )
            }) as Job<Reply>
        })
        .collect()
}

pub(crate) fn assert_each_once(received: &[Received], count: usize) {
    let ids: HashSet<String> = received.iter().map(Received::message_id).collect();
    assert_eq!(ids.len(), received.len(), "a Message-ID arrived twice");
    let recipients: HashSet<&String> = received.iter().flat_map(|m| &m.recipients).collect();
    assert_eq!(recipients.len(), count);
}

fn an_smtp_outage_delays_but_loses_nothing(backend: Backend) {
    let port = free_port();
    let app = TestApp::spawn_with(backend, |settings| {
        settings.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        settings.mail.max_attempts = 1000;
        settings.mail.concurrency = 4;
    });
    let replies = concurrently(20, registration_jobs(&app, "cmr-charleroi-2024", 100));
    assert!(
        replies.iter().all(|r| r.status == 201),
        "the outage never fails a registration"
    );
    std::thread::sleep(Duration::from_millis(300));
    let smtp = SmtpServer::start_on_port(port);
    let received = smtp.wait_for(100, WAIT);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.received().len(), 100, "exactly once");
    assert_each_once(&received, 100);
}

fn temporary_failures_are_retried_and_permanent_ones_listed(backend: Backend) {
    let smtp = SmtpServer::start();
    smtp.defer_next(1);
    smtp.reject("bounce@example.org");
    let app = app_with_smtp(backend, &smtp);
    let ok = app.register(
        "cmr-charleroi-2024",
        &person("Ana", "Ok", "ana@example.org", &["aperam-chatelet"]),
    );
    assert_eq!(ok.status, 201);
    smtp.wait_for(1, WAIT);
    let bounced = app.register(
        "cmr-charleroi-2024",
        &person("Bo", "Unce", "bounce@example.org", &[]),
    );
    assert_eq!(
        bounced.status, 201,
        "a rejected address never fails the registration"
    );

    let failed = wait_for_failed(&app, 1);
    let email = &failed[0];
    assert_eq!(email["recipient"], "bounce@example.org");
    assert!(email["last_error"].as_str().unwrap().contains("550"), "{email}");
    assert_eq!(
        app.get(bounced.location.as_deref().unwrap()).json()["status"],
        "confirmed"
    );
    let all = admin_get(&app, "/api/v1/emails?status=sent", &app.admin).json();
    let sent = &all["emails"][0];
    assert_eq!(sent["recipient"], "ana@example.org");
    assert_eq!(sent["attempts"], 2, "451 first, then 250");

    admin_get(&app, "/api/v1/emails?status=failed", &app.organiser).problem(403, "forbidden");
    admin_get(&app, "/api/v1/emails?status=lost", &app.admin).problem(422, "validation-failed");
    let retry_path = format!("/api/v1/emails/{}/retry", email["id"].as_str().unwrap());
    let sent_path = format!("/api/v1/emails/{}/retry", sent["id"].as_str().unwrap());
    app.post_json(&sent_path, &json!({}), Some(&app.admin))
        .problem(422, "validation-failed");
    smtp.accept("bounce@example.org");
    let retried = app.post_json(&retry_path, &json!({}), Some(&app.admin));
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert_eq!(retried.json()["status"], "pending");
    smtp.wait_for(2, WAIT);
    assert_eq!(smtp.to("bounce@example.org").len(), 1);
    app.post_json("/api/v1/emails/nope/retry", &json!({}), Some(&app.admin))
        .problem(404, "not-found");
}

fn admin_get(app: &TestApp, path: &str, token: &str) -> Reply {
    crate::helpers::call(
        ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {token}")),
        None,
    )
}

fn wait_for_failed(app: &TestApp, count: usize) -> Vec<Value> {
    for _ in 0..600 {
        let reply = admin_get(app, "/api/v1/emails?status=failed", &app.admin);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let emails = reply.json()["emails"].as_array().unwrap().clone();
        if emails.len() >= count {
            return emails;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no failed email listed");
}

fn two_workers_deliver_every_email_exactly_once(backend: Backend) {
    let smtp = SmtpServer::start();
    // The server queues emails but sends none: its worker is off.
    let app = TestApp::spawn_with(backend, |settings| settings.mail.worker = false);
    let replies = concurrently(25, registration_jobs(&app, "cmr-charleroi-2024", 500));
    assert!(replies.iter().all(|r| r.status == 201));
    // Two workers, each with its own connections, as two `rallypoint worker` processes.
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut settings = app.server.settings.clone();
            settings.mail.smtp_url = smtp.url();
            // Several emails in flight in each, claims from both interleaved.
            settings.mail.concurrency = 4;
            let url = settings.database_url().unwrap();
            let db = rallypoint::db::Database::connect(&url, settings.db_options()).unwrap();
            let key = rallypoint::startup::load_manage_key(&db, &settings).unwrap();
            rallypoint::startup::delivery_worker(&settings, db, "http://rallypoint.test", key)
                .unwrap()
                .spawn()
        })
        .collect();
    let received = smtp.wait_for(500, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(500));
    for worker in workers {
        worker.stop();
    }
    assert_eq!(smtp.received().len(), 500);
    assert_each_once(&received, 500);
}

fn a_killed_server_loses_no_email(backend: Backend) {
    const CONCURRENCY: usize = 2;
    // The SMTP server comes up only once everyone has registered, so that the emails go
    // out while the test kills the server, not while it registers people one by one.
    let port = free_port();
    let db = TestDb::new(backend);
    let config = db.dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[mail]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\npoll_interval_ms = 20\nlease_seconds = 2\n\
             retry_base_ms = 50\nconcurrency = {CONCURRENCY}\n\n[limits]\npublic_writes_per_minute = 0\n",
        ),
    )
    .unwrap();
    let (mut child, url) = spawn_binary(&db, &config);
    let register = |n: usize| {
        send(
            ureq::post(&format!("{url}/api/v1/events/cmr-charleroi-2024/registrations")),
            "application/json",
            &participant(n, &["biopark-charleroi"]).to_string(),
            None,
        )
    };
    for n in 0..60 {
        assert_eq!(register(n).status, 201);
    }
    // Kill while the worker is busy delivering.
    let smtp = SmtpServer::start_on_port(port);
    smtp.wait_for(5, WAIT);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = smtp.received().len();
    assert!(before < 60, "killed in the middle of delivery");
    let (mut child, _) = spawn_binary(&db, &config);
    let received = smtp.wait_for(60, WAIT);
    std::thread::sleep(Duration::from_secs(3)); // past the lease, so a re-send would show
    child.kill().unwrap();
    child.wait().unwrap();
    let received_after = smtp.received();
    let recipients: HashSet<&String> = received_after.iter().flat_map(|m| &m.recipients).collect();
    assert_eq!(recipients.len(), 60, "every registration's email arrived");
    // Only what the killed worker had sent and not yet recorded goes again: at most what
    // it held claimed, and each again with its Message-ID, so receivers can drop it.
    let duplicates = received_after.len() - 60;
    let held = CONCURRENCY * rallypoint::mail::worker::CLAIMED_PER_SENDER;
    assert!(
        duplicates <= held,
        "{duplicates} duplicates (before the kill: {before}, {})",
        received.len()
    );
    let message_ids: HashSet<String> = received_after.iter().map(Received::message_id).collect();
    assert_eq!(message_ids.len(), 60, "a resent email keeps its Message-ID");
}

fn without_smtp_emails_are_written_as_eml_files(backend: Backend) {
    let app = TestApp::spawn(backend);
    let reply = app.register(
        "cmr-charleroi-2024",
        &person(
            "Sophie",
            "Bourez",
            "sophie@wagralim.example",
            &["biopark-charleroi"],
        ),
    );
    assert_eq!(reply.status, 201);
    // Once the outbox says sent, the file is complete.
    for _ in 0..600 {
        let sent = admin_get(&app, "/api/v1/emails?status=sent", &app.admin).json();
        if sent["emails"].as_array().unwrap().len() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dir = settings_for(&app.db).mail.outbox_dir;
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let message = std::fs::read(&files[0]).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&message).unwrap();
    assert!(parsed
        .subject()
        .unwrap()
        .contains("Brussels South Charleroi BioPark"));
    assert!(parsed
        .body_text(0)
        .unwrap()
        .contains(reply.json()["manage_url"].as_str().unwrap()));
}
