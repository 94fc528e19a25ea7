//! Optimal allocation of participants to parallel, capacity-limited site visits, from
//! their ranked preferences. Pure: no database, no I/O.
//!
//! # What [`allocate`] optimises, in order
//!
//! 1. **Feasibility.** Nobody is placed above a visit's capacity, in a visit they did not
//!    rank, or in more than one visit.
//! 2. **Rank-maximality.** The most first choices; subject to that, the most second
//!    choices; then third, and so on ([`Stats::by_rank`] is maximised lexicographically).
//!    This is not the same as placing as many people as possible: if A ranks `[x, y]`,
//!    B ranks `[z, x]` and only `x` and `y` have a seat, A in `x` (one first choice) beats
//!    A in `y` and B in `x` (two second choices), and B stays out, because the product
//!    design puts first choices first.
//! 3. **Country balance**, only with [`Options::balance_countries`]: the smallest
//!    [`Stats::country_spread`], the sum over countries and visits of the square of how
//!    many of that country's participants are in that visit. Squares make a tenth
//!    compatriot in a group cost more than a second one elsewhere, so each country spreads
//!    out. Balance only chooses among the rank-maximal allocations: the counts per rank
//!    never change for it, although one person may get a worse choice if someone else
//!    gets that better choice instead.
//! 4. **Priority.** Among the allocations still tied, the one best for the first
//!    participant in priority order, then for the second, and so on, where a better rank
//!    is better and being left out is worst. Priority is registration order (the order
//!    of `participants`) or, with [`Options::seed`], a lottery: a shuffle of that order
//!    by SplitMix64 seeded with the seed, so the same seed always draws the same order.
//!
//! Balance comes before priority: priority only decides among allocations that are
//! already as even as possible, so an organiser who asks for balance gets it in full and
//! an early registration still counts wherever balance leaves a choice.
//!
//! Participants who ranked nothing take no part: they are never placed and are not
//! counted in [`Stats::unplaced`] (which counts those who asked for a place and did not
//! get one). [`allocate`] panics if a ranking names a visit out of range or the same
//! visit twice; rankings are checked at the edge.
//!
//! # How
//!
//! Items 2 and 3 are minimum-cost flows, participant → visit → sink, in which the cost of
//! a participant in their r-th choice is the vector `−e_r` (one component per rank),
//! followed by a spread component, and costs compare lexicographically. Vector costs
//! state the priorities exactly, where a single number would need weights like
//! `(N+1)^ranks`, far beyond `i64` for 100,000 participants and twenty ranks.
//!
//! Participants are not nodes of the graph. The nodes are *slots*, one per (group,
//! option) — the options being the visits plus "unplaced", which has no limit — plus one
//! node per option and a sink. An arc from slot (g, a) to slot (g, b) stands for "the
//! participant of group g now in a for whom moving to b costs least", kept in a heap per
//! arc; a slot's arc up to its visit carries the group's marginal spread `2n + 1`. So the
//! graph has a few dozen nodes, or a few hundred with countries as groups, however many
//! people register.
//!
//! Successive shortest paths solve each flow: everybody whose best choice has room
//! simply takes it (no rearrangement improves on a best choice), and each remaining
//! participant enters along a shortest path found by Dijkstra on reduced costs,
//! displacing others along the way. The final node potentials are an optimal dual
//! solution, and complementary slackness then describes *every* optimal allocation at
//! once: each participant may only hold options of zero reduced cost, and the count of
//! each slot and option must stay within bounds read off the potentials.
//!
//! The stages build on that. The rank stage solves item 2 with a single group. The
//! balance stage solves items 2 and 3 with countries as groups, but restricts everybody
//! to the options they hold in some rank-maximal allocation: no optimal allocation is
//! lost, and most participants are left with one option, which keeps the larger graph
//! quick to search. Item 4 then works on the last stage's set of optimal allocations:
//! in priority order, each participant is fixed in the best option for which those not
//! yet fixed can still be rearranged, a path search in the same graph.

mod flow;
mod optimal;
mod priority;
mod problem;
mod search;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;

use flow::Flow;
use optimal::OptimalSet;
use priority::priority_order;
use problem::Problem;

/// A site visit, as far as allocation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visit {
    pub capacity: u32,
}

/// A participant, in registration order within the slice given to [`allocate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// Visit indices, best first, without repeats; may be empty.
    pub ranked: Vec<usize>,
    /// ISO 3166-1 alpha-2, upper-case ASCII.
    pub country: [u8; 2],
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Among rank-maximal allocations, spread each country as evenly as possible.
    pub balance_countries: bool,
    /// Break the remaining ties by a lottery drawn from this seed instead of by
    /// registration order.
    pub seed: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Per participant, the visit index they are placed in, if any.
    pub assignment: Vec<Option<usize>>,
    pub stats: Stats,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// `by_rank[r]`: how many participants got their (r+1)-th choice; as long as the
    /// longest ranking.
    pub by_rank: Vec<usize>,
    /// Participants who ranked at least one visit and got none.
    pub unplaced: usize,
    /// For every country among the participants, how many of them each visit holds.
    pub per_country: BTreeMap<String, Vec<usize>>,
    /// Sum over countries and visits of the squared count: lower is more even.
    pub country_spread: u64,
}

/// Assigns participants to visits; see the module documentation for what is optimised.
///
/// # Panics
///
/// If a ranking names a visit index out of range, or the same visit twice.
pub fn allocate(visits: &[Visit], participants: &[Participant], options: &Options) -> Plan {
    check_rankings(visits.len(), participants);
    let order = priority_order(participants.len(), options.seed);
    let ranks = Problem::ranks(visits, participants);
    let rank_maximal = OptimalSet::new(Flow::solve(&ranks, &order));
    let balance;
    let mut optimal = if options.balance_countries {
        balance = rank_maximal.balance_problem(participants);
        OptimalSet::new(Flow::solve(&balance, &order))
    } else {
        rank_maximal
    };
    optimal.apply_priority(&order);
    let assignment = optimal.assignment();
    let stats = Stats::new(visits.len(), participants, &assignment);
    Plan { assignment, stats }
}

impl Stats {
    fn new(visit_count: usize, participants: &[Participant], assignment: &[Option<usize>]) -> Self {
        let levels = participants.iter().map(|p| p.ranked.len()).max().unwrap_or(0);
        let mut by_rank = vec![0; levels];
        let mut unplaced = 0;
        let mut per_country = BTreeMap::new();
        for (participant, &visit) in participants.iter().zip(assignment) {
            let country = String::from_utf8_lossy(&participant.country).into_owned();
            let counts = per_country.entry(country).or_insert_with(|| vec![0; visit_count]);
            match visit {
                Some(visit) => {
                    let rank = participant.ranked.iter().position(|&v| v == visit);
                    by_rank[rank.expect("placed only in a ranked visit")] += 1;
                    counts[visit] += 1;
                }
                None if !participant.ranked.is_empty() => unplaced += 1,
                None => {}
            }
        }
        let country_spread = per_country.values().flatten().map(|&n| (n as u64).pow(2)).sum();
        Self {
            by_rank,
            unplaced,
            per_country,
            country_spread,
        }
    }
}

/// Marks "no node" and "not in the network yet".
const NONE: usize = usize::MAX;

fn check_rankings(visit_count: usize, participants: &[Participant]) {
    let mut seen_by = vec![NONE; visit_count];
    for (index, participant) in participants.iter().enumerate() {
        for &visit in &participant.ranked {
            assert!(
                visit < visit_count,
                "participant {index} ranks visit {visit} of {visit_count}"
            );
            assert!(
                seen_by[visit] != index,
                "participant {index} ranks visit {visit} twice"
            );
            seen_by[visit] = index;
        }
    }
}
