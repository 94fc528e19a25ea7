//! Issue 15: the waitlists as stored queues. Positions told to people are exactly 1..N
//! however many registrations and cancellations arrive at once, on one instance or two
//! sharing a PostgreSQL database, and stay in the order the joins committed.

use serde_json::json;

use crate::helpers::{call, concurrently, participant, postgres, send, Backend, Reply, Server, TestApp};

crate::on_both_backends!(two_hundred_at_once_are_told_places_1_to_190_then_cancellations_close_the_gaps);

/// The same rush, through two instances on one PostgreSQL database.
#[test]
fn two_instances_on_one_postgres_database_tell_places_1_to_190() {
    let Some(backend) = postgres() else { return };
    let app = TestApp::spawn(backend);
    let second = Server::start(app.server.settings.clone());
    rush_then_cancel(&app, &[app.server.url(""), second.url("")]);
}

fn two_hundred_at_once_are_told_places_1_to_190_then_cancellations_close_the_gaps(backend: Backend) {
    let app = TestApp::spawn(backend);
    rush_then_cancel(&app, &[app.server.url("")]);
}

/// Jobs spread over the instances (`bases`) in turn.
fn spread(bases: &[String], jobs: Vec<(String, Option<String>)>) -> Vec<crate::helpers::Job<Reply>> {
    jobs.into_iter()
        .enumerate()
        .map(|(n, (path, body))| {
            let url = format!("{}{path}", bases[n % bases.len()]);
            Box::new(move |agent: &ureq::Agent| match body {
                Some(body) => send(agent.post(&url), "application/json", &body, None),
                None => call(agent.delete(&url), None),
            }) as crate::helpers::Job<Reply>
        })
        .collect()
}

/// 200 registrations at once for 10 seats: the 190 who wait are told places 1..190,
/// each once. Then 45 of them and 5 seated people cancel at once: the freed seats go to
/// the head of the queue, and everyone still waiting is at 1..N in the order of the
/// places they were first told.
fn rush_then_cancel(app: &TestApp, bases: &[String]) {
    app.create_event("rush", json!({}), &[("tour", 10)]);
    let path = "/api/v1/events/rush/registrations";
    let bodies = (0..200)
        .map(|n| (path.to_owned(), Some(participant(n, &["tour"]).to_string())))
        .collect();
    let replies = concurrently(50, spread(bases, bodies));
    let mut seated = Vec::new();
    let mut waiting: Vec<(i64, String)> = Vec::new();
    for reply in &replies {
        assert_eq!(reply.status, 201, "{}", reply.body);
        let seat = &reply.json()["site_visit"];
        let location = reply.location.clone().unwrap();
        match seat["status"].as_str() {
            Some("assigned") => seated.push(location),
            _ => waiting.push((seat["waitlist_position"].as_i64().unwrap(), location)),
        }
    }
    waiting.sort_unstable();
    let told: Vec<i64> = waiting.iter().map(|(p, _)| *p).collect();
    assert_eq!(seated.len(), 10);
    assert_eq!(
        told,
        (1..=190).collect::<Vec<_>>(),
        "each place told once, none skipped"
    );

    // Every fourth place from the head (1, 5, 9, …) and half the seated cancel at once.
    let leaving: Vec<String> = waiting
        .iter()
        .step_by(4)
        .take(45)
        .map(|(_, l)| l.clone())
        .chain(seated.iter().take(5).cloned())
        .collect();
    let jobs = leaving.iter().map(|l| (l.clone(), None)).collect();
    for reply in concurrently(25, spread(bases, jobs)) {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    // What each person who stayed sees now, in the order of the places first told.
    let mut now_seated = 0;
    let mut promoted = Vec::new();
    let mut still_waiting = Vec::new();
    for location in seated.iter().filter(|l| !leaving.contains(l)) {
        assert_eq!(app.get(location).json()["site_visit"]["status"], "assigned");
        now_seated += 1;
    }
    for (told, location) in waiting.iter().filter(|(_, l)| !leaving.contains(l)) {
        let seat = app.get(location).json()["site_visit"].clone();
        match seat["status"].as_str() {
            Some("assigned") => promoted.push(*told),
            _ => still_waiting.push((*told, seat["waitlist_position"].as_i64().unwrap())),
        }
    }
    assert_eq!(now_seated + promoted.len(), 10, "every freed seat is taken again");
    let positions: Vec<i64> = still_waiting.iter().map(|(_, now)| *now).collect();
    assert_eq!(
        positions,
        (1..=still_waiting.len() as i64).collect::<Vec<_>>(),
        "1..N again, in the order first told"
    );
    assert_eq!(still_waiting.len(), 190 - 45 - promoted.len());
    let first_still_waiting = still_waiting.first().map(|(told, _)| *told).unwrap();
    assert!(
        promoted.iter().all(|told| *told < first_still_waiting),
        "freed seats went to the head of the queue: {promoted:?} before {first_still_waiting}"
    );
    let visit = &app.event("rush")["site_visits"][0];
    assert_eq!(visit["assigned"], 10);
    assert_eq!(visit["waitlisted"], still_waiting.len() as i64);
}
