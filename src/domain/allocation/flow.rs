//! The minimum-cost flow of one stage, solved by successive shortest paths.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::iter;

use super::problem::{move_key, move_ranks, Cost, Node, Problem};
use super::search::Search;
use super::NONE;

/// A minimum-cost flow over slots, solved by successive shortest paths.
pub(super) struct Flow<'p> {
    pub(super) problem: &'p Problem,
    /// The option each participant holds, or `NONE` before they enter the network.
    pub(super) position: Vec<usize>,
    /// Participants per slot: the flow from slot to visit node.
    pub(super) slot_load: Vec<usize>,
    /// Participants per option: the flow from visit node to sink.
    pub(super) load: Vec<usize>,
    /// Per slot and target option, the participants in the slot who may move to the
    /// target, cheapest move first. An entry goes stale when its participant moves on; stale
    /// entries are dropped as they reach the top, so the top is always current.
    movers: Vec<BinaryHeap<Reverse<(u64, u32)>>>,
    /// The key of each heap's top, `u64::MAX` when empty: all a search needs to know
    /// about an arc, in one flat array rather than behind a heap and a participant.
    cheapest: Vec<u64>,
    /// Node potentials, `dim` components per node. Reduced costs stay non-negative.
    pub(super) potential: Vec<i64>,
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

    pub(super) fn solve(problem: &'p Problem, order: &[usize]) -> Self {
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
