//! Issue 15, offers: when an event makes offers, a freed seat is held for the first
//! person in line until they accept it, decline it or let it expire; it counts against
//! capacity all the while and is never given twice. Counters, queues and seat counts
//! equal the rows after every step.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use rallypoint::domain::offers::expire_due;
use serde_json::{json, Value};

use crate::exports::{check_queues, counters_and_rows};
use crate::helpers::{call, concurrently, participant, Backend, Reply, TestApp};

crate::on_both_backends!(
    a_freed_seat_is_held_until_accepted,
    declining_passes_the_seat_on_and_drops_the_visit,
    a_second_freed_seat_goes_to_the_next_in_line,
    an_offer_for_a_better_ranked_visit_is_an_upgrade,
    cancelling_or_erasing_while_holding_an_offer_passes_it_on,
    two_workers_expire_each_offer_exactly_once,
    offers_stop_at_the_cut_off_before_the_visit,
);

/// An event that holds freed seats for 24 hours, with visits of these capacities.
fn offer_event(app: &TestApp, slug: &str, visits: &[(&str, i64)]) {
    app.create_event(slug, json!({"offer_window_hours": 24}), visits);
}

/// Registers participant `n` ranking `ranked`; returns their manage API path.
fn register(app: &TestApp, event: &str, n: usize, ranked: &[&str]) -> String {
    let reply = app.register(event, &participant(n, ranked));
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.location.unwrap()
}

fn view(app: &TestApp, manage: &str) -> Value {
    let reply = app.get(manage);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn cancel(app: &TestApp, manage: &str) {
    let reply = call(ureq::delete(&app.url(manage)), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
}

fn answer(app: &TestApp, manage: &str, what: &str) -> Reply {
    app.post_json(&format!("{manage}/offer/{what}"), &json!({}), None)
}

fn visit<'a>(event: &'a Value, slug: &str) -> &'a Value {
    event["site_visits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["slug"] == slug)
        .unwrap()
}

/// (assigned, offered, waitlisted, seats_left) of a visit, as the event view shows.
fn numbers(app: &TestApp, event: &str, slug: &str) -> (i64, i64, i64, i64) {
    let event = app.event(event);
    let v = visit(&event, slug);
    let n = |k: &str| v[k].as_i64().unwrap();
    (n("assigned"), n("offered"), n("waitlisted"), n("seats_left"))
}

/// Counters equal the rows, the queues hold who waits, and every visit's taken seats
/// are its seated people plus its open offers, never above capacity.
fn check(app: &TestApp, event: &str, context: &str) {
    for (counters, rows) in counters_and_rows(app, event) {
        assert_eq!(counters, rows, "{context}");
    }
    check_queues(app, context);
    check_seats(app, context);
}

pub fn check_seats(app: &TestApp, context: &str) {
    use rallypoint::db::schema::{seat_assignments, seat_offers, site_visits};
    let visits: Vec<(String, i32, i32, i64, i64)> = app
        .server
        .db
        .read_blocking(|conn| {
            let visits: Vec<(String, i32, i32)> = site_visits::table
                .select((site_visits::id, site_visits::capacity, site_visits::assigned))
                .load(conn)?;
            let mut out = Vec::new();
            for (id, capacity, assigned) in visits {
                let seated: i64 = seat_assignments::table
                    .filter(seat_assignments::site_visit_id.eq(&id))
                    .count()
                    .get_result(conn)?;
                let held: i64 = seat_offers::table
                    .filter(seat_offers::site_visit_id.eq(&id))
                    .count()
                    .get_result(conn)?;
                out.push((id, capacity, assigned, seated, held));
            }
            Ok::<_, rallypoint::db::DbError>(out)
        })
        .unwrap();
    for (id, capacity, assigned, seated, held) in visits {
        assert_eq!(i64::from(assigned), seated + held, "{context}: visit {id}");
        assert!(assigned <= capacity, "{context}: visit {id} over capacity");
    }
}

/// The reasons of the emails queued for a registration, oldest first.
fn reasons(app: &TestApp, registration: &str) -> Vec<String> {
    use rallypoint::db::schema::outbox_emails;
    let id = registration.to_owned();
    let payloads: Vec<String> = app
        .server
        .db
        .read_blocking(move |conn| {
            Ok::<_, rallypoint::db::DbError>(
                outbox_emails::table
                    .filter(outbox_emails::registration_id.eq(&id))
                    .order((outbox_emails::created_at, outbox_emails::id))
                    .select(outbox_emails::payload)
                    .load(conn)?,
            )
        })
        .unwrap();
    payloads
        .iter()
        .map(|p| {
            let data: Value = serde_json::from_str(p).unwrap();
            data["reason"].as_str().unwrap_or("-").to_owned()
        })
        .collect()
}

fn a_freed_seat_is_held_until_accepted(backend: Backend) {
    let app = TestApp::spawn(backend);
    offer_event(&app, "held", &[("tour", 1)]);
    let first = register(&app, "held", 0, &["tour"]);
    let next = register(&app, "held", 1, &["tour"]);
    let after = register(&app, "held", 2, &["tour"]);
    check(&app, "held", "registered");

    cancel(&app, &first);
    let offered = view(&app, &next);
    let offer = &offered["offer"];
    assert_eq!(offer["site_visit"], "tour", "{offered}");
    let expires = chrono::DateTime::parse_from_rfc3339(offer["expires_at"].as_str().unwrap()).unwrap();
    let window = expires.with_timezone(&Utc) - Utc::now();
    assert!(
        window > Duration::hours(23) && window <= Duration::hours(24),
        "{window}"
    );
    assert_eq!(offered["site_visit"]["status"], "waitlisted", "not seated yet");
    assert_eq!(
        reasons(&app, offered["id"].as_str().unwrap()).last().unwrap(),
        "offered"
    );
    // The held seat is taken: the next in line moved up, a newcomer waits behind them.
    assert_eq!(numbers(&app, "held", "tour"), (0, 1, 1, 0));
    assert_eq!(view(&app, &after)["site_visit"]["waitlist_position"], 1);
    let late = register(&app, "held", 3, &["tour"]);
    assert_eq!(view(&app, &late)["site_visit"]["waitlist_position"], 2);
    check(&app, "held", "offered");

    let accepted = answer(&app, &next, "accept");
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let seated = accepted.json();
    assert_eq!(seated["site_visit"]["status"], "assigned");
    assert!(seated["offer"].is_null());
    assert_eq!(numbers(&app, "held", "tour"), (1, 0, 2, 0));
    assert_eq!(
        reasons(&app, seated["id"].as_str().unwrap()).last().unwrap(),
        "offer_accepted"
    );
    check(&app, "held", "accepted");

    // Accepting (or declining) again: nothing is open any more.
    answer(&app, &next, "accept").problem(409, "no-open-offer");
    answer(&app, &after, "decline").problem(409, "no-open-offer");
    check(&app, "held", "answered twice");
}

fn declining_passes_the_seat_on_and_drops_the_visit(backend: Backend) {
    let app = TestApp::spawn(backend);
    offer_event(&app, "decline", &[("tour", 1), ("walk", 0)]);
    let first = register(&app, "decline", 0, &["tour"]);
    let next = register(&app, "decline", 1, &["tour", "walk"]);
    let after = register(&app, "decline", 2, &["tour"]);
    cancel(&app, &first);
    assert_eq!(view(&app, &next)["offer"]["site_visit"], "tour");

    let declined = answer(&app, &next, "decline");
    assert_eq!(declined.status, 200, "{}", declined.body);
    let declined = declined.json();
    assert!(declined["offer"].is_null());
    assert_eq!(declined["preferences"], json!(["walk"]), "tour left the ranking");
    assert_eq!(declined["site_visit"]["slug"], "walk");
    assert_eq!(declined["site_visit"]["waitlist_position"], 1);
    assert_eq!(
        reasons(&app, declined["id"].as_str().unwrap()).last().unwrap(),
        "offer_declined"
    );
    // Offered on, in the same transaction.
    assert_eq!(view(&app, &after)["offer"]["site_visit"], "tour");
    assert_eq!(numbers(&app, "decline", "tour"), (0, 1, 0, 0));
    check(&app, "decline", "declined");

    // The last one declines too: nobody waits, the seat is simply free.
    assert_eq!(answer(&app, &after, "decline").status, 200);
    assert_eq!(numbers(&app, "decline", "tour"), (0, 0, 0, 1));
    check(&app, "decline", "declined by all");
}

fn a_second_freed_seat_goes_to_the_next_in_line(backend: Backend) {
    let app = TestApp::spawn(backend);
    offer_event(&app, "second", &[("tour", 2)]);
    let seated = [
        register(&app, "second", 0, &["tour"]),
        register(&app, "second", 1, &["tour"]),
    ];
    let waiting: Vec<String> = (2..5).map(|n| register(&app, "second", n, &["tour"])).collect();
    cancel(&app, &seated[0]);
    cancel(&app, &seated[1]);
    assert_eq!(view(&app, &waiting[0])["offer"]["site_visit"], "tour");
    assert_eq!(view(&app, &waiting[1])["offer"]["site_visit"], "tour");
    let third = view(&app, &waiting[2]);
    assert!(third["offer"].is_null());
    assert_eq!(third["site_visit"]["waitlist_position"], 1);
    assert_eq!(numbers(&app, "second", "tour"), (0, 2, 1, 0));
    // The roster shows who holds an offer, until when.
    let roster = crate::helpers::send(
        ureq::get(&app.url("/api/v1/events/second/site-visits/tour/roster")),
        "application/json",
        "",
        Some(&app.organiser),
    );
    assert_eq!(roster.status, 200, "{}", roster.body);
    let roster = roster.json();
    let offered: Vec<&str> = roster["offered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["email"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["participant2@example.org", "participant3@example.org"]);
    assert!(roster["offered"][0]["expires_at"].is_string());
    check(&app, "second", "two offers");
}

fn an_offer_for_a_better_ranked_visit_is_an_upgrade(backend: Backend) {
    let app = TestApp::spawn(backend);
    offer_event(&app, "upgrade", &[("tour", 1), ("walk", 1)]);
    let first = register(&app, "upgrade", 0, &["tour"]);
    let climber = register(&app, "upgrade", 1, &["tour", "walk"]);
    let walker = register(&app, "upgrade", 2, &["walk"]);
    assert_eq!(view(&app, &climber)["site_visit"]["slug"], "walk");
    cancel(&app, &first);
    let offered = view(&app, &climber);
    assert_eq!(offered["offer"]["site_visit"], "tour");
    assert_eq!(
        offered["site_visit"]["slug"], "walk",
        "the lower seat is kept meanwhile"
    );
    assert_eq!(offered["site_visit"]["status"], "assigned");
    assert_eq!(numbers(&app, "upgrade", "tour"), (0, 1, 0, 0));
    assert_eq!(numbers(&app, "upgrade", "walk"), (1, 0, 1, 0));
    check(&app, "upgrade", "upgrade offered");

    let accepted = answer(&app, &climber, "accept").json();
    assert_eq!(accepted["site_visit"]["slug"], "tour");
    // The walk seat it released is offered to the next person waiting for it.
    assert_eq!(view(&app, &walker)["offer"]["site_visit"], "walk");
    assert_eq!(numbers(&app, "upgrade", "walk"), (0, 1, 0, 0));
    check(&app, "upgrade", "upgrade accepted");
}

fn cancelling_or_erasing_while_holding_an_offer_passes_it_on(backend: Backend) {
    let app = TestApp::spawn(backend);
    offer_event(&app, "leave", &[("tour", 1)]);
    let first = register(&app, "leave", 0, &["tour"]);
    let holder = register(&app, "leave", 1, &["tour"]);
    let second = register(&app, "leave", 2, &["tour"]);
    let third = register(&app, "leave", 3, &["tour"]);
    cancel(&app, &first);
    assert!(view(&app, &holder)["offer"].is_object());
    cancel(&app, &holder);
    let offered = view(&app, &second);
    assert_eq!(offered["offer"]["site_visit"], "tour");
    assert_eq!(numbers(&app, "leave", "tour"), (0, 1, 1, 0));
    check(&app, "leave", "cancelled while holding");

    let id = offered["id"].as_str().unwrap();
    let erased = call(
        ureq::delete(&app.url(&format!("/api/v1/events/leave/registrations/{id}?erase=true")))
            .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(view(&app, &third)["offer"]["site_visit"], "tour");
    assert_eq!(numbers(&app, "leave", "tour"), (0, 1, 0, 0));
    check(&app, "leave", "erased while holding");
}

/// 20 offers, expired by two workers at once (the worker's own function, with a clock
/// 25 hours ahead): each is expired once, its seat offered to the next in line once.
fn two_workers_expire_each_offer_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend);
    offer_event(&app, "expiry", &[("tour", 20)]);
    let bodies: Vec<Value> = (0..60).map(|n| participant(n, &["tour"])).collect();
    let manage: Vec<String> = bodies
        .iter()
        .map(|b| {
            let reply = app.register("expiry", b);
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.location.unwrap()
        })
        .collect();
    let jobs = manage[..20]
        .iter()
        .map(|m| {
            let url = app.url(m);
            Box::new(move |_: &ureq::Agent| call(ureq::delete(&url), None).status) as crate::helpers::Job<u16>
        })
        .collect();
    assert!(concurrently(10, jobs).iter().all(|s| *s == 200));
    assert_eq!(numbers(&app, "expiry", "tour"), (0, 20, 20, 0));
    check(&app, "expiry", "offered");

    let later = rallypoint::domain::now() + Duration::hours(25);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let db = app.server.db.clone();
            std::thread::spawn(move || {
                let mut total = 0;
                loop {
                    let done = db.write_blocking(move |conn| expire_due(conn, later, 7)).unwrap();
                    if done == 0 {
                        break total;
                    }
                    total += done;
                }
            })
        })
        .collect();
    let expired: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(expired, 20, "each offer expired once");
    for m in &manage[20..40] {
        let person = view(&app, m);
        assert!(person["offer"].is_null(), "{person}");
        assert_eq!(person["preferences"], json!([]));
        let reasons = reasons(&app, person["id"].as_str().unwrap());
        assert_eq!(
            reasons.iter().filter(|r| *r == "offer_expired").count(),
            1,
            "{reasons:?}"
        );
    }
    for m in &manage[40..60] {
        assert_eq!(view(&app, m)["offer"]["site_visit"], "tour");
    }
    assert_eq!(numbers(&app, "expiry", "tour"), (0, 20, 0, 0));
    check(&app, "expiry", "expired");
    // Nothing more is due at that time: a third run finds nothing.
    assert_eq!(
        app.server
            .db
            .write_blocking(move |conn| expire_due(conn, later, 100))
            .unwrap(),
        0
    );
}

/// A visit with its own start time, `hours` from now.
fn visit_in(app: &TestApp, event: &str, slug: &str, hours: i64, capacity: i64) {
    let starts = Utc::now() + Duration::hours(hours);
    let reply = app.post_json(
        &format!("/api/v1/events/{event}/site-visits"),
        &json!({
            "slug": slug, "name": slug, "location": "Charleroi",
            "starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::hours(3)).to_rfc3339(),
            "capacity": capacity
        }),
        Some(&app.admin),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Offers never run past the cut-off (12 hours before the visit by default): 30 hours
/// before, the window shrinks to 18 hours; 6 hours before, the seat is given at once.
fn offers_stop_at_the_cut_off_before_the_visit(backend: Backend) {
    let app = TestApp::spawn(backend);
    let today = Utc::now().date_naive();
    let dates = json!({
        "offer_window_hours": 24, "timezone": "UTC",
        "starts_on": today.to_string(), "ends_on": (today + chrono::Days::new(3)).to_string(),
    });
    app.create_event("cutoff", dates, &[]);
    visit_in(&app, "cutoff", "soon", 30, 1);
    visit_in(&app, "cutoff", "today", 6, 1);
    let soon = [
        register(&app, "cutoff", 0, &["soon"]),
        register(&app, "cutoff", 1, &["soon"]),
    ];
    let today = [
        register(&app, "cutoff", 2, &["today"]),
        register(&app, "cutoff", 3, &["today"]),
    ];
    cancel(&app, &soon[0]);
    let offered = view(&app, &soon[1]);
    let expires =
        chrono::DateTime::parse_from_rfc3339(offered["offer"]["expires_at"].as_str().unwrap()).unwrap();
    let window = expires.with_timezone(&Utc) - Utc::now();
    assert!(
        window > Duration::hours(17) && window <= Duration::hours(18),
        "{window}"
    );

    cancel(&app, &today[0]);
    let given = view(&app, &today[1]);
    assert!(given["offer"].is_null());
    assert_eq!(given["site_visit"]["status"], "assigned");
    assert_eq!(
        reasons(&app, given["id"].as_str().unwrap()).last().unwrap(),
        "promoted"
    );
    check(&app, "cutoff", "cut-off");
}
