//! Issue 3: capacity-limited site visits, waitlists and self-service changes, proven with
//! real concurrent requests against real databases.

use serde_json::{json, Value};

use crate::helpers::{
    concurrently, participant, postgres, registrations_total, send, settings_for, Backend, Reply, Server,
    TestApp, TestDb,
};

crate::on_both_backends!(
    concurrent_registrations_never_overbook,
    concurrent_ranked_registrations_fall_through_their_choices,
    the_same_person_registering_at_once_gets_one_registration_and_one_seat,
    interleaved_cancellations_and_registrations_keep_counts_exact,
    a_cancelled_seat_goes_to_the_earliest_waitlisted,
    cancelling_twice_is_harmless,
    a_freed_seat_moves_people_up_the_chain,
    changing_preferences_upgrades_keeps_or_gives_up_seats,
    event_wide_capacity_has_its_own_waitlist,
    contention_is_answered_with_503_never_500,
);

type Job = crate::helpers::Job<Reply>;

fn registration_jobs(
    url: &str,
    people: std::ops::Range<usize>,
    preferences: &'static [&'static str],
) -> Vec<Job> {
    people
        .map(|n| {
            let url = url.to_owned();
            Box::new(move |agent: &ureq::Agent| {
                send(
                    agent.post(&url),
                    "application/json",
                    &participant(n, preferences).to_string(),
                    None,
                )
            }) as Job
        })
        .collect()
}

/// Seat rows in the database per visit slug, read directly (not through the counters).
fn seat_rows(server: &Server, event: &str) -> Vec<(String, i64)> {
    let event = event.to_owned();
    server
        .db
        .read_blocking(move |conn| {
            use diesel::prelude::*;
            use rallypoint::db::schema::{events, seat_assignments, site_visits};
            site_visits::table
                .inner_join(events::table)
                .left_join(seat_assignments::table)
                .filter(events::slug.eq(&event))
                .group_by(site_visits::slug)
                .select((
                    site_visits::slug,
                    diesel::dsl::count(seat_assignments::registration_id.nullable()),
                ))
                .order(site_visits::slug)
                .load::<(String, i64)>(conn)
                .map_err(rallypoint::db::DbError::from)
        })
        .unwrap()
}

/// Checks one visit against the rows: counters agree, nothing over capacity, nobody
/// waits while a seat is free, and the waitlist positions are exactly 1..N.
fn check_visit(app: &TestApp, event: &str, visit_slug: &str, locations: &[String]) -> (i64, i64) {
    let view = app.event(event);
    let visit = view["site_visits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["slug"] == visit_slug)
        .unwrap()
        .clone();
    let capacity = visit["capacity"].as_i64().unwrap();
    let assigned = visit["assigned"].as_i64().unwrap();
    assert!(assigned <= capacity, "{visit}");
    assert_eq!(visit["seats_left"].as_i64().unwrap(), capacity - assigned);
    let rows = seat_rows(&app.server, event);
    let row_count = rows.iter().find(|(slug, _)| slug == visit_slug).unwrap().1;
    assert_eq!(assigned, row_count, "the counter agrees with the seat rows");

    let mut holders = 0;
    let mut positions = Vec::new();
    for location in locations {
        let reg = app.get(location).json();
        if reg["status"] != "confirmed" {
            continue;
        }
        let seat = &reg["site_visit"];
        if seat["slug"] != visit_slug {
            continue;
        }
        match seat["status"].as_str().unwrap() {
            "assigned" => holders += 1,
            "waitlisted" => positions.push(seat["waitlist_position"].as_i64().unwrap()),
            other => panic!("unexpected seat status {other}"),
        }
    }
    assert_eq!(holders, assigned, "people shown as assigned = seats taken");
    positions.sort_unstable();
    let expected: Vec<i64> = (1..=positions.len() as i64).collect();
    assert_eq!(positions, expected, "waitlist positions are 1..N without gaps");
    assert_eq!(visit["waitlisted"].as_i64().unwrap(), positions.len() as i64);
    if !positions.is_empty() {
        assert_eq!(assigned, capacity, "nobody waits while a seat is free");
    }
    (assigned, positions.len() as i64)
}

fn concurrent_registrations_never_overbook(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("rush", json!({}), &[("tour", 10)]);
    let replies = concurrently(
        50,
        registration_jobs(&app.url("/api/v1/events/rush/registrations"), 0..200, &["tour"]),
    );
    for reply in &replies {
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let assigned = replies
        .iter()
        .filter(|r| r.json()["site_visit"]["status"] == "assigned")
        .count();
    assert_eq!(assigned, 10);
    let locations: Vec<String> = replies.iter().map(|r| r.location.clone().unwrap()).collect();
    assert_eq!(check_visit(&app, "rush", "tour", &locations), (10, 190));
}

/// On PostgreSQL the first choice is claimed in the registration's own statement and the
/// others one statement each: a first choice filled by a concurrent request must fall
/// through to the next choice with room, never leave a ranked seat empty or overbook.
fn concurrent_ranked_registrations_fall_through_their_choices(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("ranked", json!({}), &[("a", 5), ("b", 5), ("c", 5)]);
    let url = app.url("/api/v1/events/ranked/registrations");
    let seated = |replies: &[Reply]| {
        let mut visits: Vec<String> = replies
            .iter()
            .map(|r| {
                assert_eq!(r.status, 201, "{}", r.body);
                let seat = &r.json()["site_visit"];
                match seat["status"].as_str() {
                    Some("assigned") => seat["slug"].as_str().unwrap().to_owned(),
                    _ => "-".to_owned(),
                }
            })
            .collect();
        visits.sort_unstable();
        visits
    };
    // 12 people for 15 seats: everybody is seated, the first choices fill first.
    let first = seated(&concurrently(
        12,
        registration_jobs(&url, 0..12, &["a", "b", "c"]),
    ));
    let expected: Vec<&str> = [["a"; 5].as_slice(), &["b"; 5], &["c"; 2]].concat();
    assert_eq!(first, expected);
    // 28 more: three seats left in c, everybody else waits for a.
    let second = seated(&concurrently(
        28,
        registration_jobs(&url, 12..40, &["a", "b", "c"]),
    ));
    assert_eq!(second.iter().filter(|v| *v == "c").count(), 3);
    assert_eq!(second.iter().filter(|v| *v == "-").count(), 25);
    let rows = seat_rows(&app.server, "ranked");
    assert_eq!(rows, [("a".into(), 5), ("b".into(), 5), ("c".into(), 5)]);
}

/// One email submitted many times at once (a double-clicking crowd of one): the
/// registration and its seat are one statement on PostgreSQL, so every loser's seat
/// update must go with its failed insert.
fn the_same_person_registering_at_once_gets_one_registration_and_one_seat(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("twice", json!({}), &[("a", 5), ("b", 5)]);
    let url = app.url("/api/v1/events/twice/registrations");
    let jobs: Vec<Job> = (0..20)
        .map(|n| {
            let url = url.clone();
            let mut body = participant(7, &["a", "b"]);
            body["first_name"] = json!(format!("Attempt{n}"));
            Box::new(move |agent: &ureq::Agent| {
                send(agent.post(&url), "application/json", &body.to_string(), None)
            }) as Job
        })
        .collect();
    let replies = concurrently(20, jobs);
    // Every attempt is answered like a new registration (invariant 13); the one that
    // was made is the one whose manage link opens.
    assert!(replies.iter().all(|r| r.status == 201), "{replies:?}");
    let created: Vec<&Reply> = replies
        .iter()
        .filter(|r| app.get(r.location.as_deref().unwrap()).status == 200)
        .collect();
    assert_eq!(created.len(), 1, "exactly one registration");
    assert_eq!(created[0].json()["site_visit"]["slug"], "a");
    assert_eq!(
        registrations_total(&app, "twice"),
        1,
        "one row, whatever the answers said"
    );
    let rows = seat_rows(&app.server, "twice");
    assert_eq!(rows, [("a".into(), 1), ("b".into(), 0)]);
    let visits = app.event("twice")["site_visits"].clone();
    assert_eq!(visits[0]["assigned"], 1, "the seat counter agrees with the rows");
    assert_eq!(visits[1]["assigned"], 0);
}

fn interleaved_cancellations_and_registrations_keep_counts_exact(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("waves", json!({}), &[("tour", 5)]);
    let url = app.url("/api/v1/events/waves/registrations");
    let mut active: Vec<String> = Vec::new();
    let mut all: Vec<String> = Vec::new();
    let mut next = 0;
    for wave in 0..4 {
        let mut jobs = registration_jobs(&url, next..next + 15, &["tour"]);
        next += 15;
        // Cancel every other active registration of the previous waves, seated or not.
        let cancels: Vec<String> = active.iter().step_by(2).cloned().collect();
        for location in &cancels {
            let url = app.url(location);
            jobs.push(Box::new(move |agent: &ureq::Agent| {
                crate::helpers::call(agent.delete(&url), None)
            }));
        }
        let replies = concurrently(20, jobs);
        for reply in &replies {
            assert!(
                reply.status == 201 || reply.status == 200,
                "wave {wave}: {}",
                reply.body
            );
            if reply.status == 201 {
                let location = reply.location.clone().unwrap();
                active.push(location.clone());
                all.push(location);
            } else {
                assert_eq!(reply.json()["status"], "cancelled");
            }
        }
        active.retain(|l| !cancels.contains(l));
        let (assigned, waiting) = check_visit(&app, "waves", "tour", &all);
        assert_eq!(assigned + waiting, active.len() as i64, "wave {wave}");
    }
}

fn register_in_order(app: &TestApp, event: &str, people: &[(usize, &[&str])]) -> Vec<(String, Value)> {
    people
        .iter()
        .map(|(n, prefs)| {
            let reply = app.register(event, &participant(*n, prefs));
            assert_eq!(reply.status, 201, "{}", reply.body);
            (reply.location.clone().unwrap(), reply.json())
        })
        .collect()
}

fn seat_of(app: &TestApp, location: &str) -> (Option<String>, Option<String>, Option<i64>) {
    let reg = app.get(location).json();
    let seat = &reg["site_visit"];
    (
        seat["slug"].as_str().map(str::to_owned),
        seat["status"].as_str().map(str::to_owned),
        seat["waitlist_position"].as_i64(),
    )
}

fn seat(slug: &str, status: &str, position: Option<i64>) -> (Option<String>, Option<String>, Option<i64>) {
    (Some(slug.to_owned()), Some(status.to_owned()), position)
}

fn a_cancelled_seat_goes_to_the_earliest_waitlisted(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("small", json!({}), &[("a", 2)]);
    let people = register_in_order(
        &app,
        "small",
        &[(1, &["a"]), (2, &["a"]), (3, &["a"]), (4, &["a"])],
    );
    assert_eq!(people[2].1["site_visit"]["waitlist_position"], 1);
    assert_eq!(people[3].1["site_visit"]["waitlist_position"], 2);
    let cancelled = crate::helpers::call(ureq::delete(&app.url(&people[0].0)), None);
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert!(cancelled.json()["site_visit"].is_null());
    assert_eq!(seat_of(&app, &people[2].0), seat("a", "assigned", None));
    assert_eq!(seat_of(&app, &people[3].0), seat("a", "waitlisted", Some(1)));
    let locations: Vec<String> = people.iter().map(|p| p.0.clone()).collect();
    assert_eq!(check_visit(&app, "small", "a", &locations), (2, 1));
}

fn cancelling_twice_is_harmless(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("twice", json!({}), &[("a", 1)]);
    let people = register_in_order(&app, "twice", &[(1, &["a"]), (2, &["a"]), (3, &["a"])]);
    for _ in 0..2 {
        let reply = crate::helpers::call(ureq::delete(&app.url(&people[0].0)), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["status"], "cancelled");
    }
    // One seat was freed once: person 2 has it, person 3 still waits.
    assert_eq!(seat_of(&app, &people[1].0), seat("a", "assigned", None));
    assert_eq!(seat_of(&app, &people[2].0), seat("a", "waitlisted", Some(1)));
    let locations: Vec<String> = people.iter().map(|p| p.0.clone()).collect();
    assert_eq!(check_visit(&app, "twice", "a", &locations), (1, 1));
    // A cancelled registration can register again with the same address.
    assert_eq!(app.register("twice", &participant(1, &["a"])).status, 201);
}

fn a_freed_seat_moves_people_up_the_chain(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("chain", json!({}), &[("a", 1), ("b", 1)]);
    let people = register_in_order(
        &app,
        "chain",
        &[(1, &["a"]), (2, &["a", "b"]), (3, &["b"]), (4, &["a"])],
    );
    assert_eq!(
        people[1].1["site_visit"]["slug"], "b",
        "person 2 takes their second choice"
    );
    assert_eq!(people[2].1["site_visit"]["status"], "waitlisted");
    // Person 1 leaves: person 4 (no seat at all) comes before person 2's upgrade.
    crate::helpers::call(ureq::delete(&app.url(&people[0].0)), None);
    assert_eq!(seat_of(&app, &people[3].0), seat("a", "assigned", None));
    assert_eq!(seat_of(&app, &people[1].0), seat("b", "assigned", None));
    // Person 4 leaves: nobody unseated wants `a`, so person 2 moves up and person 3
    // takes the seat in `b` that person 2 left.
    crate::helpers::call(ureq::delete(&app.url(&people[3].0)), None);
    assert_eq!(seat_of(&app, &people[1].0), seat("a", "assigned", None));
    assert_eq!(seat_of(&app, &people[2].0), seat("b", "assigned", None));
    let locations: Vec<String> = people.iter().map(|p| p.0.clone()).collect();
    check_visit(&app, "chain", "a", &locations);
    check_visit(&app, "chain", "b", &locations);
}

fn patch(app: &TestApp, location: &str, body: Value) -> Reply {
    send(
        ureq::request("PATCH", &app.url(location)),
        "application/json",
        &body.to_string(),
        None,
    )
}

fn changing_preferences_upgrades_keeps_or_gives_up_seats(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("change", json!({}), &[("a", 1), ("b", 2)]);
    let people = register_in_order(&app, "change", &[(1, &["a"]), (2, &["b"])]);
    let (p1, p2) = (&people[0].0, &people[1].0);
    // `a` is full: person 2 keeps `b` and waits for `a`.
    let reply = patch(&app, p2, json!({"preferences": ["a", "b"]}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["site_visit"]["slug"], "b");
    // Person 1 now wants only `b`, which has room: they move, and `a` goes to person 2.
    let reply = patch(&app, p1, json!({"preferences": ["b"]}));
    assert_eq!(reply.json()["site_visit"]["slug"], "b");
    assert_eq!(seat_of(&app, p2), seat("a", "assigned", None));
    // Bad input changes nothing.
    patch(&app, p2, json!({"preferences": ["nowhere"]})).problem(422, "validation-failed");
    patch(&app, p2, json!({"choices": ["a"]})).problem(422, "validation-failed");
    assert_eq!(seat_of(&app, p2), seat("a", "assigned", None));
    // Withdrawing every choice gives the seat up, and says so.
    let reply = patch(&app, p2, json!({"preferences": []}));
    assert_eq!(reply.status, 200);
    assert!(reply.json()["site_visit"].is_null());
    let view = app.event("change");
    assert_eq!(view["site_visits"][0]["assigned"], 0);
    assert_eq!(view["site_visits"][1]["assigned"], 1);
    // A cancelled registration cannot be changed.
    crate::helpers::call(ureq::delete(&app.url(p1)), None);
    patch(&app, p1, json!({"preferences": ["a"]})).problem(409, "registration-closed");
}

fn event_wide_capacity_has_its_own_waitlist(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("capped", json!({"capacity": 2}), &[("a", 10)]);
    let people = register_in_order(
        &app,
        "capped",
        &[(1, &["a"]), (2, &["a"]), (3, &["a"]), (4, &["a"])],
    );
    assert_eq!(people[1].1["status"], "confirmed");
    assert_eq!(people[2].1["status"], "waitlisted");
    assert_eq!(people[2].1["waitlist_position"], 1);
    assert_eq!(people[3].1["waitlist_position"], 2);
    assert_eq!(people[2].1["site_visit"]["status"], "waitlisted");
    crate::helpers::call(ureq::delete(&app.url(&people[0].0)), None);
    let promoted = app.get(&people[2].0).json();
    assert_eq!(promoted["status"], "confirmed");
    assert_eq!(promoted["site_visit"]["status"], "assigned");
    assert_eq!(app.get(&people[3].0).json()["waitlist_position"], 1);
    assert_eq!(app.event("capped")["site_visits"][0]["assigned"], 2);
}

fn contention_is_answered_with_503_never_500(backend: Backend) {
    let db = TestDb::new(backend);
    let mut settings = settings_for(&db);
    settings.database.lock_wait_ms = 1;
    let server = Server::start(settings);
    let admin = crate::helpers::token(&server.db, rallypoint::domain::access::Role::Admin, "admin");
    // Set up with patience, then hammer with a 1 ms budget for locks and connections.
    let create = |path: &str, body: Value| loop {
        let reply = send(
            ureq::post(&server.url(path)),
            "application/json",
            &body.to_string(),
            Some(&admin),
        );
        if reply.status != 503 {
            assert_eq!(reply.status, 201, "{}", reply.body);
            break;
        }
    };
    create(
        "/api/v1/events",
        json!({"slug": "busy", "name": "Busy", "timezone": "UTC", "starts_on": "2030-01-01", "ends_on": "2030-01-01"}),
    );
    create(
        "/api/v1/events/busy/site-visits",
        json!({"slug": "a", "name": "A", "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T11:00:00Z", "capacity": 5}),
    );
    let replies = concurrently(
        40,
        registration_jobs(&server.url("/api/v1/events/busy/registrations"), 0..160, &["a"]),
    );
    let created = replies.iter().filter(|r| r.status == 201).count();
    let unavailable: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert_eq!(created + unavailable.len(), replies.len(), "only 201 or 503");
    assert!(
        !unavailable.is_empty(),
        "a 1 ms budget under 40 connections must run out"
    );
    for reply in unavailable {
        reply.problem(503, "service-unavailable");
        assert_eq!(reply.retry_after.as_deref(), Some("1"));
    }
    // Exactly the 201s were written, and the seat counter agrees with the rows.
    let counted: (i64, i64, i64) = server
        .db
        .read_blocking(|conn| {
            use diesel::dsl::count_star;
            use diesel::prelude::*;
            use rallypoint::db::schema::{registrations, seat_assignments, site_visits};
            Ok::<_, rallypoint::db::DbError>((
                registrations::table.select(count_star()).first(conn)?,
                seat_assignments::table.select(count_star()).first(conn)?,
                site_visits::table
                    .filter(site_visits::slug.eq("a"))
                    .select(site_visits::assigned)
                    .first::<i32>(conn)? as i64,
            ))
        })
        .unwrap();
    assert_eq!(counted.0, created as i64);
    assert_eq!(counted.1, counted.2, "seat rows vs counter; {created} created");
    assert_eq!(counted.1, created.min(5) as i64);
}

/// Several stateless instances on one PostgreSQL database: still exactly the capacity.
#[test]
fn two_instances_on_one_postgres_never_overbook() {
    let Some(backend) = postgres() else { return };
    let app = TestApp::spawn(backend);
    app.create_event("shared", json!({}), &[("tour", 10)]);
    let second = Server::start(settings_for(&app.db));
    let urls = [
        app.url("/api/v1/events/shared/registrations"),
        second.url("/api/v1/events/shared/registrations"),
    ];
    let jobs: Vec<Job> = (0..200)
        .map(|n| {
            let url = urls[n % 2].clone();
            Box::new(move |agent: &ureq::Agent| {
                send(
                    agent.post(&url),
                    "application/json",
                    &participant(n, &["tour"]).to_string(),
                    None,
                )
            }) as Job
        })
        .collect();
    let replies = concurrently(50, jobs);
    assert!(replies.iter().all(|r| r.status == 201));
    let locations: Vec<String> = replies.iter().map(|r| r.location.clone().unwrap()).collect();
    assert_eq!(check_visit(&app, "shared", "tour", &locations), (10, 190));
    second.stop();
}
