//! The preference allocation as organisers run it: the input read from a snapshot, the
//! pure plan (`domain::allocation`), its report, and the plan applied in one transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::db::{Database, DbConnection, DbError};
use crate::domain::allocation::{allocate, Options, Participant, Plan, Visit};
use crate::domain::audit::{self, AuditEntry};
use crate::domain::error::DomainError;
use crate::domain::event_rules::{find_event, find_event_with_visits, lock_for_seat_changes};
use crate::domain::idempotency::{self, Answer, IdempotencyKey};
use crate::domain::input::Fields;
use crate::domain::notify::{self, Notice};
use crate::domain::{offers, seats};
use crate::mail::content::{EmailKind, SeatReason};
use crate::store::events;
use crate::store::offers as store_offers;
use crate::store::registrations;
use crate::store::site_visits::{self, SiteVisitRow};

/// How an organiser asks for the preference allocation.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllocationRequest {
    pub dry_run: bool,
    pub balance_countries: bool,
    pub seed: Option<u64>,
}

impl AllocationRequest {
    /// `{dry_run, balance_countries, seed}`; `dry_run` defaults to true (show the plan,
    /// write nothing), so that applying is always asked for in so many words.
    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let dry_run = fields.flag("dry_run").unwrap_or(true);
        let balance_countries = fields.flag("balance_countries").unwrap_or(false);
        let seed = fields.optional_int("seed", 0, i64::MAX).map(|s| s as u64);
        fields.finish(|| {
            Some(Self {
                dry_run,
                balance_countries,
                seed,
            })
        })
    }
}

/// The people the allocation may place, and the seats it may use.
#[derive(Clone, Debug)]
pub struct AllocationInput {
    event_slug: String,
    visits: Vec<SiteVisitRow>,
    /// (registration id, seat held at planning time), in registration order.
    people: Vec<(String, Option<String>)>,
    participants: Vec<Participant>,
    capacities: Vec<Visit>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PlannedSeat {
    pub registration_id: String,
    pub site_visit: Option<String>,
    /// Which choice the seat is (1 = first).
    pub rank: Option<usize>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AllocationReport {
    pub dry_run: bool,
    pub balance_countries: bool,
    pub seed: Option<u64>,
    pub participants: usize,
    /// How many got their 1st, 2nd, 3rd… choice.
    pub by_rank: Vec<usize>,
    /// People who ranked visits and got none.
    pub unplaced: usize,
    /// Per country, how many of its participants each visit holds.
    pub per_country: BTreeMap<String, BTreeMap<String, usize>>,
    /// Sum of squared (country, visit) counts: lower is more even.
    pub country_spread: u64,
    /// Seats that change (planned, in a dry run; made, when applied).
    pub seats_changed: usize,
    /// People left as they were because they changed meanwhile (applied runs only).
    pub skipped: usize,
    pub plan: Vec<PlannedSeat>,
}

/// Reads who takes part: every active confirmed registration that waits for automatic
/// seats and is not in a frozen roster. People an organiser placed, and frozen rosters,
/// keep their seats, which the allocation cannot use.
pub fn allocation_input(conn: &mut DbConnection, event_slug: &str) -> Result<AllocationInput, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let rows = registrations::confirmed_in_order(conn, &event.id)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let preferences = registrations::preferences_of(conn, &ids)?;
    let seats: HashMap<String, String> = registrations::seats_of(conn, &ids)?.into_iter().collect();
    let index_of: HashMap<&str, usize> = visits
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id.as_str(), i))
        .collect();
    let mut kept = vec![0i32; visits.len()];
    let mut people = Vec::new();
    let mut participants = Vec::new();
    for row in &rows {
        let seat = seats.get(&row.id).cloned();
        let seat_index = seat.as_deref().and_then(|s| index_of.get(s).copied());
        if !row.auto_seat || seat_index.is_some_and(|i| visits[i].frozen) {
            if let Some(i) = seat_index {
                kept[i] += 1;
            }
            continue;
        }
        let ranked = preferences
            .iter()
            .filter(|(id, _, _)| *id == row.id)
            .filter_map(|(_, _, visit)| index_of.get(visit.as_str()).copied())
            .collect();
        let code = row.country.as_bytes();
        participants.push(Participant {
            ranked,
            country: [code[0], code[1]],
        });
        people.push((row.id.clone(), seat));
    }
    let capacities = visits
        .iter()
        .zip(&kept)
        .map(|(visit, kept)| Visit {
            capacity: if visit.frozen {
                0
            } else {
                (visit.capacity - kept).max(0) as u32
            },
        })
        .collect();
    Ok(AllocationInput {
        event_slug: event_slug.to_owned(),
        visits,
        people,
        participants,
        capacities,
    })
}

/// Runs the pure allocation on a snapshot (no database here).
pub fn plan_allocation(input: &AllocationInput, request: &AllocationRequest) -> Plan {
    allocate(
        &input.capacities,
        &input.participants,
        &Options {
            balance_countries: request.balance_countries,
            seed: request.seed,
        },
    )
}

/// The plan and its statistics, as the organiser sees them (a dry run writes nothing).
pub fn report_for(input: &AllocationInput, request: &AllocationRequest, plan: &Plan) -> AllocationReport {
    let visit_slug = |index: usize| input.visits[index].slug.clone();
    let planned: Vec<PlannedSeat> = input
        .people
        .iter()
        .zip(&input.participants)
        .zip(&plan.assignment)
        .map(|(((id, _), participant), seat)| PlannedSeat {
            registration_id: id.clone(),
            site_visit: seat.map(visit_slug),
            rank: seat.and_then(|v| participant.ranked.iter().position(|r| *r == v).map(|p| p + 1)),
        })
        .collect();
    let seats_changed = input
        .people
        .iter()
        .zip(&plan.assignment)
        .filter(|((_, held), seat)| held.as_deref() != seat.map(|v| input.visits[v].id.as_str()))
        .count();
    AllocationReport {
        dry_run: request.dry_run,
        balance_countries: request.balance_countries,
        seed: request.seed,
        participants: input.people.len(),
        by_rank: plan.stats.by_rank.clone(),
        unplaced: plan.stats.unplaced,
        per_country: plan
            .stats
            .per_country
            .iter()
            .map(|(country, counts)| {
                let per_visit = counts
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(v, n)| (visit_slug(v), *n))
                    .collect();
                (country.clone(), per_visit)
            })
            .collect(),
        country_spread: plan.stats.country_spread,
        seats_changed,
        skipped: 0,
        plan: planned,
    }
}

/// Runs the allocation for `actor` (the audit names them): a dry run only plans; a real
/// run plans, then applies in one transaction kept under `key` for retries. The input is
/// read from a snapshot and planned outside any write transaction, on a blocking thread
/// (planning may take a second for a large event); people who changed meanwhile are left
/// as they are by [`apply_allocation`]. The API and the board both run it this way.
pub async fn run_allocation(
    db: &Database,
    actor: String,
    event: String,
    request: AllocationRequest,
    key: Option<IdempotencyKey>,
) -> Result<Answer<AllocationReport>, DomainError> {
    let input = db.read(move |conn| allocation_input(conn, &event)).await?;
    let planned = input.clone();
    let plan = tokio::task::spawn_blocking(move || plan_allocation(&planned, &request))
        .await
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
    if request.dry_run {
        return Ok(Answer::Fresh(report_for(&input, &request, &plan)));
    }
    idempotency::write(
        db,
        key,
        200,
        move |conn, now| apply_allocation(conn, &actor, &input, &request, &plan, now),
        |report| serde_json::to_value(report).unwrap_or_default(),
    )
    .await
}

/// Applies a plan made from a snapshot, in one transaction. Registrations keep arriving
/// meanwhile: every seat is still taken by the conditional claim (never overbooking),
/// people who cancelled or were moved by hand meanwhile are left alone, newcomers keep
/// what they have, and seats still free at the end go to the waitlists as usual.
pub fn apply_allocation(
    conn: &mut DbConnection,
    actor: &str,
    input: &AllocationInput,
    request: &AllocationRequest,
    plan: &Plan,
    now: NaiveDateTime,
) -> Result<AllocationReport, DomainError> {
    let event = find_event(conn, &input.event_slug)?;
    lock_for_seat_changes(conn, &event)?;
    // Held seats are free again for the plan; what is left free at the end is offered
    // again by the refill below.
    for offer in store_offers::of_event(conn, &event.id)? {
        offers::give_up(conn, &offer.registration_id)?;
    }
    let first_allocation = event.allocated_at.is_none();
    let visits = site_visits::list(conn, &event.id)?;
    let frozen: Vec<&str> = visits
        .iter()
        .filter(|v| v.frozen)
        .map(|v| v.id.as_str())
        .collect();
    let mut report = report_for(input, request, plan);
    let mut outcome: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    // First every changing seat is given back, so that swaps between visits can happen.
    let mut wanted = Vec::new();
    for ((id, _), seat) in input.people.iter().zip(&plan.assignment) {
        let planned = seat.map(|v| input.visits[v].id.clone());
        let current = registrations::find(conn, id)?;
        let still_eligible =
            current.as_ref().is_some_and(|r| r.auto_seat) && registrations::lock_confirmed(conn, id, now)?;
        let held = registrations::seat(conn, id)?;
        if !still_eligible || held.as_deref().is_some_and(|h| frozen.contains(&h)) {
            report.skipped += 1;
            continue;
        }
        if held == planned {
            outcome.push((id.clone(), held.clone(), held));
            continue;
        }
        if let Some(from) = &held {
            registrations::delete_seat(conn, id)?;
            site_visits::give_back_seat(conn, from)?;
        }
        wanted.push((id.clone(), held, planned));
    }
    for (id, held, planned) in wanted {
        let mut got = None;
        if let Some(visit) = planned {
            if site_visits::try_take_seat(conn, &visit, true)? {
                registrations::insert_seat(conn, &id, &visit, now)?;
                got = Some(visit);
            } else {
                report.skipped += 1; // taken meanwhile: the person waits, as anyone would
            }
        }
        outcome.push((id, held, got));
    }
    events::mark_allocated(conn, &event.id, now)?;
    // From now on the event refills freed seats automatically; do it for what is free.
    let mut changes = Vec::new();
    seats::refill(
        conn,
        visits.iter().map(|v| v.id.clone()).collect(),
        now,
        &mut changes,
    )?;
    let mut others = Vec::new();
    for change in changes {
        match outcome
            .iter_mut()
            .find(|(id, _, _)| *id == change.registration_id)
        {
            // An offer is news of its own (it has a deadline): it gets its own email.
            Some(entry) if change.offered_until.is_none() => entry.2 = change.to_visit,
            _ => others.push(change),
        }
    }
    report.seats_changed = outcome.iter().filter(|(_, from, to)| from != to).count();
    for (id, from, to) in &outcome {
        if from != to || first_allocation {
            let notice = Notice {
                kind: EmailKind::SeatChanged,
                reason: Some(SeatReason::Allocated),
                previous_visit: from.as_deref().filter(|_| from != to),
                ended_offer: None,
                seat_changed: from != to,
            };
            notify::queue_for(conn, &event, &visits, id, notice, now)?;
        }
    }
    notify::side_effects(conn, &event, &visits, &others, &[], None, now)?;
    let entry = AuditEntry {
        event_id: Some(&event.id),
        actor,
        action: "allocation",
        subject: None,
        before: None,
        after: Some(json!({
            "participants": report.participants,
            "by_rank": report.by_rank,
            "unplaced": report.unplaced,
            "seats_changed": report.seats_changed,
            "skipped": report.skipped,
            "balance_countries": request.balance_countries,
            "seed": request.seed,
        })),
    };
    audit::record(conn, entry, now)?;
    Ok(report)
}
