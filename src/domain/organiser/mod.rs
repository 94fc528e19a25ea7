//! What organisers do: look at rosters and lists, move people, change capacities,
//! freeze rosters, run the preference allocation. Every change is audited and emailed in
//! its own transaction, and goes through the same seat rules (`seats`) as participants'
//! own changes.
//!
//! One file per job: `moves` (moving a person), `visits` (a visit's capacity and
//! freeze), `rosters` (rosters, lists, the audit trail), `overview` (the
//! counts behind an event's overview page), `allocation`
//! (the preference allocation, planned and applied). This file holds the helpers they
//! share and re-exports everything, so callers name `domain::organiser::…` only.

mod allocation;
mod moves;
mod overview;
mod roster_page;
mod rosters;
mod visits;

pub use allocation::{
    allocation_input, apply_allocation, plan_allocation, report_for, run_allocation, AllocationInput,
    AllocationReport, AllocationRequest, PlannedSeat,
};
pub use moves::{move_participant, parse_move_target};
pub use overview::{overview, DayCount, Overview};
pub use roster_page::{
    names_of, roster_page, RosterOf, RosterPage, RosterQuery, RosterRow, RosterSort, RowStatus,
    ROSTER_PAGE_SIZE,
};
pub use rosters::{
    audit_trail, list_registrations, roster, ListQuery, PersonEntry, RegistrationPage, Roster, SeatedEntry,
    WaitlistEntry,
};
pub use visits::{update_site_visit, VisitUpdate};

use super::error::DomainError;
use crate::db::DbConnection;
use crate::store::events::EventRow;
use crate::store::registrations::{self, RegistrationRow};
use crate::store::site_visits::SiteVisitRow;

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
