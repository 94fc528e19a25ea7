//! What organisers do: look at rosters and lists, move people, change capacities,
//! freeze rosters, run the preference allocation. Every change is audited and emailed in its own transaction, and goes
//! through the same seat rules (`seats`) as participants' own changes.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::allocation::{allocate, Options, Participant, Plan, Visit};
use super::audit::{self, AuditEntry};
use super::catalog::{self, EventView, SiteVisitView};
use super::country::country_name;
use super::error::DomainError;
use super::event::MAX_CAPACITY;
use super::event_rules::{
    event_timezone, find_event, find_event_with_visits, local_time, lock_for_seat_changes, seats_at_once,
};
use super::idempotency::{self, Answer, IdempotencyKey};
use super::input::Fields;
use super::notify::{self, Notice};
use super::seats;
use super::view::{registration_view, RegistrationView};
use crate::db::{Database, DbConnection, DbError};
use crate::mail::content::{EmailKind, SeatReason};
use crate::store::events::{self, EventRow};
use crate::store::registrations::RegistrationStatus::{self, Cancelled, Confirmed};
use crate::store::registrations::{self, RegistrationFilter, RegistrationRow};
use crate::store::site_visits::{self, SiteVisitRow};

fn find_visit(visits: &[SiteVisitRow], slug: &str) -> Result<SiteVisitRow, DomainError> {
    visits
        .iter()
        .find(|v| v.slug == slug)
        .cloned()
        .ok_or(DomainError::NotFound("site visit"))
}

fn slug_of(visits: &[SiteVisitRow], id: Option<&str>) -> Option<String> {
    id.and_then(|id| visits.iter().find(|v| v.id == id))
        .map(|v| v.slug.clone())
}

/// The registration of this event with this id.
pub fn find_registration(
    conn: &mut DbConnection,
    event: &EventRow,
    id: &str,
) -> Result<RegistrationRow, DomainError> {
    registrations::find(conn, id)?
        .filter(|r| r.event_id == event.id)
        .ok_or(DomainError::NotFound("registration"))
}

/// The target of a move, from `{site_visit: slug | null}`. The key must be present
/// (null, or a blank form value, removes the seat), so that a misspelt key never takes
/// a seat away.
pub fn parse_move_target(body: Map<String, Value>) -> Result<Option<String>, DomainError> {
    let mut fields = Fields::new(body);
    if !fields.contains("site_visit") {
        fields.error(
            "site_visit",
            "is required: a site-visit slug, or null to remove the seat",
        );
    }
    let target = fields.optional_text("site_visit", 64);
    fields.finish(|| Some(target))
}

/// Moves a registration into `target` (a visit slug) or out of every visit (`None`).
/// Capacity is absolute: a full visit is 409, frozen or not. The seat left behind is
/// refilled at once; the person is no longer moved automatically (an organiser decided).
pub fn move_participant(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    registration_id: &str,
    target: Option<&str>,
    now: NaiveDateTime,
) -> Result<RegistrationView, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    lock_for_seat_changes(conn, &event)?;
    let registration = find_registration(conn, &event, registration_id)?;
    let target = match target {
        Some(slug) => Some(find_visit(&visits, slug).map_err(|_| {
            DomainError::invalid(
                "site_visit",
                format!("`{slug}` is not a site visit of this event"),
            )
        })?),
        None => None,
    };
    let id = registration.id.as_str();
    if !registrations::change_status(conn, id, &[Confirmed], Confirmed, now)? {
        let current = registrations::find(conn, id)?.map(|r| r.status);
        return Err(if current == Some(Cancelled) {
            DomainError::RegistrationClosed("this registration is cancelled".into())
        } else {
            DomainError::CapacityExceeded("the person is on the event's waitlist: the event is full".into())
        });
    }
    // Before any refill, so that the seat this person leaves does not come straight back.
    registrations::set_auto_seat(conn, id, false)?;
    let held = registrations::seat(conn, id)?;
    let mut changes = Vec::new();
    if held.as_deref() != target.as_ref().map(|v| v.id.as_str()) {
        match (&target, &held) {
            (Some(visit), _) if !site_visits::try_take_seat(conn, &visit.id, false)? => {
                return Err(DomainError::CapacityExceeded(format!(
                    "{} is full ({} of {} seats taken)",
                    visit.name, visit.assigned, visit.capacity
                )));
            }
            (Some(visit), Some(from)) => {
                seats::move_to_taken_seat(conn, id, from, &visit.id, now, &mut changes)?
            }
            (Some(visit), None) => registrations::insert_seat(conn, id, &visit.id, now)?,
            (None, Some(_)) => {
                seats::release_seat(conn, id, now, &mut changes)?;
            }
            (None, None) => {}
        }
        let notice = Notice {
            kind: EmailKind::SeatChanged,
            reason: Some(if target.is_some() {
                SeatReason::Moved
            } else {
                SeatReason::Released
            }),
            previous_visit: held.as_deref(),
        };
        notify::queue_for(conn, &event, &visits, id, notice, now)?;
        notify::side_effects(conn, &event, &visits, &changes, &[], Some(id), now)?;
    }
    let entry = AuditEntry {
        event_id: Some(&event.id),
        actor,
        action: "move",
        subject: Some(id),
        before: Some(json!({ "site_visit": slug_of(&visits, held.as_deref()) })),
        after: Some(json!({ "site_visit": target.as_ref().map(|v| v.slug.clone()) })),
    };
    audit::record(conn, entry, now)?;
    let registration = find_registration(conn, &event, id)?;
    registration_view(conn, &event, &visits, &registration)
}

/// What an organiser may change on a visit.
#[derive(Clone, Debug, Default)]
pub struct VisitUpdate {
    pub capacity: Option<i32>,
    pub frozen: Option<bool>,
}

impl VisitUpdate {
    /// `{capacity?, frozen?}`: at least one of them.
    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let capacity = fields.optional_int("capacity", 0, MAX_CAPACITY).map(|c| c as i32);
        let frozen = fields.flag("frozen");
        if capacity.is_none()
            && frozen.is_none()
            && !fields.has_error("capacity")
            && !fields.has_error("frozen")
        {
            fields.error("capacity", "give a capacity, frozen, or both");
        }
        fields.finish(|| Some(Self { capacity, frozen }))
    }
}

/// Changes a visit's capacity (never below the seats taken; a raise refills at once)
/// and freezes or unfreezes its roster (a frozen roster changes only by hand).
pub fn update_site_visit(
    conn: &mut DbConnection,
    actor: &str,
    event_slug: &str,
    visit_slug: &str,
    update: &VisitUpdate,
    now: NaiveDateTime,
) -> Result<SiteVisitView, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    lock_for_seat_changes(conn, &event)?;
    let visit = find_visit(&visits, visit_slug)?;
    let automatic = seats_at_once(&event);
    let mut changes = Vec::new();
    if let Some(frozen) = update.frozen.filter(|f| *f != visit.frozen) {
        site_visits::set_frozen(conn, &visit.id, frozen, now)?;
        let entry = AuditEntry {
            event_id: Some(&event.id),
            actor,
            action: if frozen { "freeze" } else { "unfreeze" },
            subject: Some(&visit.slug),
            before: Some(json!({ "frozen": visit.frozen })),
            after: Some(json!({ "frozen": frozen })),
        };
        audit::record(conn, entry, now)?;
    }
    if let Some(capacity) = update.capacity.filter(|c| *c != visit.capacity) {
        if !seats::change_capacity(conn, &visit, capacity, false, now, &mut changes)? {
            return Err(DomainError::CapacityExceeded(format!(
                "{} seats of {} are taken: the capacity cannot go below that",
                visit.assigned, visit.name
            )));
        }
        let entry = AuditEntry {
            event_id: Some(&event.id),
            actor,
            action: "capacity",
            subject: Some(&visit.slug),
            before: Some(json!({ "capacity": visit.capacity })),
            after: Some(json!({ "capacity": capacity })),
        };
        audit::record(conn, entry, now)?;
    }
    if automatic {
        // A raise or an unfreeze can free seats (here, or for people whose upgrade the
        // freeze held back): every visit of the event is refilled.
        seats::refill(
            conn,
            visits.iter().map(|v| v.id.clone()).collect(),
            now,
            &mut changes,
        )?;
    }
    notify::side_effects(conn, &event, &visits, &changes, &[], None, now)?;
    catalog::event_view(conn, event_slug, now)?
        .site_visits
        .into_iter()
        .find(|v| v.slug == visit_slug)
        .ok_or(DomainError::NotFound("site visit"))
}

/// A person in a roster or list, as organisers see them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PersonEntry {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub organisation: String,
    pub country: String,
    pub country_name: String,
    pub status: RegistrationStatus,
    /// Which choice this visit was for them (1 = first), if they ranked it.
    pub rank: Option<usize>,
    /// The visit whose seat they hold, if any.
    pub site_visit: Option<String>,
    /// False when an organiser placed them: no automatic changes apply.
    pub auto_seat: bool,
    pub preferences: Vec<String>,
    pub registered_at: DateTime<FixedOffset>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WaitlistEntry {
    pub position: usize,
    #[serde(flatten)]
    pub person: PersonEntry,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Roster {
    pub site_visit: SiteVisitView,
    pub assigned: Vec<PersonEntry>,
    /// In the order seats will be given: people without a seat first, then people
    /// holding a seat they ranked lower, each by registration time.
    pub waitlist: Vec<WaitlistEntry>,
}

/// Builds entries for `rows`, loading their rankings and seats in two queries.
fn entries(
    conn: &mut DbConnection,
    event: &EventRow,
    visits: &[SiteVisitRow],
    rows: Vec<RegistrationRow>,
    rank_of: Option<&str>,
) -> Result<Vec<PersonEntry>, DomainError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let preferences = registrations::preferences_of(conn, &ids)?;
    let seats = registrations::seats_of(conn, &ids)?;
    let tz = event_timezone(event);
    Ok(rows
        .into_iter()
        .map(|row| {
            let ranked: Vec<&String> = preferences
                .iter()
                .filter(|(id, _, _)| *id == row.id)
                .map(|(_, _, visit)| visit)
                .collect();
            let seat = seats
                .iter()
                .find(|(id, _)| *id == row.id)
                .map(|(_, v)| v.as_str());
            PersonEntry {
                rank: rank_of.and_then(|visit| ranked.iter().position(|v| *v == visit).map(|p| p + 1)),
                site_visit: slug_of(visits, seat),
                preferences: ranked.iter().filter_map(|v| slug_of(visits, Some(v))).collect(),
                country_name: country_name(&row.country).to_owned(),
                registered_at: local_time(tz, row.created_at),
                id: row.id,
                first_name: row.first_name,
                last_name: row.last_name,
                email: row.email,
                organisation: row.organisation,
                country: row.country,
                status: row.status,
                auto_seat: row.auto_seat,
            }
        })
        .collect())
}

/// Longest waitlist a roster shows.
const ROSTER_WAITLIST_LIMIT: i64 = 10_000;

pub fn roster(
    conn: &mut DbConnection,
    event_slug: &str,
    visit_slug: &str,
    now: NaiveDateTime,
) -> Result<Roster, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let visit = find_visit(&visits, visit_slug)?;
    let seated: Vec<RegistrationRow> = registrations::seated_in(conn, &visit.id)?
        .into_iter()
        .map(|(row, _)| row)
        .collect();
    let assigned = entries(conn, &event, &visits, seated, Some(&visit.id))?;
    let waiting = registrations::waiting_for(conn, &visit.id, true, ROSTER_WAITLIST_LIMIT)?;
    let mut rows = registrations::find_many(conn, &waiting)?;
    rows.sort_by_key(|row| waiting.iter().position(|id| *id == row.id));
    let waitlist = entries(conn, &event, &visits, rows, Some(&visit.id))?
        .into_iter()
        .enumerate()
        .map(|(index, person)| WaitlistEntry {
            position: index + 1,
            person,
        })
        .collect();
    let site_visit = catalog::event_view(conn, event_slug, now)?
        .site_visits
        .into_iter()
        .find(|v| v.slug == visit_slug)
        .ok_or(DomainError::NotFound("site visit"))?;
    Ok(Roster {
        site_visit,
        assigned,
        waitlist,
    })
}

/// Everything the organisers' board shows: the event with its counts, every visit's
/// roster and waitlist, and the confirmed people who hold no seat.
#[derive(Clone, Debug, Serialize)]
pub struct Board {
    pub event: EventView,
    pub rosters: Vec<Roster>,
    pub without_seat: Vec<PersonEntry>,
}

pub fn board(conn: &mut DbConnection, event_slug: &str, now: NaiveDateTime) -> Result<Board, DomainError> {
    let view = catalog::event_view(conn, event_slug, now)?;
    let rosters = view
        .site_visits
        .iter()
        .map(|visit| roster(conn, event_slug, &visit.slug, now))
        .collect::<Result<Vec<_>, _>>()?;
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let rows = registrations::confirmed_without_seat(conn, &event.id)?;
    let without_seat = entries(conn, &event, &visits, rows, None)?;
    Ok(Board {
        event: view,
        rosters,
        without_seat,
    })
}

/// The list filters as given (slugs, codes), resolved against the event.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub status: Option<RegistrationStatus>,
    pub country: Option<String>,
    pub site_visit: Option<String>,
    pub search: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RegistrationPage {
    pub registrations: Vec<PersonEntry>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub fn list_registrations(
    conn: &mut DbConnection,
    event_slug: &str,
    query: &ListQuery,
) -> Result<RegistrationPage, DomainError> {
    let (event, visits) = find_event_with_visits(conn, event_slug)?;
    let site_visit_id = match &query.site_visit {
        Some(slug) => Some(
            find_visit(&visits, slug)
                .map_err(|_| {
                    DomainError::invalid(
                        "site_visit",
                        format!("`{slug}` is not a site visit of this event"),
                    )
                })?
                .id,
        ),
        None => None,
    };
    let filter = RegistrationFilter {
        status: query.status,
        country: query.country.clone(),
        site_visit_id,
        search: query.search.clone(),
    };
    let (rows, total) = registrations::list_for_event(conn, &event.id, &filter, query.limit, query.offset)?;
    Ok(RegistrationPage {
        registrations: entries(conn, &event, &visits, rows, None)?,
        total,
        limit: query.limit,
        offset: query.offset,
    })
}

/// The event's audit trail (admins).
pub fn audit_trail(
    conn: &mut DbConnection,
    event_slug: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<audit::AuditView>, DomainError> {
    let event = find_event(conn, event_slug)?;
    audit::list(conn, &event.id, limit, offset)
}

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

/// Applies a plan made from a snapshot, in one transaction. Registrations keep arriving
/// meanwhile: every seat is still taken by the conditional claim (never overbooking),
/// people who cancelled or were moved by hand meanwhile are left alone, newcomers keep
/// what they have, and seats still free at the end go to the waitlists as usual.
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
            Some(entry) => entry.2 = change.to_visit,
            None => others.push(change),
        }
    }
    report.seats_changed = outcome.iter().filter(|(_, from, to)| from != to).count();
    for (id, from, to) in &outcome {
        if from != to || first_allocation {
            let notice = Notice {
                kind: EmailKind::SeatChanged,
                reason: Some(SeatReason::Allocated),
                previous_visit: from.as_deref().filter(|_| from != to),
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
