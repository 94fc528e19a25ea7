//! Issue 5: organisers' lists and rosters, moves, capacities and frozen rosters, each
//! audited and emailed, through HTTP with the right roles.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{call, participant, send, Backend, Reply, TestApp};
use crate::smtp::SmtpServer;

crate::on_both_backends!(
    rosters_and_lists_show_who_is_where,
    moves_respect_capacity_refill_and_are_audited_and_emailed,
    capacity_changes_promote_or_are_refused,
    a_frozen_roster_changes_only_by_hand,
    every_reader_of_a_waitlist_agrees,
    organiser_routes_check_roles_and_input,
    the_allocation_previews_then_applies_an_optimal_plan,
    balancing_countries_evens_the_spread,
    allocation_during_a_registration_rush_neither_overbooks_nor_drops,
);

fn get(app: &TestApp, path: &str, token: Option<&str>) -> Reply {
    let request = ureq::get(&app.url(path));
    let request = match token {
        Some(token) => request.set("Authorization", &format!("Bearer {token}")),
        None => request,
    };
    call(request, None)
}

fn put(app: &TestApp, path: &str, body: Value, token: &str) -> Reply {
    send(
        ureq::put(&app.url(path)),
        "application/json",
        &body.to_string(),
        Some(token),
    )
}

fn patch(app: &TestApp, path: &str, body: Value, token: &str) -> Reply {
    send(
        ureq::request("PATCH", &app.url(path)),
        "application/json",
        &body.to_string(),
        Some(token),
    )
}

/// Registers people one after the other; returns (id, location) of each.
fn register_all(app: &TestApp, event: &str, people: &[(usize, &[&str])]) -> Vec<(String, String)> {
    people
        .iter()
        .map(|(n, prefs)| {
            let reply = app.register(event, &participant(*n, prefs));
            assert_eq!(reply.status, 201, "{}", reply.body);
            (
                reply.json()["id"].as_str().unwrap().to_owned(),
                reply.location.unwrap(),
            )
        })
        .collect()
}

fn roster(app: &TestApp, event: &str, visit: &str) -> Value {
    let reply = get(
        app,
        &format!("/api/v1/events/{event}/site-visits/{visit}/roster"),
        Some(&app.organiser),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

fn audit(app: &TestApp, event: &str) -> Vec<Value> {
    let reply = get(app, &format!("/api/v1/events/{event}/audit"), Some(&app.admin));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["entries"].as_array().unwrap().clone()
}

fn rosters_and_lists_show_who_is_where(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("groups", json!({}), &[("a", 2), ("b", 2)]);
    // participant(n) has country BE, IT, PT, PL, DE for n % 5 = 0..4.
    let people = register_all(
        &app,
        "groups",
        &[
            (0, &["a"]),
            (1, &["a", "b"]),
            (2, &["a"]),
            (3, &["a", "b"]),
            (4, &["a"]),
        ],
    );
    let a = roster(&app, "groups", "a");
    assert_eq!(ids(&a["assigned"]), [people[0].0.clone(), people[1].0.clone()]);
    assert_eq!(a["assigned"][1]["rank"], 1);
    assert_eq!(a["assigned"][0]["country_name"], "Belgium");
    // Waitlist: the unseated first (2, 4), then the upgrade candidate (3, seated in b).
    assert_eq!(
        ids(&a["waitlist"]),
        [people[2].0.clone(), people[4].0.clone(), people[3].0.clone()]
    );
    assert_eq!(a["waitlist"][2]["site_visit"], "b");
    assert_eq!(a["waitlist"][2]["position"], 3);
    assert_eq!(
        a["site_visit"]["waitlisted"], 3,
        "the event view counts everyone waiting"
    );

    let list = |query: &str| {
        let reply = get(
            &app,
            &format!("/api/v1/events/groups/registrations{query}"),
            Some(&app.organiser),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    };
    let all = list("");
    assert_eq!(all["total"], 5);
    assert_eq!(
        ids(&all["registrations"]),
        people.iter().map(|p| p.0.clone()).collect::<Vec<_>>()
    );
    assert_eq!(list("?country=it")["total"], 1);
    assert_eq!(list("?site_visit=b")["total"], 1);
    assert_eq!(list("?q=PARTICIPANT3")["total"], 1);
    assert_eq!(list("?q=test%20org")["total"], 5);
    assert_eq!(list("?q=%25")["total"], 0, "LIKE wildcards are literal");
    let page = list("?limit=2&offset=2");
    assert_eq!(page["total"], 5);
    assert_eq!(
        ids(&page["registrations"]),
        [people[2].0.clone(), people[3].0.clone()]
    );
    call(ureq::delete(&app.url(&people[4].1)), None);
    assert_eq!(list("?status=cancelled")["total"], 1);
    assert_eq!(list("?status=confirmed")["total"], 4);
}

fn moves_respect_capacity_refill_and_are_audited_and_emailed(backend: Backend) {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |s| s.mail.smtp_url = url);
    app.create_event("moves", json!({}), &[("a", 1), ("b", 1), ("c", 3)]);
    let people = register_all(
        &app,
        "moves",
        &[(0, &["a"]), (1, &["b"]), (2, &["a"]), (3, &["c"])],
    );
    smtp.wait_for(4, Duration::from_secs(30));
    let path = |id: &str| format!("/api/v1/events/moves/registrations/{id}/site-visit");

    // Into a full visit: 409, nothing changes.
    put(
        &app,
        &path(&people[3].0),
        json!({"site_visit": "a"}),
        &app.organiser,
    )
    .problem(409, "capacity-exceeded");
    assert_eq!(
        ids(&roster(&app, "moves", "a")["assigned"]),
        [people[0].0.clone()]
    );

    // Person 0 from `a` to `c`: the seat in `a` goes to person 2 at once.
    let moved = put(
        &app,
        &path(&people[0].0),
        json!({"site_visit": "c"}),
        &app.organiser,
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.json()["site_visit"]["slug"], "c");
    assert_eq!(
        ids(&roster(&app, "moves", "a")["assigned"]),
        [people[2].0.clone()]
    );
    let mails = smtp.wait_for(6, Duration::from_secs(30));
    let to_0 = smtp.to("participant0@example.org");
    assert!(
        to_0.last().unwrap().text().contains("organisers have moved you"),
        "{}",
        to_0.last().unwrap().text()
    );
    assert!(smtp
        .to("participant2@example.org")
        .last()
        .unwrap()
        .text()
        .contains("a seat has become free"));
    assert_eq!(mails.len(), 6);

    // Out of every visit: the person is not put back automatically.
    let removed = put(
        &app,
        &path(&people[1].0),
        json!({"site_visit": null}),
        &app.organiser,
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(removed.json()["site_visit"].is_null(), "{}", removed.body);
    let b = roster(&app, "moves", "b");
    assert!(b["assigned"].as_array().unwrap().is_empty());
    assert!(b["waitlist"].as_array().unwrap().is_empty(), "{b}");

    // Cancelled registrations cannot be moved; unknown ones and visits are refused.
    call(ureq::delete(&app.url(&people[3].1)), None);
    put(
        &app,
        &path(&people[3].0),
        json!({"site_visit": "b"}),
        &app.organiser,
    )
    .problem(409, "registration-closed");
    put(&app, &path("nobody"), json!({"site_visit": "b"}), &app.organiser).problem(404, "not-found");
    put(
        &app,
        &path(&people[0].0),
        json!({"site_visit": "zzz"}),
        &app.organiser,
    )
    .problem(422, "validation-failed");
    put(&app, &path(&people[0].0), json!({}), &app.organiser).problem(422, "validation-failed");

    let trail = audit(&app, "moves");
    let moves: Vec<&Value> = trail.iter().filter(|e| e["action"] == "move").collect();
    assert_eq!(moves.len(), 2, "{trail:?}");
    assert_eq!(moves[1]["before"]["site_visit"], "a");
    assert_eq!(moves[1]["after"]["site_visit"], "c");
    assert_eq!(moves[1]["actor"], "test organiser");
    assert_eq!(moves[0]["after"]["site_visit"], Value::Null);
}

fn capacity_changes_promote_or_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("cap", json!({}), &[("a", 2)]);
    let people = register_all(
        &app,
        "cap",
        &[(0, &["a"]), (1, &["a"]), (2, &["a"]), (3, &["a"]), (4, &["a"])],
    );
    let visit = "/api/v1/events/cap/site-visits/a";
    patch(&app, visit, json!({"capacity": 1}), &app.organiser).problem(409, "capacity-exceeded");
    let raised = patch(&app, visit, json!({"capacity": 4}), &app.organiser);
    assert_eq!(raised.status, 200, "{}", raised.body);
    let raised = raised.json();
    assert_eq!(raised["capacity"], 4);
    assert_eq!(raised["assigned"], 4, "the raise promoted two at once");
    assert_eq!(raised["waitlisted"], 1);
    let roster = roster(&app, "cap", "a");
    assert_eq!(ids(&roster["waitlist"]), [people[4].0.clone()]);
    let lowered = patch(&app, visit, json!({"capacity": 4}), &app.organiser);
    assert_eq!(lowered.status, 200);
    let trail = audit(&app, "cap");
    assert_eq!(
        trail.len(),
        1,
        "an unchanged capacity is not an action: {trail:?}"
    );
    assert_eq!(trail[0]["action"], "capacity");
    assert_eq!(trail[0]["before"]["capacity"], 2);
    assert_eq!(trail[0]["after"]["capacity"], 4);
}

fn a_frozen_roster_changes_only_by_hand(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("frozen", json!({}), &[("a", 2), ("b", 5)]);
    let people = register_all(
        &app,
        "frozen",
        &[(0, &["a"]), (1, &["a"]), (2, &["a"]), (3, &["b"])],
    );
    let visit = "/api/v1/events/frozen/site-visits/a";
    let frozen = patch(&app, visit, json!({"frozen": true}), &app.organiser);
    assert_eq!(frozen.status, 200, "{}", frozen.body);
    assert_eq!(frozen.json()["frozen"], true);
    // A cancellation leaves the seat free: no automatic promotion into a frozen roster.
    call(ureq::delete(&app.url(&people[0].1)), None);
    let a = roster(&app, "frozen", "a");
    assert_eq!(a["site_visit"]["assigned"], 1);
    assert_eq!(ids(&a["waitlist"]), [people[2].0.clone()]);
    // A raise does not fill it either; an organiser may still place someone by hand.
    patch(&app, visit, json!({"capacity": 3}), &app.organiser);
    assert_eq!(roster(&app, "frozen", "a")["site_visit"]["assigned"], 1);
    let placed = put(
        &app,
        &format!("/api/v1/events/frozen/registrations/{}/site-visit", people[3].0),
        json!({"site_visit": "a"}),
        &app.organiser,
    );
    assert_eq!(placed.status, 200, "{}", placed.body);
    // Unfreezing refills at once.
    let open = patch(&app, visit, json!({"frozen": false}), &app.organiser).json();
    assert_eq!(open["frozen"], false);
    assert_eq!(open["assigned"], 3);
    assert_eq!(app.get(&people[2].1).json()["site_visit"]["status"], "assigned");
    let actions: Vec<String> = audit(&app, "frozen")
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["unfreeze", "move", "capacity", "freeze"]);
}

/// The waitlist is defined once: the roster's waitlist, the positions people are shown,
/// the event view's `waitlisted` and the counts export agree, for people holding no
/// seat, people holding a lower-ranked seat, people an organiser placed or took out by
/// hand, and people seated in a frozen roster.
fn every_reader_of_a_waitlist_agrees(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("queue", json!({}), &[("a", 1), ("b", 1), ("c", 5)]);
    let people = register_all(
        &app,
        "queue",
        &[
            (0, &["a", "c"]), // seated in a
            (1, &["a", "b"]), // seated in b, waits to move up to a
            (2, &["a"]),      // no seat: first in a's queue
            (3, &["a", "c"]), // seated in c, waits to move up (until c is frozen)
            (4, &["a"]),      // no seat, then placed in c by hand
            (5, &["a"]),      // no seat, then taken out of every visit by hand
            (6, &["a"]),      // no seat
        ],
    );
    let move_to = |n: usize, visit: Value| {
        let reply = put(
            &app,
            &format!("/api/v1/events/queue/registrations/{}/site-visit", people[n].0),
            json!({"site_visit": visit}),
            &app.organiser,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    move_to(4, json!("c"));
    move_to(5, Value::Null);
    let check = |expected: &[usize]| {
        let a = roster(&app, "queue", "a");
        let expected_ids: Vec<String> = expected.iter().map(|&n| people[n].0.clone()).collect();
        assert_eq!(ids(&a["waitlist"]), expected_ids);
        let positions: Vec<i64> = a["waitlist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["position"].as_i64().unwrap())
            .collect();
        assert_eq!(positions, (1..=expected.len() as i64).collect::<Vec<_>>());
        assert_eq!(a["site_visit"]["waitlisted"], expected.len());
        let event = app.event("queue");
        assert_eq!(event["site_visits"][0]["waitlisted"], expected.len(), "{event}");
        let counts = get(
            &app,
            "/api/v1/events/queue/exports/counts?by=site_visit&format=json",
            Some(&app.admin),
        )
        .json();
        assert_eq!(counts["rows"][0]["waitlisted"], expected.len(), "{counts}");
        // People without a seat are shown their place among the people without a seat.
        let unseated: Vec<usize> = expected.iter().copied().filter(|&n| n == 2 || n == 6).collect();
        for (place, n) in unseated.iter().enumerate() {
            let view = app.get(&people[*n].1).json();
            assert_eq!(view["site_visit"]["slug"], "a");
            assert_eq!(
                view["site_visit"]["waitlist_position"],
                place as i64 + 1,
                "{view}"
            );
        }
        // Taken out by hand: waits for nothing, is shown no place.
        assert_eq!(app.get(&people[5].1).json()["site_visit"], Value::Null);
    };
    // a: the unseated first (2, 6), then the upgrades (1 from b, 3 from c).
    check(&[2, 6, 1, 3]);
    // Freezing c keeps its people where they are: 3 no longer waits to move up.
    let frozen = patch(
        &app,
        "/api/v1/events/queue/site-visits/c",
        json!({"frozen": true}),
        &app.organiser,
    );
    assert_eq!(frozen.status, 200, "{}", frozen.body);
    check(&[2, 6, 1]);
    let open = patch(
        &app,
        "/api/v1/events/queue/site-visits/c",
        json!({"frozen": false}),
        &app.organiser,
    );
    assert_eq!(open.status, 200, "{}", open.body);
    check(&[2, 6, 1, 3]);
    // A freed seat in a goes to the head of that queue.
    call(ureq::delete(&app.url(&people[0].1)), None);
    check(&[6, 1, 3]);
    assert_eq!(app.get(&people[2].1).json()["site_visit"]["status"], "assigned");
}

fn organiser_routes_check_roles_and_input(backend: Backend) {
    let app = TestApp::spawn(backend);
    let event = "cmr-charleroi-2024";
    let roster_path = format!("/api/v1/events/{event}/site-visits/aperam-chatelet/roster");
    get(&app, &roster_path, None).problem(401, "unauthorized");
    assert_eq!(
        get(&app, &roster_path, Some(&app.admin)).status,
        200,
        "admins may do what organisers do"
    );
    get(
        &app,
        &format!("/api/v1/events/{event}/site-visits/nowhere/roster"),
        Some(&app.organiser),
    )
    .problem(404, "not-found");
    get(
        &app,
        &format!("/api/v1/events/{event}/audit"),
        Some(&app.organiser),
    )
    .problem(403, "forbidden");
    let list = format!("/api/v1/events/{event}/registrations");
    for query in [
        "?status=lost",
        "?country=XX",
        "?limit=0",
        "?limit=100000",
        "?colour=red",
        "?site_visit=zzz",
    ] {
        get(&app, &format!("{list}{query}"), Some(&app.organiser)).problem(422, "validation-failed");
    }
    get(&app, &list, None).problem(401, "unauthorized");
    let visit = format!("/api/v1/events/{event}/site-visits/aperam-chatelet");
    patch(&app, &visit, json!({}), &app.organiser).problem(422, "validation-failed");
    patch(&app, &visit, json!({"capacity": -3}), &app.organiser).problem(422, "validation-failed");
    patch(&app, &visit, json!({"frozen": "maybe"}), &app.organiser).problem(422, "validation-failed");
}

fn allocation(app: &TestApp, event: &str, body: Value) -> Value {
    let reply = app.post_json(
        &format!("/api/v1/events/{event}/allocation"),
        &body,
        Some(&app.organiser),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn person_in(n: usize, country: &str, preferences: &[&str]) -> Value {
    let mut body = participant(n, preferences);
    body["country"] = json!(country);
    body
}

fn the_allocation_previews_then_applies_an_optimal_plan(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event(
        "alloc",
        json!({"assignment_mode": "preferences"}),
        &[("x", 1), ("y", 1), ("z", 2)],
    );
    let people = register_all(
        &app,
        "alloc",
        &[
            (0, &["x", "y"]),
            (1, &["x"]),
            (2, &["z"]),
            (3, &["z", "x"]),
            (4, &["y"]),
        ],
    );
    let pending = app.get(&people[0].1).json();
    assert_eq!(
        pending["site_visit"]["status"], "waitlisted",
        "no seat before the allocation"
    );
    assert!(pending["site_visit"]["waitlist_position"].is_null());

    let preview = allocation(&app, "alloc", json!({"dry_run": true}));
    assert_eq!(preview["by_rank"], json!([4, 0]));
    assert_eq!(preview["unplaced"], 1);
    assert_eq!(preview["participants"], 5);
    assert_eq!(
        preview["plan"][0]["site_visit"], "x",
        "registration order breaks the tie"
    );
    assert_eq!(preview["plan"][1]["site_visit"], Value::Null);
    for visit in app.event("alloc")["site_visits"].as_array().unwrap() {
        assert_eq!(visit["assigned"], 0, "a dry run writes nothing");
    }
    assert!(audit(&app, "alloc").is_empty());

    let applied = allocation(&app, "alloc", json!({"dry_run": false}));
    assert_eq!(applied["by_rank"], json!([4, 0]));
    assert_eq!(applied["seats_changed"], 4);
    let view = app.event("alloc");
    let assigned: Vec<i64> = view["site_visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["assigned"].as_i64().unwrap())
        .collect();
    assert_eq!(assigned, [1, 1, 2]);
    assert_eq!(app.get(&people[0].1).json()["site_visit"]["slug"], "x");
    let left_out = app.get(&people[1].1).json();
    assert_eq!(left_out["site_visit"]["status"], "waitlisted");
    assert_eq!(
        left_out["site_visit"]["waitlist_position"], 1,
        "after the allocation, waitlists are live"
    );
    let trail = audit(&app, "alloc");
    assert_eq!(trail[0]["action"], "allocation");
    assert_eq!(trail[0]["after"]["by_rank"], json!([4, 0]));
    // Everyone heard the result, placed or not.
    let emails = call(
        ureq::get(&app.url("/api/v1/emails")).set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    )
    .json();
    let results = emails["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "seat_changed")
        .count();
    assert_eq!(results, 5);
    // Latecomers are seated first come, first served; freed seats refill.
    call(ureq::delete(&app.url(&people[0].1)), None);
    assert_eq!(app.get(&people[1].1).json()["site_visit"]["status"], "assigned");
}

fn balancing_countries_evens_the_spread(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event(
        "mix",
        json!({"assignment_mode": "preferences"}),
        &[("a", 10), ("b", 10), ("c", 10)],
    );
    // Twelve Belgians who all prefer `a`, six others spread out; room for everyone.
    for n in 0..12 {
        let prefs: &[&str] = if n % 2 == 0 {
            &["a", "b", "c"]
        } else {
            &["a", "c", "b"]
        };
        assert_eq!(app.register("mix", &person_in(n, "BE", prefs)).status, 201);
    }
    for n in 12..18 {
        assert_eq!(
            app.register("mix", &person_in(n, "IT", &["b", "c", "a"])).status,
            201
        );
    }
    let plain = allocation(&app, "mix", json!({"dry_run": true}));
    let balanced = allocation(&app, "mix", json!({"dry_run": true, "balance_countries": true}));
    assert_eq!(
        plain["by_rank"], balanced["by_rank"],
        "balance never costs a better choice"
    );
    assert!(
        balanced["country_spread"].as_u64() <= plain["country_spread"].as_u64(),
        "{} vs {}",
        balanced["country_spread"],
        plain["country_spread"]
    );
    let lottery = allocation(&app, "mix", json!({"dry_run": true, "seed": 42}));
    let again = allocation(&app, "mix", json!({"dry_run": true, "seed": 42}));
    assert_eq!(
        lottery["plan"], again["plan"],
        "a seeded lottery draws the same every time"
    );
}

fn allocation_during_a_registration_rush_neither_overbooks_nor_drops(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event(
        "rush",
        json!({"assignment_mode": "preferences"}),
        &[("a", 15), ("b", 15), ("c", 15)],
    );
    let choices: [&[&str]; 3] = [&["a", "b"], &["b", "c"], &["c", "a"]];
    for n in 0..45 {
        assert_eq!(app.register("rush", &participant(n, choices[n % 3])).status, 201);
    }
    let url = app.url("/api/v1/events/rush/registrations");
    let mut jobs: Vec<crate::helpers::Job<Reply>> = (45..90)
        .map(|n| {
            let url = url.clone();
            Box::new(move |agent: &ureq::Agent| {
                send(
                    agent.post(&url),
                    "application/json",
                    &participant(n, choices[n % 3]).to_string(),
                    None,
                )
            }) as crate::helpers::Job<Reply>
        })
        .collect();
    let allocation_url = app.url("/api/v1/events/rush/allocation");
    let token = app.organiser.clone();
    jobs.insert(
        10,
        Box::new(move |agent: &ureq::Agent| {
            send(
                agent.post(&allocation_url),
                "application/json",
                &json!({"dry_run": false}).to_string(),
                Some(&token),
            )
        }),
    );
    let replies = crate::helpers::concurrently(12, jobs);
    for reply in &replies {
        assert!(reply.status == 201 || reply.status == 200, "{}", reply.body);
    }
    let view = app.event("rush");
    for visit in view["site_visits"].as_array().unwrap() {
        assert!(visit["assigned"].as_i64().unwrap() <= 15, "{visit}");
        let roster = roster(&app, "rush", visit["slug"].as_str().unwrap());
        assert_eq!(
            roster["assigned"].as_array().unwrap().len() as i64,
            visit["assigned"].as_i64().unwrap()
        );
    }
    let list = get(
        &app,
        "/api/v1/events/rush/registrations?limit=500",
        Some(&app.organiser),
    )
    .json();
    assert_eq!(
        list["total"], 90,
        "nobody registered during the allocation was lost"
    );
    let seated = list["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["site_visit"].is_null())
        .count();
    assert_eq!(seated, 45, "every seat is taken once someone waits for it");
}
