//! The event the board and check-in benches fill through the real API, as participants
//! fill it: event `big` with visits `v1`–`v3`, each person ranking all three (in a
//! rotating order), 20 countries, names with accents, registered from 8 threads.

use serde_json::{json, Value};

pub const COUNTRIES: [&str; 20] = [
    "BE", "IT", "PT", "PL", "DE", "FR", "ES", "NL", "AT", "SE", "DK", "FI", "IE", "CZ", "HU", "RO", "BG",
    "GR", "SK", "SI",
];
pub const LAST_NAMES: [&str; 8] = [
    "Łobocka", "Müller", "Ōta", "Dvořák", "Peeters", "Rossi", "Silva", "Nowak",
];

/// Event `big` (named `name`) with three visits of `seats` seats each, made by an admin.
pub fn create_event(base: &str, admin: &str, name: &str, seats: usize) {
    let agent = ureq::agent();
    let bearer = format!("Bearer {admin}");
    let event = json!({"slug": "big", "name": name, "timezone": "Europe/Brussels",
        "starts_on": "2030-06-01", "ends_on": "2030-06-02"});
    agent
        .post(&format!("{base}/api/v1/events"))
        .set("Authorization", &bearer)
        .send_json(event)
        .expect("the event is created");
    for n in 1..=3 {
        let visit = json!({"slug": format!("v{n}"), "name": format!("Visit {n}"), "capacity": seats,
            "starts_at": "2030-06-02T13:00:00+02:00", "ends_at": "2030-06-02T17:00:00+02:00"});
        agent
            .post(&format!("{base}/api/v1/events/big/site-visits"))
            .set("Authorization", &bearer)
            .send_json(visit)
            .expect("the visit is created");
    }
}

/// Person `n`'s registration: all three visits ranked, starting from a rotating one.
fn person(n: usize) -> Value {
    let ranking: Vec<String> = (0..3).map(|r| format!("v{}", (n + r) % 3 + 1)).collect();
    json!({
        "first_name": format!("Person{n}"), "last_name": LAST_NAMES[n % LAST_NAMES.len()],
        "email": format!("person{n}@example.org"), "organisation": format!("Organisation {}", n % 300),
        "country": COUNTRIES[n % COUNTRIES.len()], "preferences": ranking, "consent": true
    })
}

/// People `0..people` register from 8 threads; their answers, in person order.
pub fn register_everyone(base: &str, people: usize) -> Vec<Value> {
    const THREADS: usize = 8;
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let url = format!("{base}/api/v1/events/big/registrations");
            std::thread::spawn(move || {
                let agent = ureq::agent();
                (thread..people)
                    .step_by(THREADS)
                    .map(|n| {
                        let answer: Value = agent
                            .post(&url)
                            .send_json(person(n))
                            .expect("the registration is answered")
                            .into_json()
                            .expect("a JSON answer");
                        (n, answer)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut everyone: Vec<(usize, Value)> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    everyone.sort_unstable_by_key(|(n, _)| *n);
    everyone.into_iter().map(|(_, answer)| answer).collect()
}
