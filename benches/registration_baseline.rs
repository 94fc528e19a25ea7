//! The limit of the database underneath: the writes of one registration (registration
//! row, ranking row, conditional seat update, seat row, outbox row), one transaction per
//! registration, straight through diesel with the server's connection settings
//! (`PRAGMA synchronous = FULL` and WAL on SQLite), no HTTP and no rallypoint logic.
//!
//! cargo bench --bench registration_baseline -- URL THREADS SECONDS
//!
//! URL is a migrated database (a SQLite path or postgres://…); it prints registrations/s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use rallypoint::db::schema::{
    events, outbox_emails, registration_preferences, registrations, seat_assignments, site_visits,
};
use rallypoint::db::{establish, DatabaseUrl, DbConnection, DbOptions};
use rallypoint::store::site_visits as visit_store;

fn setup(conn: &mut DbConnection) -> Vec<String> {
    let now = Utc::now().naive_utc();
    let event = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(events::table)
        .values((
            events::id.eq(&event),
            events::slug.eq(format!("baseline-{event}")),
            events::name.eq("Baseline"),
            events::timezone.eq("UTC"),
            events::starts_on.eq(now.date()),
            events::ends_on.eq(now.date()),
            events::assignment_mode.eq("first_come"),
            events::created_at.eq(now),
            events::updated_at.eq(now),
        ))
        .execute(conn)
        .unwrap();
    (0..3)
        .map(|i| {
            let id = uuid::Uuid::now_v7().to_string();
            diesel::insert_into(site_visits::table)
                .values((
                    site_visits::id.eq(&id),
                    site_visits::event_id.eq(&event),
                    site_visits::slug.eq(format!("visit-{i}")),
                    site_visits::name.eq("Visit"),
                    site_visits::starts_at.eq(now),
                    site_visits::ends_at.eq(now + chrono::Duration::hours(2)),
                    site_visits::capacity.eq(10_000_000),
                    site_visits::created_at.eq(now),
                    site_visits::updated_at.eq(now),
                ))
                .execute(conn)
                .unwrap();
            id
        })
        .collect()
}

fn register_once(conn: &mut DbConnection, event: &str, visit: &str, n: u64) -> QueryResult<()> {
    let now = Utc::now().naive_utc();
    let id = uuid::Uuid::now_v7().to_string();
    let email = format!("baseline-{id}-{n}@bench.example");
    diesel::insert_into(registrations::table)
        .values((
            registrations::id.eq(&id),
            registrations::event_id.eq(event),
            registrations::first_name.eq("Base"),
            registrations::last_name.eq("Line"),
            registrations::email.eq(&email),
            registrations::email_normalized.eq(&email),
            registrations::organisation.eq("Bench"),
            registrations::country.eq("BE"),
            registrations::status.eq("confirmed"),
            registrations::manage_token_hash.eq(&id),
            registrations::consent_at.eq(now),
            registrations::created_at.eq(now),
            registrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::insert_into(registration_preferences::table)
        .values((
            registration_preferences::registration_id.eq(&id),
            registration_preferences::rank.eq(1),
            registration_preferences::site_visit_id.eq(visit),
        ))
        .execute(conn)?;
    // The server's own conditional update: diesel prepares its `UPDATE`s again on every
    // run, and the baseline should be the database's limit, not diesel's.
    visit_store::try_take_seat(conn, visit, true)?;
    diesel::insert_into(seat_assignments::table)
        .values((
            seat_assignments::registration_id.eq(&id),
            seat_assignments::site_visit_id.eq(visit),
            seat_assignments::assigned_at.eq(now),
        ))
        .execute(conn)?;
    diesel::insert_into(outbox_emails::table)
        .values((
            outbox_emails::id.eq(uuid::Uuid::now_v7().to_string()),
            outbox_emails::event_id.eq(event),
            outbox_emails::registration_id.eq(&id),
            outbox_emails::kind.eq("registered"),
            outbox_emails::recipient.eq(&email),
            outbox_emails::payload.eq("{}"),
            outbox_emails::status.eq("pending"),
            outbox_emails::next_attempt_at.eq(now),
            outbox_emails::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// One transaction per registration; on SQLite it takes the write lock up front, as the
/// server's writer does.
fn transaction(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> QueryResult<()>,
) -> QueryResult<()> {
    match conn {
        DbConnection::Sqlite(raw) => AnsiTransactionManager::begin_transaction_sql(raw, "BEGIN IMMEDIATE")?,
        DbConnection::Postgres(_) => {
            <DbConnection as TransactionManager<DbConnection>>::begin_transaction(conn)?
        }
    }
    match work(conn) {
        Ok(()) => <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn),
        Err(error) => {
            <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn)?;
            Err(error)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [url, threads, seconds] = args.as_slice() else {
        eprintln!("usage: cargo bench --bench registration_baseline -- URL THREADS SECONDS");
        std::process::exit(2);
    };
    let url = DatabaseUrl::parse(url).unwrap();
    let threads: usize = threads.parse().unwrap();
    let duration = Duration::from_secs(seconds.parse().unwrap());
    let options = DbOptions::default();
    let mut conn = establish(&url, &options, false).unwrap();
    let visits = Arc::new(setup(&mut conn));
    let event: String = site_visits::table
        .find(&visits[0])
        .select(site_visits::event_id)
        .first(&mut conn)
        .unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (url, options, visits, event, done) = (
                url.clone(),
                options.clone(),
                visits.clone(),
                event.clone(),
                done.clone(),
            );
            std::thread::spawn(move || {
                let mut conn = establish(&url, &options, false).unwrap();
                let mut n = t as u64 * 1_000_000_000;
                while started.elapsed() < duration {
                    n += 1;
                    let visit = &visits[(n % 3) as usize];
                    transaction(&mut conn, |conn| register_once(conn, &event, visit, n)).unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = done.load(Ordering::Relaxed);
    println!(
        "baseline {} threads={threads}: {total} registrations in {elapsed:.1} s = {:.0} registrations/s",
        if url.is_postgres() { "postgres" } else { "sqlite" },
        total as f64 / elapsed
    );
    println!(
        "rerun: cargo bench --bench registration_baseline -- URL {threads} {}",
        duration.as_secs()
    );
}
