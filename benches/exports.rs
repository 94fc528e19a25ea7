//! Exports at scale: counts over an event of 1,000,000 registrations (and over an event
//! of 2,000 in the same database), read from the maintained counters and checked against
//! the aggregation from the rows (timed once, for comparison), and that event's attendee
//! CSV streamed through the real HTTP server, with the growth of the process's peak
//! memory while it streams. The fill's time includes the counters' triggers.
//!
//! ```sh
//! cargo bench --bench exports                                   # SQLite (a temporary file)
//! RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench exports                               # PostgreSQL (own database)
//! ```
//!
//! The data is written with bulk `INSERT … SELECT` in one transaction, not through the
//! API: 20 visits of 10,000 seats, 90% of people ranking one to three visits, 2%
//! cancelled, 20 countries; the first ~200,000 hold a seat in their first choice.

use std::io::Read;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use rallypoint::db::DatabaseUrl;
use rallypoint::domain::access::{create_api_token, Role};
use rallypoint::domain::exports::{self, CountsBy};
use rallypoint::domain::now;
use rallypoint::startup;

mod support;
use support::{BenchDatabase, Server};

const PEOPLE: i64 = 1_000_000;
const SMALL: i64 = 2_000;
const RUNS: usize = 5;

fn main() {
    let target = BenchDatabase::from_env("rp_bench");
    let settings = target.server_settings();
    let db = startup::connect_and_migrate(&settings).expect("the database migrates");
    let started = Instant::now();
    fill(&target.url_text());
    println!(
        "{}: filled {PEOPLE} + {SMALL} registrations in {:.1?}",
        target.name(),
        started.elapsed()
    );

    for (event, people) in [("big", PEOPLE), ("small", SMALL)] {
        for by in [CountsBy::Country, CountsBy::SiteVisit] {
            let mut times: Vec<Duration> = (0..RUNS)
                .map(|_| {
                    let started = Instant::now();
                    db.read_blocking(|conn| exports::counts(conn, event, by, now()))
                        .expect("counts");
                    started.elapsed()
                })
                .collect();
            times.sort();
            // The read-time aggregation the counters replaced: timed once, and the
            // counters (filled by the triggers during the bulk insert) must equal it.
            let started = Instant::now();
            let from_rows = db
                .read_blocking(|conn| exports::counts_from_rows(conn, event, by, now()))
                .expect("counts from the rows");
            let from_rows_time = started.elapsed();
            let counters = db
                .read_blocking(|conn| exports::counts(conn, event, by, now()))
                .expect("counts");
            assert_eq!(counters, from_rows, "the counters differ from the rows");
            println!(
                "counts by {:<10} event of {people:>9}: median {:>8.1?}, best {:>8.1?} ({RUNS} runs); \
                 aggregated from the rows {:>8.1?} (equal)",
                by.as_str(),
                times[RUNS / 2],
                times[0],
                from_rows_time
            );
        }
    }

    let server = Server::start(settings);
    let token = db
        .write_blocking(|conn| create_api_token(conn, Role::Admin, "bench", now()))
        .expect("a token");
    let baseline = memory_kib("VmRSS:");
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let response = ureq::get(&format!(
        "http://{}/api/v1/events/big/exports/attendees",
        server.address
    ))
    .set("Authorization", &format!("Bearer {token}"))
    .call()
    .expect("the export answers");
    let (bytes, lines) = drain(response.into_reader());
    let elapsed = started.elapsed();
    let peak = memory_kib("VmHWM:");
    println!(
        "attendee CSV: {lines} lines, {} MiB in {elapsed:.1?}; peak RSS {} MiB over {} MiB before ({} MiB growth{})",
        bytes / (1024 * 1024),
        peak / 1024,
        baseline / 1024,
        peak.saturating_sub(baseline) / 1024,
        if reset { "" } else { "; peak mark not reset, whole process" }
    );
    server.stop();
    println!("\nrerun with: cargo bench --bench exports (RALLYPOINT_BENCH_POSTGRES_URL=… for PostgreSQL)");
}

/// Reads the body in small pieces, as a client saving it to disk would.
fn drain(mut body: impl Read) -> (u64, u64) {
    let mut buffer = vec![0u8; 64 * 1024];
    let (mut bytes, mut lines) = (0u64, 0u64);
    loop {
        let n = body.read(&mut buffer).expect("the body reads");
        if n == 0 {
            return (bytes, lines);
        }
        bytes += n as u64;
        lines += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
}

/// A line of /proc/self/status, in KiB.
fn memory_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with(key))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// What differs between the backends' SQL; `i` is a registration's number.
struct Dialect {
    /// A CTE `n(i)` of the numbers 0..count.
    numbers: fn(i64) -> String,
    /// Registration `i`'s id in an event.
    id: fn(&str) -> String,
    /// A visit number as a visit id suffix (`v07`).
    visit: fn(&str) -> String,
    /// Registration `i`'s time: one a second from 2030-01-01.
    at: &'static str,
    after_fill: &'static str,
}

const SQLITE: Dialect = Dialect {
    numbers: |count| {
        format!("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {count} - 1)")
    },
    id: |event| format!("printf('{event}-%08d', i)"),
    visit: |n| format!("printf('v%02d', {n})"),
    at: "datetime('2030-01-01', '+' || i || ' seconds')",
    // Registrations written in bulk are counted when their notes are settled (migration
    // `2024-11-11-000000_counts_pending`).
    after_fill: "DELETE FROM registration_counts_pending; ANALYZE;",
};

const POSTGRES: Dialect = Dialect {
    numbers: |count| format!("WITH n(i) AS (SELECT generate_series(0, {count} - 1))"),
    id: |event| format!("'{event}-' || lpad(i::text, 8, '0')"),
    visit: |n| format!("'v' || lpad(({n})::text, 2, '0')"),
    at: "timestamp '2030-01-01' + i * interval '1 second'",
    after_fill: "VACUUM ANALYZE;",
};

/// Runs a batch of SQL on a connection of its own (no statement timeout).
type Execute = Box<dyn FnMut(&str)>;

fn fill(url: &str) {
    let (dialect, mut conn): (&Dialect, Execute) = match DatabaseUrl::parse(url).unwrap() {
        DatabaseUrl::Sqlite(path) => {
            let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
            (&SQLITE, Box::new(move |sql| conn.batch_execute(sql).unwrap()))
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn = diesel::PgConnection::establish(&url).unwrap();
            (&POSTGRES, Box::new(move |sql| conn.batch_execute(sql).unwrap()))
        }
    };
    let t0 = "'2030-01-01 00:00:00'";
    let mut sql = format!(
        "BEGIN;
         INSERT INTO events (id, slug, name, timezone, starts_on, ends_on, assignment_mode, created_at, updated_at)
         VALUES ('big', 'big', 'Big', 'Europe/Brussels', '2030-06-01', '2030-06-02', 'first_come', {t0}, {t0}),
                ('small', 'small', 'Small', 'Europe/Brussels', '2030-06-01', '2030-06-02', 'first_come', {t0}, {t0});
         {numbers20} INSERT INTO site_visits (id, event_id, slug, name, starts_at, ends_at, capacity, assigned,
             position, created_at, updated_at)
         SELECT e.id || '-' || {visit_i}, e.id, 'visit-' || i, 'Visit ' || i, '2030-06-02 11:00:00',
             '2030-06-02 15:00:00', 10000, 0, i, {t0}, {t0} FROM n, events e;",
        numbers20 = (dialect.numbers)(20),
        visit_i = (dialect.visit)("i"),
    );
    for (event, count) in [("big", PEOPLE), ("small", SMALL)] {
        let id = (dialect.id)(event);
        let numbers = (dialect.numbers)(count);
        let at = dialect.at;
        let country = "substr('BEITPTPLDEFRESNLATSEDKFIIECZHUROBGGRSKSI', 1 + 2 * (i % 20), 2)";
        let has_ranks = "(i / 20) % 10 <> 0";
        sql += &format!(
            "{numbers} INSERT INTO registrations (id, event_id, first_name, last_name, email, email_normalized,
                 organisation, country, status, manage_token_hash, consent_at, created_at, updated_at, cancelled_at)
             SELECT {id}, '{event}', 'First' || i, 'Last' || i, '{event}' || i || '@example.org',
                 '{event}' || i || '@example.org', 'Organisation ' || (i % 1000), {country},
                 CASE WHEN i % 50 = 7 THEN 'cancelled' ELSE 'confirmed' END, {id} || '-hash', {at}, {at}, {at},
                 CASE WHEN i % 50 = 7 THEN {at} END
             FROM n;
             {numbers} INSERT INTO registration_preferences (registration_id, rank, site_visit_id)
             SELECT {id}, 1, '{event}-' || {first} FROM n WHERE {has_ranks};
             {numbers} INSERT INTO registration_preferences (registration_id, rank, site_visit_id)
             SELECT {id}, 2, '{event}-' || {second} FROM n WHERE {has_ranks} AND i % 3 <> 0;
             {numbers} INSERT INTO registration_preferences (registration_id, rank, site_visit_id)
             SELECT {id}, 3, '{event}-' || {third} FROM n WHERE {has_ranks} AND i % 3 = 2;
             {numbers} INSERT INTO seat_assignments (registration_id, site_visit_id, assigned_at)
             SELECT {id}, '{event}-' || {first}, {at} FROM n WHERE {has_ranks} AND i % 50 <> 7 AND i < {seated};",
            first = (dialect.visit)("i % 20"),
            second = (dialect.visit)("(i + 7) % 20"),
            third = (dialect.visit)("(i + 13) % 20"),
            seated = count / 5,
        );
    }
    sql += "UPDATE site_visits SET assigned = (SELECT count(*) FROM seat_assignments s
                WHERE s.site_visit_id = site_visits.id);
            COMMIT;";
    conn(&sql);
    conn(dialect.after_fill);
}
