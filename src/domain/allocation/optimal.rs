//! The set of every optimal allocation of a solved stage, read off the potentials, and
//! the priority rule applied within it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};

use super::flow::Flow;
use super::problem::{Cost, Node, Problem};
use super::{Participant, NONE};

/// Every optimal allocation at once, from complementary slackness with the optimal
/// potentials: which options each participant may hold and how many participants each
/// slot and each option may have. Any allocation within these limits is optimal, and the
/// current one is.
pub(super) struct OptimalSet<'p> {
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
    pub(super) fn new(flow: Flow<'p>) -> Self {
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
    pub(super) fn balance_problem(&self, participants: &[Participant]) -> Problem {
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
    pub(super) fn apply_priority(&mut self, order: &[usize]) {
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

    pub(super) fn assignment(&self) -> Vec<Option<usize>> {
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
