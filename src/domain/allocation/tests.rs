use std::cmp::Reverse;
use std::iter;

use proptest::prelude::*;

use super::priority::priority_order;
use super::problem::{move_key, move_ranks, Cost};
use super::*;

const COUNTRIES: [[u8; 2]; 3] = [*b"BE", *b"IT", *b"PT"];

fn visits(capacities: &[u32]) -> Vec<Visit> {
    capacities.iter().map(|&capacity| Visit { capacity }).collect()
}

fn from(country: &[u8; 2], ranked: &[usize]) -> Participant {
    Participant {
        ranked: ranked.to_vec(),
        country: *country,
    }
}

fn ranking(ranked: &[usize]) -> Participant {
    from(b"BE", ranked)
}

fn by_registration() -> Options {
    Options::default()
}

#[test]
fn everybody_gets_a_first_choice_when_there_is_room() {
    let participants = [
        ranking(&[0, 1]),
        ranking(&[1, 0]),
        ranking(&[2]),
        ranking(&[0, 2, 1]),
    ];
    let plan = allocate(&visits(&[2, 1, 1]), &participants, &by_registration());
    assert_eq!(plan.assignment, [Some(0), Some(1), Some(2), Some(0)]);
    assert_eq!(plan.stats.by_rank, [4, 0, 0]);
    assert_eq!(plan.stats.unplaced, 0);
}

#[test]
fn beats_first_come_first_served() {
    // First come would seat A in x and leave B, who only wants x, out.
    let participants = [ranking(&[0, 1]), ranking(&[0])];
    let plan = allocate(&visits(&[1, 1]), &participants, &by_registration());
    assert_eq!(plan.assignment, [Some(1), Some(0)]);
    assert_eq!(plan.stats.by_rank, [1, 1]);
}

#[test]
fn a_first_choice_outweighs_placing_one_more_person() {
    // A in y and B in x would place both, at their second choices; A in x is one
    // first choice, which rank-maximality puts first.
    let participants = [ranking(&[0, 1]), ranking(&[2, 0])];
    let plan = allocate(&visits(&[1, 1, 0]), &participants, &by_registration());
    assert_eq!(plan.assignment, [Some(0), None]);
    assert_eq!(plan.stats.by_rank, [1, 0]);
    assert_eq!(plan.stats.unplaced, 1);
}

#[test]
fn zero_capacity_visits_take_nobody() {
    let participants = [ranking(&[0, 1]), ranking(&[0]), ranking(&[1, 0])];
    let plan = allocate(&visits(&[0, 2]), &participants, &by_registration());
    assert_eq!(plan.assignment, [Some(1), None, Some(1)]);
    assert_eq!(plan.stats.by_rank, [1, 1]);
    assert_eq!(plan.stats.unplaced, 1);
}

#[test]
fn participants_without_ranks_are_left_out_and_not_counted() {
    let participants = [from(b"PT", &[]), from(b"BE", &[0]), from(b"PT", &[])];
    let plan = allocate(&visits(&[5]), &participants, &by_registration());
    assert_eq!(plan.assignment, [None, Some(0), None]);
    assert_eq!(plan.stats.by_rank, [1]);
    assert_eq!(plan.stats.unplaced, 0);
    assert_eq!(plan.stats.per_country["PT"], [0]);
}

#[test]
fn no_participants_no_visits() {
    let plan = allocate(&[], &[], &by_registration());
    assert!(plan.assignment.is_empty());
    assert!(plan.stats.by_rank.is_empty());
    assert_eq!(plan.stats.country_spread, 0);
}

#[test]
#[should_panic(expected = "ranks visit 1 twice")]
fn repeated_ranks_are_refused() {
    allocate(&visits(&[1, 1]), &[ranking(&[1, 0, 1])], &by_registration());
}

#[test]
fn ties_go_to_earlier_registrants() {
    // Two first choices at most, and either A or C can have one of them.
    let participants = [ranking(&[0, 1]), ranking(&[1, 0]), ranking(&[0, 1])];
    let plan = allocate(&visits(&[1, 1]), &participants, &by_registration());
    assert_eq!(plan.assignment, [Some(0), Some(1), None]);

    let reversed: Vec<Participant> = participants.iter().rev().cloned().collect();
    let plan = allocate(&visits(&[1, 1]), &reversed, &by_registration());
    assert_eq!(plan.assignment, [Some(0), Some(1), None]);
}

#[test]
fn earlier_registrants_get_the_better_rank_of_a_tie() {
    // One of A and B gets x, the other y; the counts per rank are the same either way.
    let participants = [ranking(&[1, 0]), ranking(&[1, 0]), ranking(&[0])];
    let plan = allocate(&visits(&[1, 1]), &participants, &by_registration());
    assert_eq!(plan.assignment, [Some(1), None, Some(0)]);
}

#[test]
fn a_seeded_lottery_is_repeatable_and_depends_on_the_seed() {
    let participants = vec![ranking(&[0, 1]); 20];
    let lottery = |seed| Options {
        seed: Some(seed),
        ..Options::default()
    };
    let first = allocate(&visits(&[5, 5]), &participants, &lottery(7));
    assert_eq!(first, allocate(&visits(&[5, 5]), &participants, &lottery(7)));

    let draws: Vec<Plan> = (0..8)
        .map(|seed| allocate(&visits(&[5, 5]), &participants, &lottery(seed)))
        .collect();
    assert!(draws.iter().all(|plan| plan.stats.by_rank == [5, 5]));
    assert!(draws.iter().any(|plan| plan.assignment != first.assignment));
    let by_order = allocate(&visits(&[5, 5]), &participants, &by_registration());
    assert!(draws.iter().any(|plan| plan.assignment != by_order.assignment));
}

#[test]
fn balancing_spreads_a_dominant_country() {
    // Balance only chooses among rank-maximal allocations, so it needs ties: here all
    // rank the visits alike, the counts per rank are forced (25 of each), and who
    // goes where is open. The sixty Italians registered first, so registration order
    // alone would put them together in the first visits.
    let mut participants = vec![from(b"IT", &[0, 1, 2, 3]); 60];
    for country in [b"BE", b"ES", b"FR", b"PT"] {
        participants.extend(iter::repeat_n(from(country, &[0, 1, 2, 3]), 10));
    }
    let room = visits(&[25, 25, 25, 25]);
    let plain = allocate(&room, &participants, &by_registration());
    let balanced = allocate(
        &room,
        &participants,
        &Options {
            balance_countries: true,
            seed: None,
        },
    );

    assert_eq!(plain.stats.per_country["IT"], [25, 25, 10, 0]);
    assert_eq!(balanced.stats.per_country["IT"], [15, 15, 15, 15]);
    assert_eq!(balanced.stats.by_rank, plain.stats.by_rank);
    assert!(balanced.stats.country_spread < plain.stats.country_spread);
    assert_eq!(
        balanced.stats.country_spread,
        4 * 15 * 15 + 4 * (2 * 3 * 3 + 2 * 2 * 2)
    );
}

#[test]
fn move_keys_order_moves_like_their_cost_vectors() {
    for levels in 1..=4 {
        let vector = |(from, to): (usize, usize)| {
            let mut cost = vec![0; levels + 1];
            Cost::Move { from, to }.add_to(&mut cost);
            cost
        };
        let moves: Vec<(usize, usize)> = (0..=levels)
            .flat_map(|from| (0..=levels).map(move |to| (from, to)))
            .filter(|(f, t)| f != t)
            .collect();
        for &a in &moves {
            for &b in &moves {
                assert_eq!(move_ranks(move_key(a.0, a.1, levels), levels), a);
                let by_key = move_key(a.0, a.1, levels).cmp(&move_key(b.0, b.1, levels));
                assert_eq!(
                    by_key,
                    vector(a).cmp(&vector(b)),
                    "levels {levels}, moves {a:?} and {b:?}"
                );
            }
        }
    }
}

/// Participants with random rankings over a random number of visits.
fn instance(
    max_participants: usize,
    max_visits: usize,
    max_capacity: u32,
) -> impl Strategy<Value = (Vec<Visit>, Vec<Participant>)> {
    (1..=max_visits).prop_flat_map(move |visit_count| {
        let visits = prop::collection::vec(
            (0..=max_capacity).prop_map(|capacity| Visit { capacity }),
            visit_count,
        );
        let all: Vec<usize> = (0..visit_count).collect();
        let participant = (Just(all).prop_shuffle(), 0..=visit_count, 0..COUNTRIES.len()).prop_map(
            |(shuffled, length, country)| Participant {
                ranked: shuffled[..length].to_vec(),
                country: COUNTRIES[country],
            },
        );
        (visits, prop::collection::vec(participant, 0..=max_participants))
    })
}

/// The plan's assignment by exhaustive search: every feasible allocation, the best by
/// rank counts, then (when balancing) spread, then ranks in priority order.
fn brute_force(visits: &[Visit], participants: &[Participant], options: &Options) -> Vec<Option<usize>> {
    let mut search = Exhaustive {
        visits,
        participants,
        balance: options.balance_countries,
        order: priority_order(participants.len(), options.seed),
        levels: participants.iter().map(|p| p.ranked.len()).max().unwrap_or(0),
        assignment: vec![None; participants.len()],
        loads: vec![0; visits.len()],
        best: None,
    };
    search.extend(0);
    search.best.expect("leaving everybody out is always feasible").1
}

struct Exhaustive<'a> {
    visits: &'a [Visit],
    participants: &'a [Participant],
    balance: bool,
    order: Vec<usize>,
    levels: usize,
    assignment: Vec<Option<usize>>,
    loads: Vec<u32>,
    /// The best score so far and its assignment.
    best: Option<(Score, Vec<Option<usize>>)>,
}

/// Compares as "better is greater".
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    by_rank: Vec<usize>,
    spread: Reverse<u64>,
    priority_ranks: Reverse<Vec<usize>>,
}

impl Exhaustive<'_> {
    /// Tries every choice for participant `next` and everyone after them.
    fn extend(&mut self, next: usize) {
        if next == self.participants.len() {
            let score = self.score();
            if self.best.as_ref().is_none_or(|(best, _)| score > *best) {
                self.best = Some((score, self.assignment.clone()));
            }
            return;
        }
        self.extend(next + 1);
        for &visit in &self.participants[next].ranked {
            if self.loads[visit] < self.visits[visit].capacity {
                self.loads[visit] += 1;
                self.assignment[next] = Some(visit);
                self.extend(next + 1);
                self.assignment[next] = None;
                self.loads[visit] -= 1;
            }
        }
    }

    fn score(&self) -> Score {
        let rank = |p: usize| match self.assignment[p] {
            Some(visit) => self.participants[p]
                .ranked
                .iter()
                .position(|&v| v == visit)
                .unwrap(),
            None => self.levels,
        };
        let mut by_rank = vec![0; self.levels];
        let mut together = BTreeMap::new();
        for (p, visit) in self.assignment.iter().enumerate() {
            if let Some(visit) = visit {
                by_rank[rank(p)] += 1;
                *together
                    .entry((self.participants[p].country, *visit))
                    .or_insert(0u64) += 1;
            }
        }
        let spread = if self.balance {
            together.values().map(|n| n * n).sum()
        } else {
            0
        };
        Score {
            by_rank,
            spread: Reverse(spread),
            priority_ranks: Reverse(self.order.iter().map(|&p| rank(p)).collect()),
        }
    }
}

fn any_options() -> impl Strategy<Value = Options> {
    (any::<bool>(), proptest::option::of(any::<u64>())).prop_map(|(balance_countries, seed)| Options {
        balance_countries,
        seed,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matches_exhaustive_search((visits, participants) in instance(7, 3, 3), options in any_options()) {
        let plan = allocate(&visits, &participants, &options);
        prop_assert_eq!(plan.assignment, brute_force(&visits, &participants, &options));
    }

    #[test]
    fn plans_are_feasible_and_stats_agree((visits, participants) in instance(80, 6, 15), options in any_options()) {
        let plan = allocate(&visits, &participants, &options);
        prop_assert_eq!(plan.assignment.len(), participants.len());

        let mut loads = vec![0; visits.len()];
        let mut by_rank = vec![0; plan.stats.by_rank.len()];
        let mut per_country: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (participant, &placed) in participants.iter().zip(&plan.assignment) {
            let country = String::from_utf8(participant.country.to_vec()).unwrap();
            let counts = per_country.entry(country).or_insert_with(|| vec![0; visits.len()]);
            if let Some(visit) = placed {
                let rank = participant.ranked.iter().position(|&v| v == visit);
                prop_assert!(rank.is_some(), "placed in a visit they did not rank");
                by_rank[rank.unwrap()] += 1;
                loads[visit] += 1;
                counts[visit] += 1;
            }
        }
        for (load, visit) in loads.iter().zip(&visits) {
            prop_assert!(*load <= visit.capacity as usize);
        }
        let asked = participants.iter().filter(|p| !p.ranked.is_empty()).count();
        prop_assert_eq!(plan.stats.unplaced, asked - by_rank.iter().sum::<usize>());
        prop_assert_eq!(&plan.stats.by_rank, &by_rank);
        let spread: u64 = per_country.values().flatten().map(|&n| (n * n) as u64).sum();
        prop_assert_eq!(&plan.stats.per_country, &per_country);
        prop_assert_eq!(plan.stats.country_spread, spread);

        // Neither balance nor the tie-break ever costs a rank.
        let plain = allocate(&visits, &participants, &Options::default());
        prop_assert_eq!(&plan.stats.by_rank, &plain.stats.by_rank);
        if options.balance_countries {
            prop_assert!(plan.stats.country_spread <= plain.stats.country_spread);
        }
    }
}
