//! The seat rules, in one place.
//!
//! - Invariant 1 (never over capacity): a seat is only ever taken through
//!   `site_visits::try_take_seat`, a conditional `UPDATE … WHERE assigned < capacity`
//!   whose affected-row count decides; the CHECK constraint is the backstop.
//! - Invariant 3 (one seat per person): `seat_assignments` is keyed by registration.
//! - Invariant 4 (freed seats refill at once): every path that frees a seat calls
//!   [`refill`] in the same transaction. A freed seat goes first to the earliest
//!   registration (by registration time) that ranked the visit and has no seat at all;
//!   only when nobody is left without a seat does it go to the earliest registration
//!   holding a seat it ranked lower, which moves up — and the seat it leaves is refilled
//!   the same way. Everybody gets a visit before anybody gets an upgrade.
//!
//! Lock order, on PostgreSQL: every change of existing people's seats takes the event's
//! seat-change lock first (`event_rules::lock_for_seat_changes`), then visit rows (by
//! the seat claims), then people's rows (by `lock_confirmed`, the person's seat re-read
//! after the lock, so two transactions never hand the same person two seats). A
//! registration locks only the visit whose seat it claims; one that finds its visits
//! full takes the event's lock, claims again and joins the queues. No two transactions
//! wait for each other in a circle.

use std::collections::VecDeque;

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::db::DbConnection;
use crate::store::{events, offers, registrations, site_visits};

/// A seat that changed hands as a side effect (the person must hear about it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatChange {
    pub registration_id: String,
    pub from_visit: Option<String>,
    pub to_visit: Option<String>,
    /// Set when `to_visit` is only offered, until then (`from_visit` is still held).
    pub offered_until: Option<NaiveDateTime>,
}

/// Safety net against a livelock if the data were ever inconsistent.
const MAX_STEPS: usize = 100_000;

/// Takes a seat in the best-ranked visit that has room; `None` means waitlisted.
pub fn claim_best_seat(
    conn: &mut DbConnection,
    registration_id: &str,
    ranked_visits: &[String],
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    for visit in ranked_visits {
        if registrations::claim_seat(conn, registration_id, visit, now)? {
            return Ok(Some(visit.clone()));
        }
    }
    Ok(None)
}

/// Gives up the registration's seat, if any, and refills it.
pub fn release_seat(
    conn: &mut DbConnection,
    registration_id: &str,
    now: NaiveDateTime,
    changes: &mut Vec<SeatChange>,
) -> QueryResult<Option<String>> {
    let Some(visit) = registrations::seat(conn, registration_id)? else {
        return Ok(None);
    };
    registrations::delete_seat(conn, registration_id)?;
    site_visits::give_back_seat(conn, &visit)?;
    refill(conn, vec![visit.clone()], now, changes)?;
    Ok(Some(visit))
}

/// Moves a seated registration to `to` (a seat there is already taken by the caller)
/// and refills the seat it leaves.
pub fn move_to_taken_seat(
    conn: &mut DbConnection,
    registration_id: &str,
    from: &str,
    to: &str,
    now: NaiveDateTime,
    changes: &mut Vec<SeatChange>,
) -> QueryResult<()> {
    registrations::move_seat(conn, registration_id, to, now)?;
    site_visits::give_back_seat(conn, from)?;
    refill(conn, vec![from.to_owned()], now, changes)
}

/// Gives free seats of `visits` to the people waiting for them (invariant 4), following
/// the chain of upgrades until no seat is free or nobody waits. When the event makes
/// offers and the visit is not too close (`offers::deadline`), the seat is held for the
/// person as an offer instead of given (rule 10: it stays taken); an offer the person
/// held for a visit they ranked lower gives way to it, and that seat is refilled in
/// turn.
pub fn refill(
    conn: &mut DbConnection,
    visits: Vec<String>,
    now: NaiveDateTime,
    changes: &mut Vec<SeatChange>,
) -> QueryResult<()> {
    let mut queue: VecDeque<String> = visits.into();
    let mut steps = 0;
    while let Some(visit) = queue.pop_front() {
        let terms = offers::terms(conn, &visit)?;
        while steps < MAX_STEPS {
            steps += 1;
            if !site_visits::try_take_seat(conn, &visit, true)? {
                break;
            }
            let Some(candidate) = registrations::next_waiting(conn, &visit)? else {
                site_visits::give_back_seat(conn, &visit)?;
                break;
            };
            if !registrations::lock_confirmed(conn, &candidate, now)? {
                // Cancelled meanwhile (PostgreSQL): the next query no longer sees them.
                site_visits::give_back_seat(conn, &visit)?;
                continue;
            }
            let held = registrations::seat(conn, &candidate)?;
            let offer = offers::of(conn, &candidate)?;
            let ranked = registrations::preferences(conn, &candidate)?;
            let holding = better_of(
                &ranked,
                held.as_deref(),
                offer.as_ref().map(|o| o.site_visit_id.as_str()),
            );
            if !wants_seat(&ranked, holding, &visit) {
                site_visits::give_back_seat(conn, &visit)?;
                continue;
            }
            // An offer for a visit ranked lower gives way: its seat goes on.
            if let Some(old) = &offer {
                offers::end(conn, &candidate, &old.site_visit_id)?;
                site_visits::give_back_seat(conn, &old.site_visit_id)?;
                queue.push_back(old.site_visit_id.clone());
            }
            let offered_until = deadline(&terms, now);
            match (&held, offered_until) {
                (_, Some(expires_at)) => {
                    offers::insert(
                        conn,
                        &offers::OfferRow {
                            registration_id: candidate.clone(),
                            event_id: terms.event_id.clone(),
                            site_visit_id: visit.clone(),
                            offered_at: now,
                            expires_at,
                        },
                    )?;
                    registrations::sync_queues(conn, &candidate)?;
                }
                (None, None) => registrations::insert_seat(conn, &candidate, &visit, now)?,
                (Some(old), None) => {
                    registrations::move_seat(conn, &candidate, &visit, now)?;
                    if offer.is_some() {
                        // The offer that gave way had kept them out of queues.
                        registrations::sync_queues(conn, &candidate)?;
                    }
                    site_visits::give_back_seat(conn, old)?;
                    queue.push_back(old.clone());
                }
            }
            changes.push(SeatChange {
                registration_id: candidate,
                from_visit: held,
                to_visit: Some(visit.clone()),
                offered_until,
            });
        }
    }
    if steps >= MAX_STEPS {
        tracing::error!("refill stopped after {MAX_STEPS} steps; the waitlist data looks inconsistent");
    }
    Ok(())
}

/// Until when a seat of a visit with these terms is held for the next person, or
/// `None` when it is given at once: the event makes no offers, or the visit starts
/// within its cut-off. An offer never runs past the cut-off: the window shrinks as the
/// visit comes closer.
pub fn deadline(terms: &offers::OfferTerms, now: NaiveDateTime) -> Option<NaiveDateTime> {
    let window = terms.window_hours?;
    let cutoff = terms.starts_at - chrono::Duration::hours(i64::from(terms.cutoff_hours));
    (now < cutoff).then(|| (now + chrono::Duration::hours(i64::from(window))).min(cutoff))
}

/// Of a held seat and an offered one, the one the person ranked better (what a new
/// seat has to beat).
pub fn better_of<'a>(ranked: &[String], held: Option<&'a str>, offered: Option<&'a str>) -> Option<&'a str> {
    let rank = |visit: &str| ranked.iter().position(|v| v == visit);
    match (held, offered) {
        (Some(h), Some(o)) if rank(o).is_some_and(|ro| rank(h).is_none_or(|rh| ro < rh)) => Some(o),
        (Some(h), _) => Some(h),
        (None, o) => o,
    }
}

/// Whether a person ranking `ranked` and holding `held` would move to `visit`.
pub fn wants_seat(ranked: &[String], held: Option<&str>, visit: &str) -> bool {
    let Some(wanted) = ranked.iter().position(|v| v == visit) else {
        return false;
    };
    match held {
        None => true,
        Some(held) => ranked.iter().position(|v| v == held).is_some_and(|h| wanted < h),
    }
}

/// Confirms people from the event-wide waitlist while places are free, and seats them
/// when the event gives seats at registration.
pub fn promote_event_waitlist(
    conn: &mut DbConnection,
    event: &events::EventRow,
    seat_at_once: bool,
    now: NaiveDateTime,
    changes: &mut Vec<SeatChange>,
) -> QueryResult<Vec<String>> {
    let mut confirmed = Vec::new();
    if event.capacity.is_none() {
        return Ok(confirmed);
    }
    for _ in 0..MAX_STEPS {
        let Some(candidate) = registrations::first_event_waitlisted(conn, &event.id)? else {
            break;
        };
        if !events::try_take_place(conn, &event.id)? {
            break;
        }
        if !registrations::change_status(
            conn,
            &candidate,
            registrations::RegistrationStatus::Waitlisted,
            registrations::RegistrationStatus::Confirmed,
            now,
        )? {
            events::give_back_place(conn, &event.id)?;
            continue;
        }
        if seat_at_once {
            let ranked = registrations::preferences(conn, &candidate)?;
            if let Some(visit) = claim_best_seat(conn, &candidate, &ranked, now)? {
                // The claim is the registration hot path's: it leaves the queues the
                // new status joined to the sync.
                registrations::sync_queues(conn, &candidate)?;
                changes.push(SeatChange {
                    registration_id: candidate.clone(),
                    from_visit: None,
                    to_visit: Some(visit),
                    offered_until: None,
                });
            }
        }
        confirmed.push(candidate);
    }
    Ok(confirmed)
}

/// Sets a visit's capacity; false when it would fall below the seats taken. A raise
/// refills at once.
pub fn change_capacity(
    conn: &mut DbConnection,
    visit: &site_visits::SiteVisitRow,
    capacity: i32,
    refill_now: bool,
    now: NaiveDateTime,
    changes: &mut Vec<SeatChange>,
) -> QueryResult<bool> {
    if !site_visits::set_capacity(conn, &visit.id, capacity, now)? {
        return Ok(false);
    }
    if capacity > visit.capacity && refill_now {
        refill(conn, vec![visit.id.clone()], now, changes)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::wants_seat;

    fn ranked(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_better_ranked_seats_are_wanted() {
        let r = ranked(&["a", "b", "c"]);
        assert!(wants_seat(&r, None, "c"));
        assert!(wants_seat(&r, Some("c"), "a"));
        assert!(!wants_seat(&r, Some("a"), "b"));
        assert!(!wants_seat(&r, Some("b"), "b"));
        assert!(!wants_seat(&r, None, "z"));
        // A seat the person never ranked (an organiser placed them) is kept.
        assert!(!wants_seat(&r, Some("z"), "a"));
    }
}
