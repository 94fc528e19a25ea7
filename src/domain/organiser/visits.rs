//! A visit's capacity and the freeze of its roster.

use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

use super::find_visit;
use crate::db::DbConnection;
use crate::domain::audit::{self, AuditEntry};
use crate::domain::catalog::{self, SiteVisitView};
use crate::domain::error::DomainError;
use crate::domain::event::MAX_CAPACITY;
use crate::domain::event_rules::{find_event_with_visits, lock_for_seat_changes, seats_at_once};
use crate::domain::input::Fields;
use crate::domain::notify;
use crate::domain::seats;
use crate::store::site_visits;

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
