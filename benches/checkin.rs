//! Check-in at an event of 5,000 registrations (issue 18's targets): scans from 32
//! concurrent scanners against the least an authenticated request costs in the same run,
//! a batch of 1,000 offline scans (and the same batch again: all replays), and the
//! entrance list's offline roster (and its `If-None-Match` → 304).
//!
//! ```sh
//! cargo bench --bench checkin                                   # SQLite (a temporary file)
//! cargo bench --bench checkin -- --pool 32                       # another `database.pool_size`
//! RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench checkin                               # PostgreSQL (own database)
//! ```
//!
//! The registrations are made through the real API, as `benches/board.rs` makes them:
//! each ranks the 3 visits (in a rotating order), 20 countries; 3 × 2,000 seats, so
//! everyone is confirmed and seated (the entrance list expects all 5,000). The scans are
//! sent with a steward's token, each scanner a thread with its own HTTP agent, each scan
//! of a person nobody else scans, with a nonce of its own.
//!
//! The baseline is `GET …/checkin-lists/-/roster` with the same token from the same 32
//! threads: the steward extractor looks the token up (a read on the pool, as for every
//! scan) and checks the role, then the list name `-` is refused (404) before any other
//! query. It is the least any authenticated check-in request costs, so the ratio of the
//! scans to it is the cost of a scan's own work. (`GET …/checkin-lists` is not minimal:
//! it reads every confirmed person and check-in of the event.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use rallypoint::domain::access::{create_api_token, Role};
use rallypoint::domain::now;
use rallypoint::startup;
use serde_json::{json, Value};

mod support;
use support::event::{create_event, register_everyone};
use support::{BenchDatabase, Server};

const PEOPLE: usize = 5_000;
const SEATS: usize = 2_000;
const SCANNERS: usize = 32;
/// Scans per scanner: 3,200 people checked in at the entrance, each once.
const SCANS_EACH: usize = 100;
const BATCH: usize = 1_000;
const ROSTER_RUNS: usize = 10;

/// A registered person: their id, check-in code and the visit whose seat they hold.
struct Person {
    code: String,
    visit: String,
}

fn main() {
    let target = BenchDatabase::from_env("rp_checkin");
    let mut settings = target.server_settings();
    // One machine sends every registration: no per-client limit.
    settings.limits.public_writes_per_minute = 0;
    // `--pool N` sets `database.pool_size` (default: config/default.toml's).
    if let Some(pool) = support::number_argument("pool") {
        settings.database.pool_size = pool;
    }
    let db = startup::connect_and_migrate(&settings).expect("the database migrates");
    let manage_key = startup::load_manage_key(&db, &settings).expect("the manage key");
    let (admin, steward) = db
        .write_blocking(|conn| {
            Ok::<_, rallypoint::domain::error::DomainError>((
                create_api_token(conn, Role::Admin, "bench", now())?,
                create_api_token(conn, Role::Steward, "gate", now())?,
            ))
        })
        .expect("tokens");
    let server = Server::start(settings);
    let base = format!("http://{}", server.address);

    create_event(&base, &admin, "A conference of five thousand", SEATS);
    let started = Instant::now();
    let people: Vec<Person> = register_everyone(&base, PEOPLE)
        .into_iter()
        .map(|answer| {
            assert_eq!(answer["status"], "confirmed", "{answer}");
            Person {
                code: manage_key.checkin_code_for(answer["id"].as_str().expect("an id")),
                visit: answer["site_visit"]["slug"].as_str().expect("a seat").to_owned(),
            }
        })
        .collect();
    println!(
        "{}: {PEOPLE} registrations through the API in {:.1?}",
        target.name(),
        started.elapsed()
    );
    if target.name() == "PostgreSQL" {
        analyze_what_the_load_filled(&db);
    }
    let people = Arc::new(people);
    let bearer = Arc::new(format!("Bearer {steward}"));

    println!(
        "\n{:<52} {:>8} {:>10} {:>10} {:>10}",
        "", "requests", "per s", "median", "p99"
    );
    let baseline = concurrently(&base, &bearer, |_, _| {
        (
            "GET",
            "/api/v1/events/big/checkin-lists/-/roster".to_owned(),
            None,
            404,
        )
    });
    baseline.print("baseline: token check, then 404 (32 threads)");
    let scans = {
        let people = people.clone();
        concurrently(&base, &bearer, move |thread, i| {
            let person = thread * SCANS_EACH + i;
            let body = json!({"code": people[person].code, "list": "entry", "direction": "in",
                "nonce": format!("online-{person:06}"), "device": format!("scanner {thread}")});
            ("POST", "/api/v1/events/big/checkins".to_owned(), Some(body), 201)
        })
    };
    scans.print("scan in at the entrance (32 scanners)");
    println!(
        "{:<52} {:>8} {:>9.2}x {:>9.2}x {:>9.2}x",
        "scans / baseline",
        "",
        baseline.rate() / scans.rate(),
        scans.quantile(0.5).as_secs_f64() / baseline.quantile(0.5).as_secs_f64(),
        scans.quantile(0.99).as_secs_f64() / baseline.quantile(0.99).as_secs_f64(),
    );
    println!(
        "  (per s: the baseline's rate over the scans'; median and p99: the scans' over the baseline's)"
    );

    let agent = agent();
    sync_batch(&agent, &base, &bearer, &people);
    download_roster(&agent, &base, &bearer);

    server.stop();
    println!(
        "\nrerun with: cargo bench --bench checkin\n  PostgreSQL: RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench checkin"
    );
    println!(
        "targets (issue 18): scan p99 < 20 ms with 32 scanners; 1,000 offline scans synced in < 1 s; a roster of 5,000 in < 200 ms"
    );
}

/// The planner's statistics as a running database has them after this load: autovacuum
/// analyses a table within a minute of a bulk change, so every table the registrations
/// filled is analysed; until then their statements are planned for empty tables. The
/// check-in tables are left as autovacuum leaves a table nobody wrote: never analysed.
/// A blanket `ANALYZE` would record them as empty, and PostgreSQL then keeps generic
/// plans that read `checkins` and `checkin_scans` sequentially (measured: 1.5 million
/// rows read for 2,800 scans), until autovacuum's next analysis (within a minute on a
/// live server) replans them.
fn analyze_what_the_load_filled(db: &rallypoint::db::Database) {
    db.write_blocking(|conn| {
        conn.batch_execute(
            "DO $$ DECLARE t TEXT; filled BOOLEAN; BEGIN
               FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
                 EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', t) INTO filled;
                 IF filled THEN EXECUTE format('ANALYZE %I', t); END IF;
               END LOOP;
             END $$",
        )
        .map_err(rallypoint::db::DbError::from)
    })
    .expect("ANALYZE");
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

/// Latencies of one concurrent run.
struct Run {
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        let index = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
        self.latencies[index]
    }

    fn print(&self, what: &str) {
        println!(
            "{what:<52} {:>8} {:>10.0} {:>10.2?} {:>10.2?}",
            self.latencies.len(),
            self.rate(),
            self.quantile(0.5),
            self.quantile(0.99)
        );
    }
}

type Request = (&'static str, String, Option<Value>, u16);

/// `SCANNERS` threads, each with its own agent, each sending `SCANS_EACH` requests made
/// by `request(thread, i)` one after the other, each checked for its status.
fn concurrently(
    base: &str,
    bearer: &Arc<String>,
    request: impl Fn(usize, usize) -> Request + Send + Sync + 'static,
) -> Run {
    let request = Arc::new(request);
    let barrier = Arc::new(std::sync::Barrier::new(SCANNERS + 1));
    let threads: Vec<_> = (0..SCANNERS)
        .map(|thread| {
            let (request, barrier, bearer, base) =
                (request.clone(), barrier.clone(), bearer.clone(), base.to_owned());
            std::thread::spawn(move || {
                let agent = agent();
                let mut latencies = Vec::with_capacity(SCANS_EACH);
                barrier.wait();
                for i in 0..SCANS_EACH {
                    let (method, path, body, expected) = request(thread, i);
                    let sent = Instant::now();
                    let call = agent
                        .request(method, &format!("{base}{path}"))
                        .set("Authorization", &bearer);
                    let answer = match body {
                        Some(body) => call.send_json(body),
                        None => call.call(),
                    };
                    match answer {
                        Ok(response) | Err(ureq::Error::Status(_, response)) => {
                            let status = response.status();
                            let body = response.into_string().unwrap_or_default();
                            latencies.push(sent.elapsed());
                            assert_eq!(status, expected, "{method} {path}: {body}");
                        }
                        Err(other) => panic!("{method} {path}: {other}"),
                    }
                }
                latencies
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Run { elapsed, latencies }
}

/// 1,000 scans made offline on one device at visit 1's coach, uploaded in one batch,
/// then the same batch again (every scan a replay).
fn sync_batch(agent: &ureq::Agent, base: &str, bearer: &str, people: &[Person]) {
    let scans: Vec<Value> = people
        .iter()
        .enumerate()
        .filter(|(_, p)| p.visit == "v1")
        .take(BATCH)
        .enumerate()
        .map(|(i, (n, p))| {
            json!({"code": p.code, "list": "visit:v1", "direction": "in",
                "scanned_at": format!("2030-06-02T12:{:02}:{:02}+02:00", i / 60 % 60, i % 60),
                "nonce": format!("offline-{n:06}"), "device": "coach A"})
        })
        .collect();
    assert_eq!(scans.len(), BATCH, "visit 1 seats enough people");
    let body = json!({ "scans": scans });
    println!(
        "\n{:<52} {:>10} {:>12} {:>10} {:>10}",
        "offline batch of 1,000 scans (visit:v1)", "time", "checked in", "conflicts", "replayed"
    );
    for what in ["first upload", "same batch again (all replays)"] {
        let started = Instant::now();
        let answer: Value = agent
            .post(&format!("{base}/api/v1/events/big/checkins/batch"))
            .set("Authorization", bearer)
            .send_json(&body)
            .expect("the batch is answered")
            .into_json()
            .expect("a JSON answer");
        let elapsed = started.elapsed();
        println!(
            "{what:<52} {:>10.1?} {:>12} {:>10} {:>10}",
            elapsed,
            answer["checked_in"].as_u64().unwrap_or_default(),
            answer["conflicts"].as_u64().unwrap_or_default(),
            answer["replayed"].as_u64().unwrap_or_default()
        );
    }
}

/// The entrance list's roster (everyone): downloads, its size, and the refresh that
/// names the tag it holds (304).
fn download_roster(agent: &ureq::Agent, base: &str, bearer: &str) {
    let url = format!("{base}/api/v1/events/big/checkin-lists/entry/roster");
    let mut times = Vec::with_capacity(ROSTER_RUNS);
    let (mut size, mut tag, mut people) = (0, String::new(), 0);
    for _ in 0..ROSTER_RUNS {
        let started = Instant::now();
        let answer = agent
            .get(&url)
            .set("Authorization", bearer)
            .call()
            .expect("the roster");
        tag = answer.header("etag").unwrap_or_default().to_owned();
        let body = answer.into_string().expect("a body");
        times.push(started.elapsed());
        size = body.len();
        people = serde_json::from_str::<Value>(&body).expect("JSON")["people"]
            .as_array()
            .map_or(0, Vec::len);
    }
    let mut refreshes = Vec::with_capacity(ROSTER_RUNS);
    for _ in 0..ROSTER_RUNS {
        let started = Instant::now();
        let answer = agent
            .get(&url)
            .set("Authorization", bearer)
            .set("If-None-Match", &tag)
            .call()
            .expect("the refresh");
        assert_eq!(answer.status(), 304, "the roster did not change");
        refreshes.push(started.elapsed());
    }
    let first = times[0];
    times.sort_unstable();
    refreshes.sort_unstable();
    println!(
        "\n{:<52} {:>10} {:>10} {:>10} {:>10}",
        "offline roster of the entrance list", "people", "KiB", "median", "max"
    );
    println!(
        "{:<52} {people:>10} {:>10.0} {:>10.1?} {:>10.1?}",
        format!("download ({ROSTER_RUNS} times; the first {first:.1?})"),
        size as f64 / 1024.0,
        times[ROSTER_RUNS / 2],
        times[ROSTER_RUNS - 1]
    );
    println!(
        "{:<52} {:>10} {:>10} {:>10.1?} {:>10.1?}",
        "If-None-Match → 304",
        "",
        "",
        refreshes[ROSTER_RUNS / 2],
        refreshes[ROSTER_RUNS - 1]
    );
}
