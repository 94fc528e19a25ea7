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

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::iter;

use serde::Serialize;

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

/// One stage of the problem as the solver sees it. The options are the visits plus one
/// more, "unplaced", which has no limit, so every participant can always be routed
/// somewhere.
struct Problem {
    /// Seat limit per option; `usize::MAX` for unplaced.
    capacity: Vec<usize>,
    /// Per participant, their group: their country when balancing, otherwise 0 for all,
    /// since the graph only needs to tell countries apart when that costs something.
    group: Vec<usize>,
    groups: usize,
    /// The longest ranking: the number of rank components in a cost vector.
    levels: usize,
    balance: bool,
    /// `choices[choice_start[p]..choice_start[p + 1]]`: the (rank, option) pairs
    /// participant `p` may be given, best first; unplaced has rank `levels`.
    choice_start: Vec<usize>,
    choices: Vec<(usize, usize)>,
}

/// What a node index stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    /// The participants of one group holding one option.
    Slot {
        group: usize,
        option: usize,
    },
    /// Everybody holding the option (a visit, or unplaced); its arc to the sink has the
    /// option's capacity.
    Visit(usize),
    Sink,
}

impl Problem {
    /// The rank stage: everybody in one group, with all their ranked visits and then
    /// unplaced. Participants who ranked nothing have no choices and stay out.
    fn ranks(visits: &[Visit], participants: &[Participant]) -> Self {
        let levels = participants.iter().map(|p| p.ranked.len()).max().unwrap_or(0);
        let mut choice_start = Vec::with_capacity(participants.len() + 1);
        let mut choices = Vec::new();
        for participant in participants {
            choice_start.push(choices.len());
            if !participant.ranked.is_empty() {
                choices.extend(participant.ranked.iter().copied().enumerate());
                choices.push((levels, visits.len()));
            }
        }
        choice_start.push(choices.len());
        let capacity = visits.iter().map(|v| v.capacity as usize);
        Self {
            capacity: capacity.chain(iter::once(usize::MAX)).collect(),
            group: vec![0; participants.len()],
            groups: 1,
            levels,
            balance: false,
            choice_start,
            choices,
        }
    }

    fn participant_count(&self) -> usize {
        self.group.len()
    }

    fn options(&self) -> usize {
        self.capacity.len()
    }

    fn unplaced(&self) -> usize {
        self.capacity.len() - 1
    }

    /// Components of a cost vector: one per rank, then the spread.
    fn dim(&self) -> usize {
        self.levels + 1
    }

    fn choices(&self, participant: usize) -> &[(usize, usize)] {
        &self.choices[self.choice_start[participant]..self.choice_start[participant + 1]]
    }

    fn rank(&self, participant: usize, option: usize) -> usize {
        let choice = self
            .choices(participant)
            .iter()
            .find(|&&(_, choice)| choice == option);
        choice.expect("one of the participant's choices").0
    }

    /// The cost of a slot's arc up to its visit when the slot holds `load` participants.
    fn spread_up(&self, option: usize, load: usize) -> Cost {
        if self.balance && option != self.unplaced() {
            Cost::Spread(2 * load as i64 + 1)
        } else {
            Cost::Zero
        }
    }

    /// The (negative) cost of sending one of a slot's `load` participants back down.
    fn spread_down(&self, option: usize, load: usize) -> Cost {
        match self.spread_up(option, load - 1) {
            Cost::Spread(up) => Cost::Spread(-up),
            other => other,
        }
    }

    fn slot(&self, group: usize, option: usize) -> usize {
        group * self.options() + option
    }

    fn visit_node(&self, option: usize) -> usize {
        self.groups * self.options() + option
    }

    fn sink(&self) -> usize {
        (self.groups + 1) * self.options()
    }

    fn node_count(&self) -> usize {
        self.sink() + 1
    }

    fn node(&self, index: usize) -> Node {
        let options = self.options();
        match index / options {
            group if group < self.groups => Node::Slot {
                group,
                option: index % options,
            },
            group if group == self.groups => Node::Visit(index % options),
            _ => Node::Sink,
        }
    }

    /// Index into the per-(slot, target option) tables of possible moves.
    fn move_index(&self, slot: usize, target: usize) -> usize {
        slot * self.options() + target
    }
}

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

/// Registration order, or a lottery drawn from the seed.
fn priority_order(count: usize, seed: Option<u64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    if let Some(seed) = seed {
        let mut random = SplitMix64(seed);
        for i in (1..count).rev() {
            order.swap(i, random.below(i as u64 + 1) as usize);
        }
    }
    order
}

/// SplitMix64 (Steele, Lea and Flood, 2014). Written out rather than taken from `rand`
/// because its stream is fixed forever: a lottery can be re-drawn and audited from its
/// seed after any dependency upgrade, which `rand`'s `StdRng` does not promise.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound`, without modulo bias (Lemire's multiply-and-reject).
    fn below(&mut self, bound: u64) -> u64 {
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next()) * u128::from(bound);
            if product as u64 >= threshold {
                return (product >> 64) as u64;
            }
        }
    }
}

/// The raw cost of an arc, added onto a cost vector (ranks first, spread last).
#[derive(Clone, Copy, Debug)]
enum Cost {
    Zero,
    /// A participant goes from rank `from` to rank `to`: `e_from − e_to`, where the
    /// unplaced "rank" (`levels`) has no component.
    Move {
        from: usize,
        to: usize,
    },
    /// A change in country spread.
    Spread(i64),
}

impl Cost {
    fn add_to(self, vector: &mut [i64]) {
        let levels = vector.len() - 1;
        match self {
            Cost::Zero => {}
            Cost::Move { from, to } => {
                if from < levels {
                    vector[from] += 1;
                }
                if to < levels {
                    vector[to] -= 1;
                }
            }
            Cost::Spread(amount) => vector[levels] += amount,
        }
    }
}

/// Orders moves from rank `from` to rank `to` (`levels` = unplaced) as their costs
/// `e_from − e_to` compare lexicographically, so a heap can hand out the cheapest move
/// without building vectors: gains first, the best new rank first and then the worst
/// old one; then losses, of the worst old rank first and then to the best new one.
fn move_key(from: usize, to: usize, levels: usize) -> u64 {
    let (from, to, levels) = (from as u64, to as u64, levels as u64);
    if to < from {
        (to << 32) | (levels - from)
    } else {
        (1 << 63) | ((levels - from) << 32) | to
    }
}

/// The ranks `(from, to)` a [`move_key`] was made from.
fn move_ranks(key: u64, levels: usize) -> (usize, usize) {
    let (high, low) = (((key >> 32) & 0x7FFF_FFFF) as usize, (key & 0xFFFF_FFFF) as usize);
    if key >> 63 == 0 {
        (levels - low, high)
    } else {
        (levels - high, low)
    }
}

/// A minimum-cost flow over slots, solved by successive shortest paths.
struct Flow<'p> {
    problem: &'p Problem,
    /// The option each participant holds, or `NONE` before they enter the network.
    position: Vec<usize>,
    /// Participants per slot: the flow from slot to visit node.
    slot_load: Vec<usize>,
    /// Participants per option: the flow from visit node to sink.
    load: Vec<usize>,
    /// Per slot and target option, the participants in the slot who may move to the
    /// target, cheapest move first. An entry goes stale when its participant moves on; stale
    /// entries are dropped as they reach the top, so the top is always current.
    movers: Vec<BinaryHeap<Reverse<(u64, u32)>>>,
    /// The key of each heap's top, `u64::MAX` when empty: all a search needs to know
    /// about an arc, in one flat array rather than behind a heap and a participant.
    cheapest: Vec<u64>,
    /// Node potentials, `dim` components per node. Reduced costs stay non-negative.
    potential: Vec<i64>,
    search: Search,
}

impl<'p> Flow<'p> {
    fn new(problem: &'p Problem) -> Self {
        let slots = problem.groups * problem.options();
        Self {
            problem,
            position: vec![NONE; problem.participant_count()],
            slot_load: vec![0; slots],
            load: vec![0; problem.options()],
            movers: iter::repeat_with(BinaryHeap::new)
                .take(slots * problem.options())
                .collect(),
            cheapest: vec![u64::MAX; slots * problem.options()],
            potential: vec![0; problem.node_count() * problem.dim()],
            search: Search::new(problem.node_count(), problem.dim()),
        }
    }

    fn solve(problem: &'p Problem, order: &[usize]) -> Self {
        let mut flow = Self::new(problem);
        for participant in flow.place_best_choices(order) {
            flow.enter(participant);
        }
        flow
    }

    /// Places everybody whose best choice has room, which needs no search, and sets
    /// potentials that prove the result optimal; returns the others.
    fn place_best_choices(&mut self, order: &[usize]) -> Vec<usize> {
        let problem = self.problem;
        // Participants with a single choice go first, as they have nowhere else to go;
        // then, in priority order, everybody takes their best choice while it has room.
        let (single, several): (Vec<usize>, Vec<usize>) = order
            .iter()
            .partition(|&&participant| problem.choices(participant).len() == 1);
        let mut waiting = Vec::new();
        for participant in single.into_iter().chain(several) {
            let Some(&(_, best)) = problem.choices(participant).first() else {
                continue;
            };
            if self.load[best] < problem.capacity[best] {
                self.load[best] += 1;
                self.move_to(participant, best);
            } else {
                waiting.push(participant);
            }
        }
        // Everybody in so far holds their best choice, so every move costs a rank and
        // zero potentials would do, but for the spread arcs: a slot's arc up costs 2n + 1
        // and its arc down −(2n − 1), and a slot potential of −2n in the spread component
        // makes both reduced costs 1.
        if problem.balance {
            let dim = problem.dim();
            for group in 0..problem.groups {
                for option in 0..problem.unplaced() {
                    let slot = problem.slot(group, option);
                    self.potential[slot * dim + problem.levels] = -2 * self.slot_load[slot] as i64;
                }
            }
        }
        waiting
    }

    /// Moves a participant to an option, keeping slot loads and move heaps current (the
    /// caller accounts for option loads, which only change at the ends of a path).
    fn move_to(&mut self, participant: usize, option: usize) {
        let problem = self.problem;
        let group = problem.group[participant];
        let left = self.position[participant];
        self.position[participant] = option;
        if left != NONE {
            let slot = problem.slot(group, left);
            self.slot_load[slot] -= 1;
            for &(_, target) in problem.choices(participant) {
                if target != left {
                    self.drop_stale(problem.move_index(slot, target));
                }
            }
        }
        let slot = problem.slot(group, option);
        self.slot_load[slot] += 1;
        let from = problem.rank(participant, option);
        for &(to, target) in problem.choices(participant) {
            if target != option {
                let index = problem.move_index(slot, target);
                let key = move_key(from, to, problem.levels);
                self.movers[index].push(Reverse((key, participant as u32)));
                self.cheapest[index] = self.cheapest[index].min(key);
            }
        }
    }

    /// Pops the entries of participants who have left the slot off the top of a heap.
    fn drop_stale(&mut self, index: usize) {
        let option = index / self.problem.options() % self.problem.options();
        let heap = &mut self.movers[index];
        while let Some(&Reverse((_, participant))) = heap.peek() {
            if self.position[participant as usize] == option {
                break;
            }
            heap.pop();
        }
        self.cheapest[index] = heap.peek().map_or(u64::MAX, |&Reverse((key, _))| key);
    }

    /// The participant in `slot` whose move to `target` costs least.
    fn cheapest_mover(&self, slot: usize, target: usize) -> usize {
        let heap = &self.movers[self.problem.move_index(slot, target)];
        let Reverse((_, participant)) = heap.peek().expect("the path uses this move");
        *participant as usize
    }

    /// Adds one participant along a shortest path.
    fn enter(&mut self, participant: usize) {
        let problem = self.problem;
        let (dim, levels, sink) = (problem.dim(), problem.levels, problem.sink());
        let group = problem.group[participant];
        self.search.begin();

        // The entering participant is a source whose potential makes every entry arc's
        // reduced cost non-negative: the largest π(slot) − cost over its options.
        for (index, &(rank, option)) in problem.choices(participant).iter().enumerate() {
            let slot_potential = &self.potential[problem.slot(group, option) * dim..][..dim];
            let offer = &mut self.search.scratch;
            offer.copy_from_slice(slot_potential);
            Cost::Move {
                from: rank,
                to: levels,
            }
            .add_to(offer);
            if index == 0 || *offer > self.search.base {
                self.search.base.copy_from_slice(offer);
            }
        }
        for &(rank, option) in problem.choices(participant) {
            let cost = Cost::Move {
                from: levels,
                to: rank,
            };
            self.search
                .offer(&self.potential, NONE, problem.slot(group, option), cost);
        }

        while let Some(node) = self.search.settle_next() {
            if node == sink {
                break;
            }
            self.search.set_base(&self.potential, node);
            match problem.node(node) {
                Node::Slot { group, option } => {
                    for target in (0..problem.options()).filter(|&target| target != option) {
                        let key = self.cheapest[problem.move_index(node, target)];
                        if key != u64::MAX {
                            let (from, to) = move_ranks(key, levels);
                            let cost = Cost::Move { from, to };
                            self.search
                                .offer(&self.potential, node, problem.slot(group, target), cost);
                        }
                    }
                    let cost = problem.spread_up(option, self.slot_load[node]);
                    self.search
                        .offer(&self.potential, node, problem.visit_node(option), cost);
                }
                Node::Visit(option) => {
                    for group in 0..problem.groups {
                        let slot = problem.slot(group, option);
                        if self.slot_load[slot] > 0 {
                            let cost = problem.spread_down(option, self.slot_load[slot]);
                            self.search.offer(&self.potential, node, slot, cost);
                        }
                    }
                    if self.load[option] < problem.capacity[option] {
                        self.search.offer(&self.potential, node, sink, Cost::Zero);
                    }
                }
                Node::Sink => unreachable!("the search stops at the sink"),
            }
        }
        // Unplaced has room in the rank stage, and the rank stage's allocation fits the
        // balance stage's choices, so a path always exists.
        assert!(self.search.is_settled(sink), "no augmenting path");
        self.search.update_potentials(&mut self.potential, sink);

        // Pick every mover before anybody moves: a participant who has just arrived in a
        // slot further along must not be taken for the slot's next move.
        let path = self.search.path_to(sink);
        let mut moves = Vec::new();
        for pair in path.windows(2) {
            match (problem.node(pair[0]), problem.node(pair[1])) {
                (Node::Slot { .. }, Node::Slot { option: target, .. }) => {
                    moves.push((self.cheapest_mover(pair[0], target), target));
                }
                (Node::Visit(option), Node::Sink) => self.load[option] += 1,
                // Arcs between slots and visit nodes: the loads follow from the moves.
                _ => {}
            }
        }
        for (mover, target) in moves {
            self.move_to(mover, target);
        }
        let Node::Slot { option, .. } = problem.node(path[0]) else {
            unreachable!("paths start in a slot of the entering participant");
        };
        self.move_to(participant, option);
    }
}

/// Dijkstra's scratch space, reused by every search; distances are vectors of reduced
/// costs, `dim` components per node.
struct Search {
    dim: usize,
    dist: Vec<i64>,
    /// The node each node was reached from; `NONE` for the entering participant's slots.
    previous: Vec<usize>,
    /// The search in which each node was last reached and settled; bumping `round`
    /// forgets the previous search without clearing anything.
    reached: Vec<u32>,
    settled: Vec<u32>,
    round: u32,
    settled_nodes: Vec<usize>,
    queue: NodeQueue,
    /// Distance plus potential of the node whose arcs are being offered.
    base: Vec<i64>,
    scratch: Vec<i64>,
}

impl Search {
    fn new(nodes: usize, dim: usize) -> Self {
        Self {
            dim,
            dist: vec![0; nodes * dim],
            previous: vec![NONE; nodes],
            reached: vec![0; nodes],
            settled: vec![0; nodes],
            round: 0,
            settled_nodes: Vec::new(),
            queue: NodeQueue::new(nodes),
            base: vec![0; dim],
            scratch: vec![0; dim],
        }
    }

    fn begin(&mut self) {
        self.round += 1;
        self.queue.clear();
        self.settled_nodes.clear();
    }

    fn dist(&self, node: usize) -> &[i64] {
        &self.dist[node * self.dim..][..self.dim]
    }

    fn set_base(&mut self, potential: &[i64], node: usize) {
        let range = node * self.dim..(node + 1) * self.dim;
        for ((base, dist), potential) in self
            .base
            .iter_mut()
            .zip(&self.dist[range.clone()])
            .zip(&potential[range])
        {
            *base = dist + potential;
        }
    }

    /// Offers `to` a path through `from` over an arc of raw cost `cost`: the reduced
    /// distance `base − π(to) + cost`.
    fn offer(&mut self, potential: &[i64], from: usize, to: usize, cost: Cost) {
        if self.is_settled(to) {
            return;
        }
        let range = to * self.dim..(to + 1) * self.dim;
        for ((offer, base), potential) in self
            .scratch
            .iter_mut()
            .zip(&self.base)
            .zip(&potential[range.clone()])
        {
            *offer = base - potential;
        }
        cost.add_to(&mut self.scratch);
        if self.reached[to] != self.round || self.scratch[..] < self.dist[range.clone()] {
            self.dist[range].copy_from_slice(&self.scratch);
            self.previous[to] = from;
            self.reached[to] = self.round;
            self.queue.push_or_decrease(to, &self.dist, self.dim);
        }
    }

    fn is_settled(&self, node: usize) -> bool {
        self.settled[node] == self.round
    }

    fn settle_next(&mut self) -> Option<usize> {
        let node = self.queue.pop(&self.dist, self.dim)?;
        self.settled[node] = self.round;
        self.settled_nodes.push(node);
        Some(node)
    }

    /// Adds `min(dist, dist(sink))` to every potential, which keeps reduced costs
    /// non-negative and makes the path just found tight. Only differences of potentials
    /// ever matter, so everybody's common `dist(sink)` is left out and only the settled
    /// nodes, the ones closer than the sink, change.
    fn update_potentials(&self, potential: &mut [i64], sink: usize) {
        let dim = self.dim;
        let to_sink = self.dist(sink);
        for &node in &self.settled_nodes {
            let dist = self.dist(node);
            for (i, value) in potential[node * dim..][..dim].iter_mut().enumerate() {
                *value += dist[i] - to_sink[i];
            }
        }
    }

    fn path_to(&self, end: usize) -> Vec<usize> {
        let previous = |&node: &usize| Some(self.previous[node]).filter(|&previous| previous != NONE);
        let mut path: Vec<usize> = iter::successors(Some(end), previous).collect();
        path.reverse();
        path
    }
}

/// A binary min-heap of nodes ordered by distance vectors kept outside it, with
/// decrease-key (a waiting node's distance only ever drops).
struct NodeQueue {
    heap: Vec<usize>,
    /// Each node's index in `heap`, or `NONE`.
    place: Vec<usize>,
}

impl NodeQueue {
    fn new(nodes: usize) -> Self {
        Self {
            heap: Vec::new(),
            place: vec![NONE; nodes],
        }
    }

    fn clear(&mut self) {
        for &node in &self.heap {
            self.place[node] = NONE;
        }
        self.heap.clear();
    }

    fn push_or_decrease(&mut self, node: usize, dist: &[i64], dim: usize) {
        let mut at = self.place[node];
        if at == NONE {
            at = self.heap.len();
            self.heap.push(node);
        }
        while at > 0 {
            let parent = (at - 1) / 2;
            if key(dist, dim, self.heap[parent]) <= key(dist, dim, node) {
                break;
            }
            self.heap[at] = self.heap[parent];
            self.place[self.heap[at]] = at;
            at = parent;
        }
        self.heap[at] = node;
        self.place[node] = at;
    }

    fn pop(&mut self, dist: &[i64], dim: usize) -> Option<usize> {
        let top = *self.heap.first()?;
        self.place[top] = NONE;
        let last = self.heap.pop().expect("not empty");
        if self.heap.is_empty() {
            return Some(top);
        }
        let mut at = 0;
        loop {
            let left = 2 * at + 1;
            if left >= self.heap.len() {
                break;
            }
            let right = left + 1;
            let child = if right < self.heap.len()
                && key(dist, dim, self.heap[right]) < key(dist, dim, self.heap[left])
            {
                right
            } else {
                left
            };
            if key(dist, dim, last) <= key(dist, dim, self.heap[child]) {
                break;
            }
            self.heap[at] = self.heap[child];
            self.place[self.heap[at]] = at;
            at = child;
        }
        self.heap[at] = last;
        self.place[last] = at;
        Some(top)
    }
}

fn key(dist: &[i64], dim: usize, node: usize) -> &[i64] {
    &dist[node * dim..][..dim]
}

/// Every optimal allocation at once, from complementary slackness with the optimal
/// potentials: which options each participant may hold and how many participants each
/// slot and each option may have. Any allocation within these limits is optimal, and the
/// current one is.
struct OptimalSet<'p> {
    problem: &'p Problem,
    position: Vec<usize>,
    slot_load: Vec<usize>,
    load: Vec<usize>,
    /// `allowed[allowed_start[p]..allowed_start[p + 1]]`: the options participant `p`
    /// may hold, best first, the current one included.
    allowed_start: Vec<usize>,
    allowed: Vec<usize>,
    /// Inclusive (lower, upper) load limits per slot and per option.
    slot_bounds: Vec<(usize, usize)>,
    bounds: Vec<(usize, usize)>,
    /// Whether the participant's option is settled; participants with one allowed option
    /// are settled from the start.
    fixed: Vec<bool>,
    /// Per slot and target option: how many participants not yet fixed could move there,
    /// and who (entries go stale when they move or are fixed).
    mover_count: Vec<usize>,
    movers: Vec<Vec<u32>>,
    /// Breadth-first search scratch: the next node on the way to the search's target.
    next: Vec<usize>,
    seen: Vec<u32>,
    round: u32,
    queue: VecDeque<usize>,
}

impl<'p> OptimalSet<'p> {
    fn new(flow: Flow<'p>) -> Self {
        let Flow {
            problem,
            position,
            slot_load,
            load,
            potential,
            ..
        } = flow;
        let mut reduced = vec![0; problem.dim()];

        let participant_count = problem.participant_count();
        let mut allowed_start = Vec::with_capacity(participant_count + 1);
        let mut allowed = Vec::new();
        let mut fixed = vec![true; participant_count];
        for participant in 0..participant_count {
            allowed_start.push(allowed.len());
            let current = position[participant];
            if current == NONE {
                continue;
            }
            let group = problem.group[participant];
            let from = problem.rank(participant, current);
            for &(to, option) in problem.choices(participant) {
                if option != current {
                    let (here, there) = (problem.slot(group, current), problem.slot(group, option));
                    reduced_cost(&mut reduced, &potential, here, there, Cost::Move { from, to });
                }
                if option == current || reduced.iter().all(|&c| c == 0) {
                    allowed.push(option);
                }
            }
            fixed[participant] = allowed.len() - allowed_start[participant] == 1;
        }
        allowed_start.push(allowed.len());

        // An arc of `capacity` unit arcs, each dearer than the one before, may carry
        // exactly the units cheaper than the potential gap across it, plus any that cost
        // just the gap.
        let spread = |option: usize| problem.balance && option != problem.unplaced();
        let mut slot_bounds = Vec::with_capacity(problem.groups * problem.options());
        for group in 0..problem.groups {
            for option in 0..problem.options() {
                let (slot, visit) = (problem.slot(group, option), problem.visit_node(option));
                reduced_cost(&mut reduced, &potential, visit, slot, Cost::Zero);
                slot_bounds.push(unit_bounds(&reduced, problem.capacity[option], spread(option)));
            }
        }
        let bounds = (0..problem.options())
            .map(|option| {
                reduced_cost(
                    &mut reduced,
                    &potential,
                    problem.sink(),
                    problem.visit_node(option),
                    Cost::Zero,
                );
                unit_bounds(&reduced, problem.capacity[option], false)
            })
            .collect();

        let moves = problem.groups * problem.options() * problem.options();
        Self {
            problem,
            position,
            slot_load,
            load,
            allowed_start,
            allowed,
            slot_bounds,
            bounds,
            fixed,
            mover_count: vec![0; moves],
            movers: vec![Vec::new(); moves],
            next: vec![NONE; problem.node_count()],
            seen: vec![0; problem.node_count()],
            round: 0,
            queue: VecDeque::new(),
        }
    }

    /// The balance stage: everybody restricted to the options they may hold in a
    /// rank-maximal allocation, countries told apart and spread costed. Its optimal
    /// allocations are exactly the balanced rank-maximal ones, since each of those only
    /// uses such options; and with most participants down to a single option, the
    /// country-sized graph stays quick to search.
    fn balance_problem(&self, participants: &[Participant]) -> Problem {
        let problem = self.problem;
        let mut countries = BTreeMap::new();
        for participant in participants {
            countries.entry(participant.country).or_insert(0);
        }
        for (index, group) in countries.values_mut().enumerate() {
            *group = index;
        }
        let mut choice_start = Vec::with_capacity(participants.len() + 1);
        let mut choices = Vec::with_capacity(self.allowed.len());
        for participant in 0..participants.len() {
            choice_start.push(choices.len());
            let allowed = self.allowed(participant).iter();
            choices.extend(allowed.map(|&option| (problem.rank(participant, option), option)));
        }
        choice_start.push(choices.len());
        Problem {
            capacity: problem.capacity.clone(),
            group: participants.iter().map(|p| countries[&p.country]).collect(),
            groups: countries.len().max(1),
            levels: problem.levels,
            balance: true,
            choice_start,
            choices,
        }
    }

    fn allowed(&self, participant: usize) -> &[usize] {
        &self.allowed[self.allowed_start[participant]..self.allowed_start[participant + 1]]
    }

    fn slot_of(&self, participant: usize) -> usize {
        self.problem
            .slot(self.problem.group[participant], self.position[participant])
    }

    /// Adds or withdraws the moves a participant not yet fixed offers from where they are.
    fn count_moves(&mut self, participant: usize, add: bool) {
        let slot = self.slot_of(participant);
        let range = self.allowed_start[participant]..self.allowed_start[participant + 1];
        for &target in &self.allowed[range] {
            if target == self.position[participant] {
                continue;
            }
            let index = self.problem.move_index(slot, target);
            if add {
                self.mover_count[index] += 1;
                self.movers[index].push(participant as u32);
            } else {
                self.mover_count[index] -= 1;
            }
        }
    }

    fn move_to(&mut self, participant: usize, option: usize) {
        self.count_moves(participant, false);
        let from = self.slot_of(participant);
        self.slot_load[from] -= 1;
        self.position[participant] = option;
        let to = self.slot_of(participant);
        self.slot_load[to] += 1;
        self.count_moves(participant, true);
    }

    fn take_mover(&mut self, slot: usize, target: usize) -> usize {
        let index = self.problem.move_index(slot, target);
        while let Some(participant) = self.movers[index].pop() {
            let participant = participant as usize;
            if !self.fixed[participant] && self.slot_of(participant) == slot {
                return participant;
            }
        }
        unreachable!("the mover count said someone could move")
    }

    /// In priority order, fixes each participant in the best option they can hold in
    /// some optimal allocation that keeps everybody fixed before them where they are.
    fn apply_priority(&mut self, order: &[usize]) {
        for participant in 0..self.problem.participant_count() {
            if !self.fixed[participant] {
                self.count_moves(participant, true);
            }
        }
        for &participant in order {
            if self.fixed[participant] {
                continue;
            }
            self.count_moves(participant, false);
            self.fixed[participant] = true;
            let current_rank = self.problem.rank(participant, self.position[participant]);
            let better = self
                .allowed(participant)
                .iter()
                .take_while(|&&option| self.problem.rank(participant, option) < current_rank);
            let better: Vec<usize> = better.copied().collect();
            if let Some(option) = self.best_reachable(participant, &better) {
                self.shift(participant, option);
            }
        }
    }

    /// The best of `better` the participant can move to: one whose slot has a path in
    /// the residual graph back to the participant's slot, so that the others can make
    /// room. Searches backwards from the participant's slot.
    fn best_reachable(&mut self, participant: usize, better: &[usize]) -> Option<usize> {
        if better.is_empty() {
            return None;
        }
        let problem = self.problem;
        let group = problem.group[participant];
        let target = self.slot_of(participant);
        let first_choice = problem.slot(group, better[0]);
        self.round += 1;
        self.seen[target] = self.round;
        self.queue.clear();
        self.queue.push_back(target);
        let mut predecessors = Vec::new();
        while let Some(node) = self.queue.pop_front() {
            self.predecessors(node, &mut predecessors);
            for &predecessor in &predecessors {
                if self.seen[predecessor] != self.round {
                    self.seen[predecessor] = self.round;
                    self.next[predecessor] = node;
                    self.queue.push_back(predecessor);
                }
            }
            if self.seen[first_choice] == self.round {
                break;
            }
        }
        better
            .iter()
            .copied()
            .find(|&option| self.seen[problem.slot(group, option)] == self.round)
    }

    /// The nodes with a residual arc into `node` within the optimal set, where a unit of
    /// flow arriving at a slot or option means "one more here".
    fn predecessors(&self, node: usize, into: &mut Vec<usize>) {
        let problem = self.problem;
        into.clear();
        match problem.node(node) {
            Node::Slot { group, option } => {
                for from in (0..problem.options()).filter(|&from| from != option) {
                    let from_slot = problem.slot(group, from);
                    if self.mover_count[problem.move_index(from_slot, option)] > 0 {
                        into.push(from_slot);
                    }
                }
                // The visit node hands one of this slot's participants on: one fewer here.
                if self.slot_load[node] > self.slot_bounds[node].0 {
                    into.push(problem.visit_node(option));
                }
            }
            Node::Visit(option) => {
                for group in 0..problem.groups {
                    let slot = problem.slot(group, option);
                    if self.slot_load[slot] < self.slot_bounds[slot].1 {
                        into.push(slot);
                    }
                }
                if self.load[option] > self.bounds[option].0 {
                    into.push(problem.sink());
                }
            }
            Node::Sink => {
                for option in 0..problem.options() {
                    if self.load[option] < self.bounds[option].1 {
                        into.push(problem.visit_node(option));
                    }
                }
            }
        }
    }

    /// Moves the participant to `option` and everybody else along the path found.
    fn shift(&mut self, participant: usize, option: usize) {
        let problem = self.problem;
        let target = self.slot_of(participant);
        let mut node = problem.slot(problem.group[participant], option);
        let mut moves = Vec::new();
        while node != target {
            let next = self.next[node];
            match (problem.node(node), problem.node(next)) {
                (Node::Slot { .. }, Node::Slot { option, .. }) => {
                    moves.push((self.take_mover(node, option), option))
                }
                (Node::Visit(option), Node::Sink) => self.load[option] += 1,
                (Node::Sink, Node::Visit(option)) => self.load[option] -= 1,
                // Arcs between slots and visit nodes: the loads follow from the moves.
                _ => {}
            }
            node = next;
        }
        for (mover, option) in moves {
            self.move_to(mover, option);
        }
        // The participant is fixed, so offers no moves: only the loads change.
        self.slot_load[target] -= 1;
        self.position[participant] = option;
        let slot = self.slot_of(participant);
        self.slot_load[slot] += 1;
    }

    fn assignment(&self) -> Vec<Option<usize>> {
        let unplaced = self.problem.unplaced();
        self.position
            .iter()
            .map(|&option| (option != NONE && option != unplaced).then_some(option))
            .collect()
    }
}

/// Writes `cost + π(from) − π(to)`, the reduced cost of an arc, into `out`.
fn reduced_cost(out: &mut [i64], potential: &[i64], from: usize, to: usize, cost: Cost) {
    let dim = out.len();
    let (from, to) = (&potential[from * dim..][..dim], &potential[to * dim..][..dim]);
    for ((out, from), to) in out.iter_mut().zip(from).zip(to) {
        *out = from - to;
    }
    cost.add_to(out);
}

/// Load limits of an arc made of `capacity` unit arcs, the j-th costing `2j − 1` in
/// spread (`spread`) or nothing, given `gap`, the potential difference across it: units
/// cheaper than the gap must be used, dearer ones must not.
fn unit_bounds(gap: &[i64], capacity: usize, spread: bool) -> (usize, usize) {
    let (ranks, spread_gap) = gap.split_at(gap.len() - 1);
    let spread_gap = spread_gap[0];
    match ranks
        .iter()
        .find(|&&c| c != 0)
        .map_or(Ordering::Equal, |c| c.cmp(&0))
    {
        Ordering::Less => (0, 0),
        Ordering::Greater => (capacity, capacity),
        Ordering::Equal if spread => {
            // Units 1..=j cost less than the gap while 2j − 1 < gap, at most while ≤ gap.
            let below = (spread_gap.max(0) / 2) as usize;
            let up_to = ((spread_gap + 1).max(0) / 2) as usize;
            (below.min(capacity), up_to.min(capacity))
        }
        Ordering::Equal => match spread_gap.cmp(&0) {
            Ordering::Less => (0, 0),
            Ordering::Equal => (0, capacity),
            Ordering::Greater => (capacity, capacity),
        },
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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
}
