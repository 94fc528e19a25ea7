//! A message to 5,000 people (issue 19's target: accepted in under a second): the
//! organiser's `POST …/messages` to everyone of an event of 5,000 registrations, against
//! its dry run in the same run (the same audience read and the same preview rendered,
//! nothing written), so the difference is what writing the message and its 5,000 emails
//! costs.
//!
//! ```sh
//! cargo bench --bench messages                                  # SQLite (a temporary file)
//! RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench messages                              # PostgreSQL (own database)
//! ```
//!
//! The registrations are made through the real API as `benches/board.rs` makes them (each
//! ranks the 3 visits, 20 countries); the mail worker is off, so the emails stay queued
//! and nothing else writes while the message is accepted.

use std::time::{Duration, Instant};

use rallypoint::domain::access::{create_api_token, Role};
use rallypoint::domain::now;
use rallypoint::startup;
use serde_json::{json, Value};

mod support;
use support::event::{create_event, register_everyone};
use support::{BenchDatabase, Server};

const PEOPLE: usize = 5_000;
const SEATS: usize = 2_000;
const RUNS: usize = 5;

fn main() {
    let target = BenchDatabase::from_env("rp_messages");
    let mut settings = target.server_settings();
    settings.limits.public_writes_per_minute = 0;
    let db = startup::connect_and_migrate(&settings).expect("the database migrates");
    let (admin, organiser) = db
        .write_blocking(|conn| {
            Ok::<_, rallypoint::domain::error::DomainError>((
                create_api_token(conn, Role::Admin, "bench", now())?,
                create_api_token(conn, Role::Organiser, "bench organiser", now())?,
            ))
        })
        .expect("tokens");
    let server = Server::start(settings);
    let base = format!("http://{}", server.address);
    create_event(&base, &admin, "A conference of five thousand", SEATS);
    let started = Instant::now();
    register_everyone(&base, PEOPLE);
    println!(
        "{}: {PEOPLE} registrations through the API in {:.1?}",
        target.name(),
        started.elapsed()
    );

    let agent = ureq::agent();
    let bearer = format!("Bearer {organiser}");
    let post = |dry_run: bool, n: usize| -> (Duration, Value) {
        let body = json!({
            "audience": {}, "dry_run": dry_run,
            "subject": {"en": format!("Coach times, update {n}"), "fr": format!("Horaires des cars, mise à jour {n}")},
            "body": {
                "en": "Coach A leaves at 13:15 from the main entrance.\n\nBring closed shoes for the steel plant.",
                "fr": "Le car A part à 13h15 de l'entrée principale.\n\nPrenez des chaussures fermées pour l'aciérie."
            }
        });
        let started = Instant::now();
        let answer: Value = agent
            .post(&format!("{base}/api/v1/events/big/messages"))
            .set("Authorization", &bearer)
            .send_json(body)
            .expect("the message is accepted")
            .into_json()
            .expect("a JSON answer");
        (started.elapsed(), answer)
    };
    let mut dry = Vec::new();
    let mut sent = Vec::new();
    for n in 0..RUNS {
        let (time, answer) = post(true, n);
        assert_eq!(answer["recipients"], PEOPLE, "{answer}");
        dry.push(time);
        let (time, answer) = post(false, n);
        assert_eq!(answer["recipients"], PEOPLE, "{answer}");
        sent.push(time);
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (dry_median, sent_median) = (median(&mut dry), median(&mut sent));
    println!("\n{:<58} {:>10} {:>10}", "", "median", "max");
    println!(
        "{:<58} {:>10.1?} {:>10.1?}",
        "baseline: dry run to 5,000 (read, count, preview)",
        dry_median,
        dry.last().unwrap()
    );
    println!(
        "{:<58} {:>10.1?} {:>10.1?}",
        "send to 5,000 (the message and 5,000 emails, one transaction)",
        sent_median,
        sent.last().unwrap()
    );
    println!(
        "{:<58} {:>9.2}x",
        "send / dry run",
        sent_median.as_secs_f64() / dry_median.as_secs_f64()
    );
    println!(
        "\nrerun with: cargo bench --bench messages\n  PostgreSQL: RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench messages"
    );
    println!("target (issue 19): a message to 5,000 recipients accepted in < 1 s");
    server.stop();
}
