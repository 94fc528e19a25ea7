//! Property test of the seat rules: random sequences of register / cancel / change /
//! capacity raise (and, in an event that makes offers, accept / decline / expire) run
//! through the real domain functions on a real SQLite database, and after every step
//! the seats and offers must equal those of a simple model of the rules, the invariants
//! must hold, and the maintained counters (by country and by visit) must equal the
//! model's numbers, and every waiting person's position must be their place in the
//! model's queues.

use proptest::prelude::*;

use super::booking::{cancel_registration, change_preferences, register_participant};
use super::catalog::{add_site_visit, create_event};
use super::event::{NewEvent, NewSiteVisit};
use super::event_rules;
use super::exports::{self, Counts, CountsBy};
use super::offers;
use super::registration::{Email, NewRegistration, Preferences};
use super::{seats, DomainError};
use crate::db::{Database, DatabaseUrl, DbOptions};
use crate::store::{registrations, site_visits};

const VISITS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Register(Vec<usize>),
    Cancel(usize),
    Change(usize, Vec<usize>),
    Raise(usize, i32),
    Accept(usize),
    Decline(usize),
    /// The expiry worker, with a clock 25 hours ahead (the window is 24).
    Expire,
}

fn ranking() -> impl Strategy<Value = Vec<usize>> {
    Just((0..VISITS).collect::<Vec<_>>())
        .prop_shuffle()
        .prop_flat_map(|all| (0..=VISITS).prop_map(move |n| all[..n].to_vec()))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => ranking().prop_map(Op::Register),
        2 => (0..40usize).prop_map(Op::Cancel),
        2 => (0..40usize, ranking()).prop_map(|(i, r)| Op::Change(i, r)),
        1 => (0..VISITS, 1..3i32).prop_map(|(v, k)| Op::Raise(v, k)),
    ]
}

/// The operations of an event that makes offers.
fn offer_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => op(),
        2 => (0..40usize).prop_map(Op::Accept),
        1 => (0..40usize).prop_map(Op::Decline),
        1 => Just(Op::Expire),
    ]
}

/// The rules, as plainly as they can be written.
#[derive(Default)]
struct Model {
    /// Freed seats are offered (the event's window is on), not given.
    offers: bool,
    capacity: Vec<i32>,
    people: Vec<Person>,
    /// Per visit, the people holding no seat who wait for it, in the order they began
    /// to wait (a new ranking keeps a person's place in the visits it still names).
    queues: Vec<Vec<usize>>,
}

struct Person {
    ranked: Vec<usize>,
    active: bool,
    seat: Option<usize>,
    offer: Option<Offer>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Offer {
    visit: usize,
    /// The step that made it (offers expire in the order they were made).
    made: usize,
    /// Made by an expiry run, whose clock is a day ahead: no later run expires it.
    late: bool,
}

impl Model {
    /// Seats taken: seated people and open offers.
    fn taken(&self, visit: usize) -> i32 {
        self.seated(visit) + self.offered(visit)
    }

    fn seated(&self, visit: usize) -> i32 {
        self.people.iter().filter(|p| p.seat == Some(visit)).count() as i32
    }

    fn offered(&self, visit: usize) -> i32 {
        self.people
            .iter()
            .filter(|p| p.offer.is_some_and(|o| o.visit == visit))
            .count() as i32
    }

    fn has_room(&self, visit: usize) -> bool {
        self.taken(visit) < self.capacity[visit]
    }

    fn register(&mut self, ranked: Vec<usize>) {
        let seat = ranked.iter().copied().find(|&v| self.has_room(v));
        self.people.push(Person {
            ranked,
            active: true,
            seat,
            offer: None,
        });
        self.sync();
    }

    fn waits_for(person: &Person, visit: usize) -> bool {
        person.active
            && person.seat.is_none()
            && person.ranked.contains(&visit)
            && Self::below_offer(person, visit)
    }

    /// Whether `visit` is ranked above the person's open offer (or they hold none).
    fn below_offer(person: &Person, visit: usize) -> bool {
        match person.offer {
            None => true,
            Some(offer) => Self::rank(person, visit) < Self::rank(person, offer.visit),
        }
    }

    /// Would move up from a seat ranked lower (and above their offer).
    fn upgrades_to(person: &Person, visit: usize) -> bool {
        person.active
            && Self::below_offer(person, visit)
            && match (
                person.seat.and_then(|s| Self::rank(person, s)),
                Self::rank(person, visit),
            ) {
                (Some(held), Some(wanted)) => wanted < held,
                _ => false,
            }
    }

    /// The queues after a change: who no longer waits leaves, who newly waits joins at
    /// the end.
    fn sync(&mut self) {
        self.queues.resize(self.capacity.len(), Vec::new());
        for visit in 0..self.queues.len() {
            let people = &self.people;
            self.queues[visit].retain(|&p| Self::waits_for(&people[p], visit));
            for (index, person) in self.people.iter().enumerate() {
                if Self::waits_for(person, visit) && !self.queues[visit].contains(&index) {
                    self.queues[visit].push(index);
                }
            }
        }
    }

    fn rank(person: &Person, visit: usize) -> Option<usize> {
        person.ranked.iter().position(|&v| v == visit)
    }

    fn refill(&mut self, first: usize, step: usize, late: bool) {
        // Freed seats are refilled in the order they were freed, as the domain does.
        let mut queue = std::collections::VecDeque::from([first]);
        while let Some(visit) = queue.pop_front() {
            while self.has_room(visit) {
                let unseated = self.queues[visit].first().copied();
                let upgrading = || self.people.iter().position(|p| Self::upgrades_to(p, visit));
                let Some(index) = unseated.or_else(upgrading) else {
                    break;
                };
                // An offer for a visit ranked lower gives way.
                if let Some(old) = self.people[index].offer.take() {
                    queue.push_back(old.visit);
                }
                if self.offers {
                    self.people[index].offer = Some(Offer {
                        visit,
                        made: step,
                        late,
                    });
                } else if let Some(old) = self.people[index].seat.replace(visit) {
                    queue.push_back(old);
                }
                self.sync();
            }
        }
    }

    /// Ends the person's offer if they would no longer take it (the domain's
    /// `withdraw_unwanted`), and offers the seat on.
    fn withdraw_unwanted(&mut self, index: usize, step: usize) {
        let person = &self.people[index];
        let Some(offer) = person.offer else { return };
        let wanted = person.active
            && match (Self::rank(person, offer.visit), person.seat) {
                (Some(_), None) => true,
                (Some(o), Some(held)) => Self::rank(person, held).is_some_and(|h| o < h),
                (None, _) => false,
            };
        if !wanted {
            self.people[index].offer = None;
            self.sync();
            self.refill(offer.visit, step, false);
        }
    }

    fn accept(&mut self, index: usize, step: usize) {
        let Some(offer) = self.people[index].offer.take() else {
            return;
        };
        let old = self.people[index].seat.replace(offer.visit);
        self.sync();
        if let Some(old) = old {
            self.refill(old, step, false);
        }
    }

    /// Declined or expired: the seat goes on, the visit leaves the ranking.
    fn pass_on(&mut self, index: usize, step: usize, late: bool) {
        let Some(offer) = self.people[index].offer.take() else {
            return;
        };
        self.people[index].ranked.retain(|&v| v != offer.visit);
        self.sync();
        self.refill(offer.visit, step, late);
    }

    fn expire(&mut self, step: usize) {
        let mut due: Vec<(usize, usize, Offer)> = self
            .people
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.offer.filter(|o| !o.late).map(|o| (o.made, i, o)))
            .collect();
        due.sort_unstable_by_key(|(made, i, _)| (*made, *i));
        for (_, index, offer) in due {
            // An offer that gave way meanwhile is no longer due.
            if self.people[index].offer == Some(offer) {
                self.pass_on(index, step, true);
            }
        }
    }

    fn cancel(&mut self, index: usize, step: usize) {
        let person = &mut self.people[index];
        if !person.active {
            return;
        }
        person.active = false;
        let seat = person.seat.take();
        self.sync();
        if let Some(visit) = seat {
            self.refill(visit, step, false);
        }
        self.withdraw_unwanted(index, step);
    }

    fn change(&mut self, index: usize, ranked: Vec<usize>, step: usize) {
        if !self.people[index].active {
            return;
        }
        self.people[index].ranked = ranked.clone();
        let held = self.people[index].seat;
        let held_rank = held.and_then(|h| ranked.iter().position(|&v| v == h));
        let better = &ranked[..held_rank.unwrap_or(ranked.len())];
        let claimed = better.iter().copied().find(|&v| self.has_room(v));
        match (claimed, held) {
            (Some(to), Some(from)) => {
                self.people[index].seat = Some(to);
                self.sync();
                self.refill(from, step, false);
            }
            (Some(to), None) => self.people[index].seat = Some(to),
            (None, Some(from)) if held_rank.is_none() => {
                self.people[index].seat = None;
                self.sync();
                self.refill(from, step, false);
            }
            _ => {}
        }
        self.sync();
        self.withdraw_unwanted(index, step);
    }

    fn raise(&mut self, visit: usize, by: i32, step: usize) {
        self.sync();
        self.capacity[visit] += by;
        self.refill(visit, step, false);
    }
}

struct Fixture {
    db: Database,
    dir: std::path::PathBuf,
    visit_ids: Vec<String>,
    visit_slugs: Vec<String>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture(capacities: &[i32], offers: bool) -> Fixture {
    let dir = std::env::temp_dir().join(format!("rp-model-{}", uuid::Uuid::now_v7().simple()));
    let url = DatabaseUrl::Sqlite(dir.join("model.db"));
    let db = Database::connect(&url, DbOptions::default()).unwrap();
    db.run_migrations().unwrap();
    let visit_slugs: Vec<String> = (0..capacities.len()).map(|i| format!("v{i}")).collect();
    let capacities = capacities.to_vec();
    let slugs = visit_slugs.clone();
    let visit_ids = db
        .write_blocking(move |conn| {
            let now = super::now();
            let event = NewEvent {
                slug: "model".into(),
                name: "Model".into(),
                description: String::new(),
                venue: String::new(),
                contact_email: String::new(),
                timezone: chrono_tz::Tz::UTC,
                starts_on: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
                ends_on: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
                assignment_mode: super::event::AssignmentMode::FirstCome,
                registration_opens_at: None,
                registration_closes_at: None,
                max_preferences: VISITS as i32,
                capacity: None,
                offer_window_hours: offers.then_some(24),
                offer_cutoff_hours: 12,
                no_show_after_minutes: 30,
                reminder_hours: String::new(),
                answers_close_at: None,
            };
            create_event(conn, &event, now)?;
            let start = chrono::NaiveDate::from_ymd_opt(2030, 1, 1)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap();
            for (slug, capacity) in slugs.iter().zip(&capacities) {
                let visit = NewSiteVisit {
                    slug: slug.clone(),
                    name: slug.clone(),
                    description: String::new(),
                    location: String::new(),
                    meeting_point: String::new(),
                    starts_at: start,
                    ends_at: start + chrono::Duration::hours(2),
                    capacity: *capacity,
                    position: None,
                    bring: String::new(),
                    identity: Vec::new(),
                };
                add_site_visit(conn, "model", &visit, now)?;
            }
            let event = event_rules::find_event(conn, "model")?;
            Ok::<_, DomainError>(
                site_visits::list(conn, &event.id)?
                    .into_iter()
                    .map(|v| v.id)
                    .collect(),
            )
        })
        .unwrap();
    Fixture {
        db,
        dir,
        visit_ids,
        visit_slugs,
    }
}

fn preferences(fixture: &Fixture, ranked: &[usize]) -> Preferences {
    let slugs: Vec<String> = ranked.iter().map(|&v| fixture.visit_slugs[v].clone()).collect();
    Preferences::parse(
        slugs,
        &super::registration::PreferenceRules {
            visit_slugs: &fixture.visit_slugs,
            max_preferences: VISITS,
        },
    )
    .unwrap()
}

fn apply(fixture: &Fixture, ids: &mut Vec<String>, op: &Op) {
    let now = super::now;
    match op.clone() {
        Op::Register(ranked) => {
            let input = NewRegistration {
                first_name: "P".into(),
                last_name: format!("{}", ids.len()),
                email: Email::parse(&format!("p{}@example.org", ids.len())).unwrap(),
                organisation: "O".into(),
                country: super::country::CountryCode::parse("BE").unwrap(),
                job_title: None,
                dietary: None,
                preferences: preferences(fixture, &ranked),
                answers: Default::default(),
                visits_with_questions: Vec::new(),
                language: crate::i18n::Lang::En,
            };
            let registered = fixture
                .db
                .write_blocking(move |conn| {
                    let key = super::access::ManageKey::new("model test key");
                    register_participant(conn, &key, "model", &input, now())
                })
                .unwrap();
            ids.push(registered.view.id);
        }
        Op::Cancel(index) => {
            let id = ids[index].clone();
            fixture
                .db
                .write_blocking(move |conn| {
                    let registration = registrations::find(conn, &id)?.unwrap();
                    cancel_registration(conn, &registration, now())
                })
                .unwrap();
        }
        Op::Change(index, ranked) => {
            let id = ids[index].clone();
            let prefs = preferences(fixture, &ranked);
            let outcome = fixture.db.write_blocking(move |conn| {
                let registration = registrations::find(conn, &id)?.unwrap();
                change_preferences(conn, &registration, &prefs, now())
            });
            match outcome {
                Ok(_) | Err(DomainError::RegistrationClosed(_)) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        Op::Raise(visit, by) => {
            let id = fixture.visit_ids[visit].clone();
            fixture
                .db
                .write_blocking(move |conn| {
                    let event = event_rules::find_event(conn, "model")?;
                    let row = site_visits::list(conn, &event.id)?
                        .into_iter()
                        .find(|v| v.id == id)
                        .unwrap();
                    let mut changes = Vec::new();
                    seats::change_capacity(conn, &row, row.capacity + by, true, now(), &mut changes)?;
                    Ok::<_, DomainError>(())
                })
                .unwrap();
        }
        Op::Accept(index) | Op::Decline(index) => {
            let id = ids[index].clone();
            let answer: offers::Answer = if matches!(op, Op::Accept(_)) {
                offers::accept
            } else {
                offers::decline
            };
            let outcome = fixture.db.write_blocking(move |conn| {
                let registration = registrations::find(conn, &id)?.unwrap();
                answer(conn, &registration, now())
            });
            match outcome {
                Ok(_) | Err(DomainError::NoOpenOffer(_)) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        Op::Expire => {
            let later = now() + chrono::Duration::hours(25);
            fixture
                .db
                .write_blocking(move |conn| offers::expire_due(conn, later, 1_000))
                .unwrap();
        }
    }
}

fn check(fixture: &Fixture, ids: &[String], model: &Model, step: usize) -> Result<(), TestCaseError> {
    let ids = ids.to_vec();
    let all = ids.clone();
    let (seats, held, visits, positions) = fixture
        .db
        .read_blocking(move |conn| {
            let mut seats = Vec::new();
            let mut held = Vec::new();
            for id in &ids {
                seats.push(registrations::seat(conn, id)?);
                held.push(crate::store::offers::of(conn, id)?.map(|o| o.site_visit_id));
            }
            let event = event_rules::find_event(conn, "model")?;
            let positions = crate::store::queues::positions_of(conn, &ids)?;
            Ok::<_, DomainError>((seats, held, site_visits::list(conn, &event.id)?, positions))
        })
        .unwrap();
    // Every waiting person's position is their place in the model's queue, and nobody
    // else is in a queue.
    let mut stored: Vec<(usize, usize, i64)> = positions
        .iter()
        .map(|(id, queue, position)| {
            let person = all.iter().position(|i| i == id).unwrap();
            let visit = fixture.visit_ids.iter().position(|v| v == queue).unwrap();
            (visit, person, *position)
        })
        .collect();
    stored.sort_unstable();
    let mut expected: Vec<(usize, usize, i64)> = Vec::new();
    for (visit, queue) in model.queues.iter().enumerate() {
        for (place, person) in queue.iter().enumerate() {
            expected.push((visit, *person, place as i64 + 1));
        }
    }
    expected.sort_unstable();
    prop_assert_eq!(stored, expected, "queues at step {}", step);
    for (index, person) in model.people.iter().enumerate() {
        let expected = person.seat.map(|v| fixture.visit_ids[v].clone());
        prop_assert_eq!(&seats[index], &expected, "step {}: person {}", step, index);
        let offered = person.offer.map(|o| fixture.visit_ids[o.visit].clone());
        prop_assert_eq!(&held[index], &offered, "offer at step {}: person {}", step, index);
    }
    for (v, visit) in fixture.visit_ids.iter().enumerate() {
        let row = visits.iter().find(|r| &r.id == visit).unwrap();
        let holders = seats
            .iter()
            .chain(&held)
            .filter(|s| s.as_deref() == Some(visit.as_str()))
            .count() as i32;
        prop_assert!(row.assigned <= row.capacity, "over capacity at step {}", step);
        prop_assert_eq!(row.assigned, holders, "counter vs rows at step {}", step);
        prop_assert_eq!(row.capacity, model.capacity[v]);
    }
    check_counts(fixture, model, step)
}

/// The maintained counters against the model (everyone registers from BE).
fn check_counts(fixture: &Fixture, model: &Model, step: usize) -> Result<(), TestCaseError> {
    let (by_country, by_visit) = fixture
        .db
        .read_blocking(|conn| {
            let now = super::now();
            Ok::<_, DomainError>((
                exports::counts(conn, "model", CountsBy::Country, now)?,
                exports::counts(conn, "model", CountsBy::SiteVisit, now)?,
            ))
        })
        .unwrap();
    let (Counts::ByCountry(by_country), Counts::BySiteVisit(by_visit)) = (by_country, by_visit) else {
        unreachable!()
    };
    let active: Vec<&Person> = model.people.iter().filter(|p| p.active).collect();
    let per_visit: Vec<i64> = (0..VISITS).map(|v| i64::from(model.seated(v))).collect();
    let waiting = active
        .iter()
        .filter(|p| p.seat.is_none() && p.offer.is_none() && !p.ranked.is_empty())
        .count() as i64;
    let offered = active.iter().filter(|p| p.offer.is_some()).count() as i64;
    let lines: Vec<(String, i64, i64, i64, i64, Vec<i64>)> = by_country
        .lines
        .iter()
        .map(|l| {
            (
                l.country.clone(),
                l.registered,
                l.assigned,
                l.waitlisted,
                l.offered,
                l.per_visit.clone(),
            )
        })
        .collect();
    let expected = if active.is_empty() {
        Vec::new()
    } else {
        vec![(
            "BE".to_owned(),
            active.len() as i64,
            per_visit.iter().sum(),
            waiting,
            offered,
            per_visit.clone(),
        )]
    };
    prop_assert_eq!(lines, expected, "counts by country at step {}", step);
    for (v, line) in by_visit.lines.iter().enumerate() {
        // Waiting for v: no seat and ranked v, or a seat ranked below v.
        let wanting = active
            .iter()
            .filter(|p| Model::waits_for(p, v) || Model::upgrades_to(p, v))
            .count() as i64;
        prop_assert_eq!(
            line.waitlisted,
            wanting,
            "waiting for visit {} at step {}",
            v,
            step
        );
        prop_assert_eq!(
            line.assigned,
            per_visit[v],
            "seats of visit {} at step {}",
            v,
            step
        );
        prop_assert_eq!(
            line.offered,
            i64::from(model.offered(v)),
            "offers of visit {} at step {}",
            v,
            step
        );
    }
    Ok(())
}

/// Runs `ops` through the domain and the model, checking after every step.
fn run(capacities: &[i32], ops: &[Op], offers: bool) -> Result<(), TestCaseError> {
    let fixture = fixture(capacities, offers);
    let mut model = Model {
        offers,
        capacity: capacities.to_vec(),
        ..Model::default()
    };
    model.sync();
    let mut ids = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let op = match op {
            Op::Cancel(i) | Op::Change(i, _) | Op::Accept(i) | Op::Decline(i)
                if ids.is_empty() || *i >= ids.len() =>
            {
                continue
            }
            other => other.clone(),
        };
        apply(&fixture, &mut ids, &op);
        match op {
            Op::Register(ranked) => model.register(ranked),
            Op::Cancel(i) => model.cancel(i, step),
            Op::Change(i, ranked) => model.change(i, ranked, step),
            Op::Raise(v, by) => model.raise(v, by, step),
            Op::Accept(i) => model.accept(i, step),
            Op::Decline(i) => model.pass_on(i, step, false),
            Op::Expire => model.expire(step),
        }
        check(&fixture, &ids, &model, step)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn seat_rules_match_the_model_after_every_step(
        capacities in proptest::collection::vec(0..3i32, VISITS),
        ops in proptest::collection::vec(op(), 1..30),
    ) {
        run(&capacities, &ops, false)?;
    }

    /// The same with offers on: freed seats are held, then accepted, declined or
    /// expired; an offered seat is never given twice and never overbooks.
    #[test]
    fn offers_match_the_model_after_every_step(
        capacities in proptest::collection::vec(0..3i32, VISITS),
        ops in proptest::collection::vec(offer_op(), 1..40),
    ) {
        run(&capacities, &ops, true)?;
    }
}
