//! The minimal-writes baseline: the writes one registration needs and nothing more, with
//! the server's durability and concurrency, no HTTP and no rallypoint logic. Per
//! registration: the registration row, its ranking rows, the seat claim (the conditional
//! `UPDATE … WHERE assigned < capacity` of the first choice), the seat row and the outbox
//! row. `scripts/bench-registration.sh` runs it beside the server, at the same number of
//! connections, and prints the server's rate as a ratio of it.
//!
//! ```sh
//! cargo bench --bench registration_baseline                      # SQLite (a temporary file)
//! RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench registration_baseline                  # and PostgreSQL (own database)
//! cargo bench --bench registration_baseline -- --backend sqlite --clients 8 --seconds 5 --load friendly
//! ```
//!
//! What it shares with the server, so that the ratio is the cost of the server's own work:
//! - the schema: a fresh database with the server's migrations, then every trigger dropped
//!   (all of them keep the counters); tables, indexes and foreign keys stay the server's;
//! - the connection settings (`db::establish`): on SQLite WAL, `synchronous = FULL` and
//!   `temp_store = MEMORY`; on PostgreSQL the database's own `synchronous_commit`, which
//!   the server leaves as it is;
//! - the concurrency: `--clients` registrations in flight, each client waiting for its
//!   answer before it sends the next, as wrk's connections do. On SQLite one writer
//!   thread commits whatever is queued in one `BEGIN IMMEDIATE` transaction, each
//!   registration in a savepoint, up to the server's batch size (the server's group
//!   commit); on PostgreSQL as many connections as the server's pool (`database.pool_size`
//!   default), one transaction per registration;
//! - the load of `scripts/register.lua`: `realistic` ranks three distinct visits in one of
//!   their six orders and cycles through 20 countries; `friendly` ranks one visit (in
//!   turn) from one country. Emails are unique; every visit has room.
//!
//! What it leaves out: the event lookup, the manage token, the registration's view and
//! anything read; the outbox payload is a JSON document of the server's shape, not
//! rendered from the database. On PostgreSQL the five writes are one statement committed
//! on its own (one round trip; the server makes five); on SQLite they are prepared
//! single-row statements, as the server's are.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use clap::{Parser, ValueEnum};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel_migrations::MigrationHarness;
use rallypoint::db::schema::{
    events, outbox_emails, registration_preferences, registrations, seat_assignments, site_visits,
};
use rallypoint::db::{establish, DbConnection, DbOptions, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use sha2::{Digest, Sha256};

mod support;
use support::{postgres_admin_url, BenchDatabase};

/// The countries of the realistic load, in the order `scripts/register.lua` cycles them.
const COUNTRIES: [&str; 20] = [
    "BE", "IT", "PT", "PL", "DE", "FR", "ES", "NL", "AT", "SE", "DK", "FI", "IE", "CZ", "HU", "RO", "BG",
    "GR", "SK", "SI",
];

/// The demo event's visits (`config/events/`), as the benchmark's event has them.
const VISIT_SLUGS: [&str; 3] = [
    "aperam-chatelet",
    "biopark-charleroi",
    "district-cleantech-porte-ouest",
];

/// The orders in which the realistic load ranks the three visits, in turn.
const RANKINGS: [[usize; 3]; 6] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];

/// The friendly load's one choice, in turn.
const SINGLE: [[usize; 1]; 3] = [[0], [1], [2]];

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Load {
    /// Three ranked visits in varied orders, 20 countries.
    Realistic,
    /// One visit (in turn), one country: the benchmark's load before issue 15.
    Friendly,
}

impl Load {
    /// Registration `n`'s country and ranking (indexes into the visits, best first), in
    /// the same cycle as `scripts/register.lua`.
    fn choices(self, n: u64) -> (&'static str, &'static [usize]) {
        match self {
            Load::Realistic => (COUNTRIES[(n % 20) as usize], &RANKINGS[((n / 20) % 6) as usize]),
            Load::Friendly => ("BE", &SINGLE[(n % 3) as usize]),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Parser, Debug)]
#[command(about = "The minimal-writes registration baseline")]
struct Args {
    /// One backend; without it SQLite, then PostgreSQL when RALLYPOINT_BENCH_POSTGRES_URL is set.
    #[arg(long, value_enum)]
    backend: Option<Backend>,
    /// Registrations in flight (wrk's connections).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, value_enum, default_value = "realistic")]
    load: Load,
}

#[derive(QueryableByName)]
struct Trigger {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    tbl: String,
}

/// The server's schema without its triggers (all of them maintain the counters, which
/// are not part of the minimal writes); returns how many were dropped.
fn migrate_and_drop_triggers(conn: &mut DbConnection) -> usize {
    let triggers: Vec<Trigger> = match conn {
        DbConnection::Sqlite(raw) => {
            raw.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
            diesel::sql_query("SELECT name, tbl_name AS tbl FROM sqlite_master WHERE type = 'trigger'")
                .load(raw)
                .unwrap()
        }
        DbConnection::Postgres(raw) => {
            raw.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
            diesel::sql_query(
                "SELECT tgname::text AS name, tgrelid::regclass::text AS tbl FROM pg_trigger \
                 WHERE NOT tgisinternal",
            )
            .load(raw)
            .unwrap()
        }
    };
    for trigger in &triggers {
        let on = if matches!(conn, DbConnection::Postgres(_)) {
            format!(" ON {}", trigger.tbl)
        } else {
            String::new()
        };
        conn.batch_execute(&format!("DROP TRIGGER \"{}\"{on}", trigger.name))
            .unwrap();
    }
    triggers.len()
}

/// The event with the demo event's three visits, each with room for every registration.
fn create_event(conn: &mut DbConnection) -> (String, Vec<String>) {
    let now = rallypoint::db::now();
    let event = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(events::table)
        .values((
            events::id.eq(&event),
            events::slug.eq("baseline"),
            events::name.eq("Baseline"),
            events::timezone.eq("Europe/Brussels"),
            events::starts_on.eq(now.date()),
            events::ends_on.eq(now.date()),
            events::assignment_mode.eq("first_come"),
            events::max_preferences.eq(3),
            events::created_at.eq(now),
            events::updated_at.eq(now),
        ))
        .execute(conn)
        .unwrap();
    let visits = VISIT_SLUGS
        .iter()
        .enumerate()
        .map(|(position, slug)| {
            let id = uuid::Uuid::now_v7().to_string();
            diesel::insert_into(site_visits::table)
                .values((
                    site_visits::id.eq(&id),
                    site_visits::event_id.eq(&event),
                    site_visits::slug.eq(slug),
                    site_visits::name.eq(slug),
                    site_visits::starts_at.eq(now),
                    site_visits::ends_at.eq(now + chrono::Duration::hours(3)),
                    site_visits::capacity.eq(100_000_000),
                    site_visits::position.eq(position as i32),
                    site_visits::created_at.eq(now),
                    site_visits::updated_at.eq(now),
                ))
                .execute(conn)
                .unwrap();
            id
        })
        .collect();
    (event, visits)
}

/// One registration's values, made by its client before it is queued (the server makes
/// them from the request in the same way).
struct Registration {
    id: String,
    email: String,
    country: &'static str,
    /// Visit ids, best first.
    ranking: Vec<String>,
    token_hash: String,
    outbox_id: String,
    payload: String,
    now: NaiveDateTime,
}

impl Registration {
    fn new(n: u64, load: Load, visits: &[String]) -> Self {
        let (country, ranking) = load.choices(n);
        let id = uuid::Uuid::now_v7().to_string();
        let email = format!("baseline-{n}@bench.example");
        let first = ranking[0];
        // The server's `EmailData` for a seated registration of the benchmark's event:
        // the same keys and values, so the same size (about 600 bytes).
        let payload = serde_json::json!({
            "kind": "registered", "reason": null, "registration_id": id, "language": "en",
            "event": {"slug": "bench", "name": "Bench", "venue": "", "contact_email": "",
                "timezone": "Europe/Brussels"},
            "first_name": "Load", "last_name": "Tester", "email": email, "status": "confirmed",
            "event_waitlist_position": null,
            "seat": {"slug": VISIT_SLUGS[first], "name": VISIT_SLUGS[first], "location": "",
                "meeting_point": "", "starts_at": "2030-01-02T13:30:00+01:00",
                "ends_at": "2030-01-02T17:00:00+01:00", "status": "assigned", "waitlist_position": null},
            "previous_visit": null, "calendar": {"action": "request", "sequence": 0},
        })
        .to_string();
        Self {
            token_hash: hex::encode(Sha256::digest(id.as_bytes())),
            outbox_id: uuid::Uuid::now_v7().to_string(),
            ranking: ranking.iter().map(|&i| visits[i].clone()).collect(),
            id,
            email,
            country,
            payload,
            now: rallypoint::db::now(),
        }
    }
}

/// The seat claim, as the server's (`store::site_visits::TakeSeat`): hand-written so that
/// diesel keeps it prepared.
struct TakeSeat<'a> {
    visit: &'a str,
}

impl QueryId for TakeSeat<'_> {
    type QueryId = TakeSeat<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn> RunQueryDsl<Conn> for TakeSeat<'_> {}

impl QueryFragment<Sqlite> for TakeSeat<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("UPDATE site_visits SET assigned = assigned + 1 WHERE id = ");
        out.push_bind_param::<Text, _>(self.visit)?;
        out.push_sql(" AND assigned < capacity AND NOT frozen");
        Ok(())
    }
}

/// SQLite: one prepared single-row statement per write, as the server's.
fn write_sqlite(conn: &mut SqliteConnection, event: &str, r: &Registration) -> QueryResult<()> {
    diesel::insert_into(registrations::table)
        .values((
            registrations::id.eq(&r.id),
            registrations::event_id.eq(event),
            registrations::first_name.eq("Load"),
            registrations::last_name.eq("Tester"),
            registrations::email.eq(&r.email),
            registrations::email_normalized.eq(&r.email),
            registrations::organisation.eq("Bench"),
            registrations::country.eq(r.country),
            registrations::job_title.eq(None::<&str>),
            registrations::dietary.eq(None::<&str>),
            registrations::status.eq("confirmed"),
            registrations::manage_token_hash.eq(&r.token_hash),
            registrations::consent_at.eq(r.now),
            registrations::created_at.eq(r.now),
            registrations::updated_at.eq(r.now),
            registrations::language.eq("en"),
        ))
        .execute(conn)?;
    for (rank, visit) in r.ranking.iter().enumerate() {
        diesel::insert_into(registration_preferences::table)
            .values((
                registration_preferences::registration_id.eq(&r.id),
                registration_preferences::rank.eq(rank as i32 + 1),
                registration_preferences::site_visit_id.eq(visit),
            ))
            .execute(conn)?;
    }
    if (TakeSeat { visit: &r.ranking[0] }).execute(conn)? == 1 {
        diesel::insert_into(seat_assignments::table)
            .values((
                seat_assignments::registration_id.eq(&r.id),
                seat_assignments::site_visit_id.eq(&r.ranking[0]),
                seat_assignments::assigned_at.eq(r.now),
            ))
            .execute(conn)?;
    }
    diesel::insert_into(outbox_emails::table)
        .values((
            outbox_emails::id.eq(&r.outbox_id),
            outbox_emails::event_id.eq(event),
            outbox_emails::registration_id.eq(Some(&r.id)),
            outbox_emails::kind.eq("registered"),
            outbox_emails::recipient.eq(&r.email),
            outbox_emails::payload.eq(&r.payload),
            outbox_emails::status.eq("pending"),
            outbox_emails::attempts.eq(0),
            outbox_emails::next_attempt_at.eq(r.now),
            outbox_emails::created_at.eq(r.now),
        ))
        .execute(conn)?;
    Ok(())
}

/// PostgreSQL: the five writes in one statement (each statement is a round trip there),
/// with the seat claimed as the server claims it.
/// Pushes `sql` with each `?` replaced by the next bind parameter (as `store` does).
macro_rules! sql_with_binds {
    ($out:ident, $sql:expr; $($ty:ty => $value:expr),* $(,)?) => {{
        let mut parts = $sql.split('?');
        $out.push_sql(parts.next().unwrap_or_default());
        $(
            $out.push_bind_param::<$ty, _>($value)?;
            $out.push_sql(parts.next().unwrap_or_default());
        )*
        assert!(parts.next().is_none(), "one bind per placeholder");
    }};
}

const REGISTER_PG: &str = "WITH registration AS (
    INSERT INTO registrations (id, event_id, first_name, last_name, email, email_normalized,
        organisation, country, job_title, dietary, status, manage_token_hash, consent_at,
        created_at, updated_at, language)
    VALUES (?, ?, 'Load', 'Tester', ?, ?, 'Bench', ?, NULL, NULL, 'confirmed', ?, ?, ?, ?, 'en')
    RETURNING id
), ranking AS (
    INSERT INTO registration_preferences (registration_id, rank, site_visit_id)
    SELECT registration.id, CAST(p.rank AS INTEGER), p.visit
    FROM registration, unnest(CAST(? AS TEXT[])) WITH ORDINALITY AS p (visit, rank)
), seat AS (
    UPDATE site_visits SET assigned = assigned + 1
    WHERE id = ? AND assigned < capacity AND NOT frozen
    RETURNING id
), seat_row AS (
    INSERT INTO seat_assignments (registration_id, site_visit_id, assigned_at)
    SELECT registration.id, seat.id, ? FROM registration, seat
)
INSERT INTO outbox_emails (id, event_id, registration_id, kind, recipient, payload, status,
    attempts, next_attempt_at, created_at)
SELECT ?, ?, registration.id, 'registered', ?, ?, 'pending', 0, ?, ? FROM registration";

struct RegisterPg<'a> {
    event: &'a str,
    r: &'a Registration,
}

impl QueryId for RegisterPg<'_> {
    type QueryId = RegisterPg<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn> RunQueryDsl<Conn> for RegisterPg<'_> {}

impl QueryFragment<Pg> for RegisterPg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let r = self.r;
        sql_with_binds!(out, REGISTER_PG;
            Text => &r.id, Text => self.event, Text => &r.email, Text => &r.email,
            Text => r.country, Text => &r.token_hash,
            Timestamp => &r.now, Timestamp => &r.now, Timestamp => &r.now,
            Array<Text> => &r.ranking,
            Text => &r.ranking[0],
            Timestamp => &r.now,
            Text => &r.outbox_id, Text => self.event, Text => &r.email, Text => &r.payload,
            Timestamp => &r.now, Timestamp => &r.now,
        );
        Ok(())
    }
}

/// A registration queued for the database side, and where its outcome goes.
struct Job {
    registration: Registration,
    answer: SyncSender<QueryResult<()>>,
}

/// The server's SQLite writer, reduced to the writes: takes everything queued (up to
/// `max_batch`), runs each registration in a savepoint of one `BEGIN IMMEDIATE`
/// transaction, commits once, then answers every client.
fn sqlite_writer(mut conn: SqliteConnection, event: &str, jobs: &Mutex<Receiver<Job>>, max_batch: usize) {
    let jobs = jobs.lock().unwrap(); // the only reader
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        AnsiTransactionManager::begin_transaction_sql(&mut conn, "BEGIN IMMEDIATE").unwrap();
        let outcomes: Vec<_> = batch
            .iter()
            .map(|job| conn.transaction(|conn| write_sqlite(conn, event, &job.registration)))
            .collect();
        AnsiTransactionManager::commit_transaction(&mut conn).expect("the group commit");
        for (job, outcome) in batch.into_iter().zip(outcomes) {
            let _ = job.answer.send(outcome);
        }
    }
}

/// One of the server's pooled PostgreSQL connections: one registration at a time, each
/// its own transaction.
fn postgres_worker(mut conn: PgConnection, event: &str, jobs: &Mutex<Receiver<Job>>) {
    loop {
        let Ok(job) = jobs.lock().unwrap().recv() else {
            return;
        };
        let outcome = RegisterPg {
            event,
            r: &job.registration,
        }
        .execute(&mut conn)
        .map(drop);
        let _ = job.answer.send(outcome);
    }
}

/// One client: registration after registration until the time is up, each waited for;
/// returns how long each took, from queueing to the answer after its commit.
fn client(
    jobs: SyncSender<Job>,
    until: Instant,
    next: &AtomicU64,
    make: impl Fn(u64) -> Registration,
) -> Vec<Duration> {
    let (answer, outcome) = mpsc::sync_channel(1);
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let registration = make(next.fetch_add(1, Ordering::Relaxed));
        let queued = Instant::now();
        jobs.send(Job {
            registration,
            answer: answer.clone(),
        })
        .expect("the database side runs");
        outcome
            .recv()
            .expect("an answer")
            .expect("the registration's writes");
        latencies.push(queued.elapsed());
    }
    latencies
}

fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let query = diesel::sql_query(format!("SELECT CAST(({sql}) AS BIGINT) AS n"));
    let rows: Vec<Count> = match conn {
        DbConnection::Sqlite(raw) => query.load(raw),
        DbConnection::Postgres(raw) => query.load(raw),
    }
    .unwrap();
    rows[0].n
}

fn run(backend: Backend, args: &Args) {
    let target = BenchDatabase::create("rp_baseline", backend == Backend::Postgres);
    let options = DbOptions::default();
    let mut conn = establish(&target.url, &options, false).unwrap();
    let dropped = migrate_and_drop_triggers(&mut conn);
    let (event, visits) = create_event(&mut conn);
    let durability = match backend {
        Backend::Sqlite => format!(
            "WAL, synchronous = {}, group commit of up to {} in one writer",
            options.sqlite_synchronous, options.max_batch
        ),
        Backend::Postgres => format!(
            "synchronous_commit = {} (the database's default, as the server leaves it), {} connections",
            show_synchronous_commit(&mut conn),
            options.pool_size
        ),
    };

    // The database side: the one SQLite writer, or the pool's PostgreSQL connections.
    let writers = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => options.pool_size.max(1),
    };
    let writers: Vec<_> = (0..writers)
        .map(|_| establish(&target.url, &options, false).unwrap())
        .collect();
    let next = AtomicU64::new(0);
    let (jobs, queue) = mpsc::sync_channel::<Job>(args.clients);
    let queue = Mutex::new(queue);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        for writer in writers {
            let (event, queue) = (&event, &queue);
            match writer {
                DbConnection::Sqlite(raw) => {
                    scope.spawn(move || sqlite_writer(raw, event, queue, options.max_batch.max(1)))
                }
                DbConnection::Postgres(raw) => scope.spawn(move || postgres_worker(raw, event, queue)),
            };
        }
        let clients: Vec<_> = (0..args.clients)
            .map(|_| {
                let (jobs, next, visits) = (jobs.clone(), &next, &visits);
                scope.spawn(move || client(jobs, until, next, |n| Registration::new(n, args.load, visits)))
            })
            .collect();
        drop(jobs);
        clients
            .into_iter()
            .flat_map(|client| client.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();

    // The writes really happened, once each.
    let total = latencies.len() as i64;
    let ranks = args.load.choices(0).1.len() as i64;
    let rows = [
        count(&mut conn, "SELECT count(*) FROM registrations"),
        count(&mut conn, "SELECT count(*) FROM registration_preferences"),
        count(&mut conn, "SELECT count(*) FROM seat_assignments"),
        count(&mut conn, "SELECT sum(assigned) FROM site_visits"),
        count(&mut conn, "SELECT count(*) FROM outbox_emails"),
    ];
    assert_eq!(rows, [total, ranks * total, total, total, total], "rows written");

    latencies.sort_unstable();
    let quantile = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        latencies.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let load = match args.load {
        Load::Realistic => "realistic",
        Load::Friendly => "friendly",
    };
    println!(
        "baseline {name} clients={} load={load}: {total} registrations in {elapsed:.1} s = {:.0} registrations/s, p50 {:.2} ms, p99 {:.2} ms",
        args.clients,
        total as f64 / elapsed,
        quantile(0.50),
        quantile(0.99),
    );
    println!(
        "  per registration: its row, {ranks} ranking row(s), the seat claim, the seat row, the outbox row (counted after the run)"
    );
    println!("  schema: the server's migrations less their {dropped} triggers (the counters'); {durability}");
    println!(
        "rerun: {}cargo bench --bench registration_baseline -- --backend {name} --clients {} --seconds {} --load {load}",
        if backend == Backend::Postgres {
            "RALLYPOINT_BENCH_POSTGRES_URL=… "
        } else {
            ""
        },
        args.clients,
        args.seconds,
    );
}

fn show_synchronous_commit(conn: &mut DbConnection) -> String {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        synchronous_commit: String,
    }
    let DbConnection::Postgres(raw) = conn else {
        unreachable!()
    };
    let rows: Vec<Setting> = diesel::sql_query("SHOW synchronous_commit").load(raw).unwrap();
    rows[0].synchronous_commit.clone()
}

fn main() {
    // `cargo bench` passes `--bench` to every bench binary.
    let args = Args::parse_from(std::env::args().filter(|a| a != "--bench"));
    let backends = match args.backend {
        Some(backend) => vec![backend],
        None if postgres_admin_url().is_some() => vec![Backend::Sqlite, Backend::Postgres],
        None => vec![Backend::Sqlite],
    };
    for backend in backends {
        run(backend, &args);
    }
}
