//! Offer expiry at scale: 10,000 open offers expire at once and each seat is offered to
//! the next person in line, as the expiry worker does it (`timed::BATCH` per
//! transaction), against a baseline that only ends the offers and gives their seats
//! back (the minimal writes), in the same run.
//!
//! ```sh
//! cargo bench --bench offer_expiry                               # SQLite (a temporary file)
//! RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench offer_expiry                           # PostgreSQL (own database)
//! ```
//!
//! The load users make: 30,000 registrants from 20 countries, each ranking the three
//! visits (10,000 seats in all); the 10,000 seated cancel, so their seats are offered to
//! the first 10,000 waiting; then the clock passes their deadline.

use std::time::Instant;

use chrono::NaiveDate;
use diesel::prelude::*;
use rallypoint::db::schema::{seat_offers, site_visits};
use rallypoint::db::{Database, DbConnection, DbError, DbOptions};
use rallypoint::domain::access::ManageKey;
use rallypoint::domain::booking::{cancel_registration, register_participant};
use rallypoint::domain::catalog::{add_site_visit, create_event};
use rallypoint::domain::event::{AssignmentMode, NewEvent, NewSiteVisit};
use rallypoint::domain::registration::{NewRegistration, PreferenceRules};
use rallypoint::domain::{now, offers, DomainError};
use rallypoint::store::registrations;
use rallypoint::timed::BATCH;
use serde_json::json;

mod support;
use support::BenchDatabase;

const OFFERS: usize = 10_000;
const PEOPLE: usize = 3 * OFFERS;
const VISITS: [(&str, i32); 3] = [("steel", 3_334), ("biopark", 3_333), ("cleantech", 3_333)];
const COUNTRIES: [&str; 20] = [
    "BE", "FR", "DE", "IT", "ES", "PT", "NL", "PL", "CZ", "AT", "SE", "FI", "DK", "IE", "GR", "RO", "HU",
    "SK", "SI", "LT",
];

fn main() {
    let target = BenchDatabase::from_env("rp_offers");
    let db = Database::connect(&target.url, DbOptions::default()).expect("the database opens");
    db.run_migrations().expect("the database migrates");
    let started = Instant::now();
    let seated = fill(&db);
    cancel_all(&db, seated);
    let open = count_offers(&db);
    assert_eq!(open, OFFERS as i64, "every freed seat is offered");
    println!(
        "{}: {PEOPLE} registrations, {OFFERS} seats cancelled and offered, in {:.1?}",
        target.name(),
        started.elapsed()
    );

    let later = now() + chrono::Duration::hours(25);
    let started = Instant::now();
    let mut expired = 0;
    loop {
        let done = db
            .write_blocking(move |conn| offers::expire_due(conn, later, BATCH))
            .expect("expiry runs");
        if done == 0 {
            break;
        }
        expired += done;
    }
    let elapsed = started.elapsed();
    // An offer can also give way before its turn comes: its holder is offered a visit
    // they ranked higher, freed by an earlier expiry of the same run.
    assert!(
        expired > OFFERS * 9 / 10 && expired <= OFFERS,
        "{expired} expired"
    );
    assert_eq!(count_offers(&db), OFFERS as i64, "each seat offered on once");
    let due: i64 = db
        .read_blocking(move |conn| {
            Ok::<_, DbError>(
                seat_offers::table
                    .filter(seat_offers::expires_at.le(later))
                    .count()
                    .get_result(conn)?,
            )
        })
        .unwrap();
    assert_eq!(due, 0, "nothing due is left");
    check_seats(&db);

    // The baseline: end each of the new offers and give its seat back, nothing else.
    let much_later = later + chrono::Duration::hours(100);
    let started = Instant::now();
    loop {
        let done = db
            .write_blocking(move |conn| end_only(conn, much_later, BATCH))
            .expect("the baseline runs");
        if done == 0 {
            break;
        }
    }
    let baseline = started.elapsed();
    assert_eq!(count_offers(&db), 0);
    println!(
        "{OFFERS} offers due ({expired} expired, the others gave way to a better offer), each seat \
         offered on: {elapsed:.2?} ({:.0}/s; target < 10 s); \
         baseline (end the offer, give the seat back): {baseline:.2?} ({:.0}/s) = {:.1}x the baseline's time",
        OFFERS as f64 / elapsed.as_secs_f64(),
        OFFERS as f64 / baseline.as_secs_f64(),
        elapsed.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "\nrerun with: cargo bench --bench offer_expiry (RALLYPOINT_BENCH_POSTGRES_URL=… for PostgreSQL)"
    );
}

fn event() -> NewEvent {
    let day = NaiveDate::from_ymd_opt(2030, 6, 1).unwrap();
    NewEvent {
        slug: "offers".into(),
        name: "Offers".into(),
        description: String::new(),
        venue: String::new(),
        contact_email: String::new(),
        timezone: chrono_tz::Tz::UTC,
        starts_on: day,
        ends_on: day,
        assignment_mode: AssignmentMode::FirstCome,
        registration_opens_at: None,
        registration_closes_at: None,
        max_preferences: 3,
        capacity: None,
        offer_window_hours: Some(24),
        offer_cutoff_hours: 12,
        no_show_after_minutes: 30,
        reminder_hours: String::new(),
        answers_close_at: None,
    }
}

/// The event and its registrations; returns the ids of the seated.
fn fill(db: &Database) -> Vec<String> {
    db.write_blocking(|conn| {
        create_event(conn, &event(), now())?;
        let start = NaiveDate::from_ymd_opt(2030, 6, 1)
            .unwrap()
            .and_hms_opt(13, 0, 0)
            .unwrap();
        for (slug, capacity) in VISITS {
            let visit = NewSiteVisit {
                slug: slug.into(),
                name: slug.into(),
                description: String::new(),
                location: String::new(),
                meeting_point: String::new(),
                starts_at: start,
                ends_at: start + chrono::Duration::hours(4),
                capacity,
                position: None,
                bring: String::new(),
                identity: Vec::new(),
            };
            add_site_visit(conn, "offers", &visit, now())?;
        }
        Ok::<_, DomainError>(())
    })
    .expect("the event is created");
    let slugs: Vec<String> = VISITS.iter().map(|(s, _)| s.to_string()).collect();
    let mut seated = Vec::new();
    for chunk in (0..PEOPLE).collect::<Vec<_>>().chunks(1_000) {
        let chunk = chunk.to_vec();
        let slugs = slugs.clone();
        let ids = db
            .write_blocking(move |conn| {
                let key = ManageKey::new("bench key");
                let rules = PreferenceRules {
                    visit_slugs: &slugs,
                    max_preferences: 3,
                };
                let mut seated = Vec::new();
                for &n in &chunk {
                    let ranked: Vec<&str> = (0..3).map(|k| VISITS[(n + k) % 3].0).collect();
                    let body = json!({
                        "first_name": format!("P{n}"), "last_name": "Bench",
                        "email": format!("p{n}@example.org"), "organisation": format!("Org {}", n % 97),
                        "country": COUNTRIES[n % COUNTRIES.len()], "preferences": ranked, "consent": true
                    });
                    let input = NewRegistration::parse(body.as_object().unwrap().clone(), &rules)?;
                    let registered = register_participant(conn, &key, "offers", &input, now())?;
                    if registered
                        .view
                        .site_visit
                        .as_ref()
                        .is_some_and(|s| s.waitlist_position.is_none())
                    {
                        seated.push(registered.view.id);
                    }
                }
                Ok::<_, DomainError>(seated)
            })
            .expect("registrations");
        seated.extend(ids);
    }
    assert_eq!(seated.len(), OFFERS, "the seats are full");
    seated
}

fn cancel_all(db: &Database, seated: Vec<String>) {
    for chunk in seated.chunks(BATCH as usize) {
        let chunk = chunk.to_vec();
        db.write_blocking(move |conn| {
            for id in &chunk {
                let registration = registrations::find(conn, id)?.expect("registered");
                cancel_registration(conn, &registration, now())?;
            }
            Ok::<_, DomainError>(())
        })
        .expect("cancellations");
    }
}

/// The baseline's batch: end due offers and give their seats back.
fn end_only(conn: &mut DbConnection, at: chrono::NaiveDateTime, limit: i64) -> Result<usize, DbError> {
    let due = rallypoint::store::offers::due(conn, at, limit)?;
    for offer in &due {
        if rallypoint::store::offers::end_expired(conn, &offer.registration_id, &offer.site_visit_id, at)? {
            rallypoint::store::site_visits::give_back_seat(conn, &offer.site_visit_id)?;
        }
    }
    Ok(due.len())
}

fn count_offers(db: &Database) -> i64 {
    db.read_blocking(|conn| Ok::<_, DbError>(seat_offers::table.count().get_result(conn)?))
        .unwrap()
}

/// No visit above capacity.
fn check_seats(db: &Database) {
    let over: i64 = db
        .read_blocking(|conn| {
            Ok::<_, DbError>(
                site_visits::table
                    .filter(site_visits::assigned.gt(site_visits::capacity))
                    .count()
                    .get_result(conn)?,
            )
        })
        .unwrap();
    assert_eq!(over, 0);
}
