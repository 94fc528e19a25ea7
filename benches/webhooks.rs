//! Webhook delivery throughput (issue 19's target: at least 200 deliveries per second to
//! a local receiver), against a bare HTTP client hitting the same receiver in the same
//! run.
//!
//! ```sh
//! cargo bench --bench webhooks                                  # SQLite (a temporary file)
//! RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench webhooks                              # PostgreSQL (own database)
//! ```
//!
//! One endpoint subscribed to every event type, a minimal receiver on loopback
//! (`support::receiver`: 200 to everything), 1,000 people registering through the real API
//! from 8 threads (`support::event`): each seated registration is two messages
//! (`registration.created`, then `seat.assigned`), so 2,000 deliveries, the second of each
//! person waiting for the first (the per-registration order).
//!
//! - **drain**: the server runs without its webhook worker while everyone registers (the
//!   2,000 deliveries are queued), then a worker starts: deliveries/s from its start to the
//!   last arrival. What the worker alone can do from a full queue.
//! - **live**: a fresh database and a server with its worker, receiving while people
//!   register: deliveries/s from the first registration sent to the last arrival, the
//!   registrations' own rate, and how long after the last registration's answer the last
//!   delivery arrived.
//! - **baseline**: the same number of POSTs of a payload of the same size, signed the same
//!   way, from as many threads as the worker has senders (`webhooks.concurrency`), each
//!   thread with its own keep-alive client, nothing else: the receiver and the loopback
//!   at that concurrency.
//!
//! Every run checks that each delivery arrived once and that each person's two arrived in
//! order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rallypoint::domain::access::{create_api_token, Role};
use rallypoint::domain::now;
use rallypoint::settings::Settings;
use rallypoint::startup;
use serde_json::{json, Value};

mod support;
use support::event::{create_event, register_everyone};
use support::receiver::Receiver;
use support::{BenchDatabase, Server};

const PEOPLE: usize = 1_000;
/// Two messages per seated registration.
const DELIVERIES: usize = 2 * PEOPLE;

fn settings_for(target: &BenchDatabase, worker: bool) -> Settings {
    let mut settings = target.server_settings();
    settings.limits.public_writes_per_minute = 0;
    settings.webhooks.allow_private_addresses = true;
    settings.webhooks.worker = worker;
    settings
}

/// A server on a fresh database with an admin token and the event, and an endpoint for
/// `receiver`.
fn prepared(target: &BenchDatabase, worker: bool, receiver: &Receiver) -> (Server, String, Settings) {
    let settings = settings_for(target, worker);
    let db = startup::connect_and_migrate(&settings).expect("the database migrates");
    let admin = db
        .write_blocking(|conn| create_api_token(conn, Role::Admin, "bench", now()))
        .expect("a token");
    let server = Server::start(settings.clone());
    let base = format!("http://{}", server.address);
    create_event(&base, &admin, "Webhooks", PEOPLE);
    ureq::post(&format!("{base}/api/v1/webhooks"))
        .set("Authorization", &format!("Bearer {admin}"))
        .send_json(json!({"url": receiver.url, "events": ["*"]}))
        .expect("the endpoint is registered");
    (server, base, settings)
}

/// Each delivery once, each person's in the order of their changes.
fn check(receiver: &Receiver) {
    let arrivals = receiver.arrivals();
    assert_eq!(arrivals.len(), DELIVERIES, "every delivery, once");
    let mut ids: Vec<&str> = arrivals.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), DELIVERIES, "no delivery twice");
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for (_, body) in &arrivals {
        let body: Value = serde_json::from_str(body).expect("a JSON body");
        let person = body["data"]["registration"]["id"].as_str().unwrap().to_owned();
        seen.entry(person)
            .or_default()
            .push(body["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen.len(), PEOPLE);
    assert!(seen
        .values()
        .all(|types| types == &["registration.created", "seat.assigned"]));
}

fn drain(target: &BenchDatabase) -> f64 {
    let receiver = Receiver::start();
    let (server, base, settings) = prepared(target, false, &receiver);
    let answers = register_everyone(&base, PEOPLE);
    assert!(answers.iter().all(|a| a["site_visit"]["status"] == "assigned"));
    // The queue is full; only the worker touches the database from now on.
    server.stop();
    assert_eq!(receiver.count(), 0, "no worker yet");
    let db = startup::connect_and_migrate(&settings).expect("the database");
    let key = startup::load_manage_key(&db, &settings).expect("the key");
    let started = Instant::now();
    let worker = startup::webhook_worker(&settings, db, key).spawn();
    let last = receiver.wait_for(DELIVERIES);
    let rate = DELIVERIES as f64 / (last - started).as_secs_f64();
    worker.stop();
    check(&receiver);
    rate
}

struct Live {
    deliveries_per_second: f64,
    registrations_per_second: f64,
    lag: Duration,
}

fn live(target: &BenchDatabase) -> Live {
    let receiver = Receiver::start();
    let (server, base, _) = prepared(target, true, &receiver);
    let started = Instant::now();
    register_everyone(&base, PEOPLE);
    let answered = Instant::now();
    let last = receiver.wait_for(DELIVERIES);
    check(&receiver);
    server.stop();
    Live {
        deliveries_per_second: DELIVERIES as f64 / (last - started).as_secs_f64(),
        registrations_per_second: PEOPLE as f64 / (answered - started).as_secs_f64(),
        lag: last.saturating_duration_since(answered),
    }
}

/// The same number of signed POSTs of a payload of the same size from `threads` threads.
fn baseline(threads: usize) -> f64 {
    let receiver = Receiver::start();
    let body = Arc::new(
        json!({
            "id": "01a23cbf-57f3-771a-9bcd-aa4790e56308", "type": "seat.assigned",
            "created_at": "2030-06-01T10:00:00.000Z", "event": "big",
            "data": {"registration": {"id": "01a23cbf-57f3-771a-9bcd-aa44cce8e612", "status": "confirmed",
                "waitlist_position": null, "preferences": ["v1", "v2", "v3"],
                "site_visit": {"slug": "v1", "status": "assigned", "waitlist_position": null},
                "offer": null}, "site_visit": "v1", "previous_site_visit": null, "reason": "registered"}
        })
        .to_string(),
    );
    let key = [7u8; 32];
    let started = Instant::now();
    let senders: Vec<_> = (0..threads)
        .map(|thread| {
            let (url, body) = (receiver.url.clone(), body.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
                for n in (thread..DELIVERIES).step_by(threads) {
                    let id = format!("baseline-{n}");
                    let timestamp = chrono::Utc::now().timestamp();
                    let signature =
                        rallypoint::webhooks::signature::sign(&key, &id, timestamp, body.as_bytes());
                    agent
                        .post(&url)
                        .set("Content-Type", "application/json")
                        .set("webhook-id", &id)
                        .set("webhook-timestamp", &timestamp.to_string())
                        .set("webhook-signature", &signature)
                        .send_string(&body)
                        .expect("the receiver answers");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let last = receiver.wait_for(DELIVERIES);
    DELIVERIES as f64 / (last - started).as_secs_f64()
}

fn main() {
    let name = if support::postgres_admin_url().is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let concurrency = Settings::load_from(Vec::new())
        .expect("the default settings")
        .webhooks
        .concurrency;
    println!(
        "webhooks on {name}: {PEOPLE} registrations through the API, {DELIVERIES} deliveries \
         to one endpoint, {concurrency} senders"
    );
    let baseline_rate = baseline(concurrency);
    let drained = drain(&BenchDatabase::from_env("rp_webhooks_drain"));
    let live = live(&BenchDatabase::from_env("rp_webhooks_live"));
    println!("| backend | drain deliveries/s | live deliveries/s | live registrations/s | last delivery after last answer | baseline POSTs/s | drain / baseline |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {name} | {drained:.0} | {:.0} | {:.0} | {} ms | {baseline_rate:.0} | {:.2}× |",
        live.deliveries_per_second,
        live.registrations_per_second,
        live.lag.as_millis(),
        drained / baseline_rate
    );
    let met = drained >= 200.0 && live.deliveries_per_second >= 200.0;
    println!(
        "target ≥ 200 deliveries/s: {}",
        if met { "met" } else { "not met" }
    );
    println!("rerun: cargo bench --bench webhooks  (RALLYPOINT_BENCH_POSTGRES_URL=… for PostgreSQL)");
}
