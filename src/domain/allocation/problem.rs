//! The problem as the solver sees it: the graph of slots, visit nodes and the sink, and
//! the vector costs of its arcs.

use std::iter;

use super::{Participant, Visit};

/// One stage of the problem as the solver sees it. The options are the visits plus one
/// more, "unplaced", which has no limit, so every participant can always be routed
/// somewhere.
pub(super) struct Problem {
    /// Seat limit per option; `usize::MAX` for unplaced.
    pub(super) capacity: Vec<usize>,
    /// Per participant, their group: their country when balancing, otherwise 0 for all,
    /// since the graph only needs to tell countries apart when that costs something.
    pub(super) group: Vec<usize>,
    pub(super) groups: usize,
    /// The longest ranking: the number of rank components in a cost vector.
    pub(super) levels: usize,
    pub(super) balance: bool,
    /// `choices[choice_start[p]..choice_start[p + 1]]`: the (rank, option) pairs
    /// participant `p` may be given, best first; unplaced has rank `levels`.
    pub(super) choice_start: Vec<usize>,
    pub(super) choices: Vec<(usize, usize)>,
}

/// What a node index stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Node {
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
    pub(super) fn ranks(visits: &[Visit], participants: &[Participant]) -> Self {
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

    pub(super) fn participant_count(&self) -> usize {
        self.group.len()
    }

    pub(super) fn options(&self) -> usize {
        self.capacity.len()
    }

    pub(super) fn unplaced(&self) -> usize {
        self.capacity.len() - 1
    }

    /// Components of a cost vector: one per rank, then the spread.
    pub(super) fn dim(&self) -> usize {
        self.levels + 1
    }

    pub(super) fn choices(&self, participant: usize) -> &[(usize, usize)] {
        &self.choices[self.choice_start[participant]..self.choice_start[participant + 1]]
    }

    pub(super) fn rank(&self, participant: usize, option: usize) -> usize {
        let choice = self
            .choices(participant)
            .iter()
            .find(|&&(_, choice)| choice == option);
        choice.expect("one of the participant's choices").0
    }

    /// The cost of a slot's arc up to its visit when the slot holds `load` participants.
    pub(super) fn spread_up(&self, option: usize, load: usize) -> Cost {
        if self.balance && option != self.unplaced() {
            Cost::Spread(2 * load as i64 + 1)
        } else {
            Cost::Zero
        }
    }

    /// The (negative) cost of sending one of a slot's `load` participants back down.
    pub(super) fn spread_down(&self, option: usize, load: usize) -> Cost {
        match self.spread_up(option, load - 1) {
            Cost::Spread(up) => Cost::Spread(-up),
            other => other,
        }
    }

    pub(super) fn slot(&self, group: usize, option: usize) -> usize {
        group * self.options() + option
    }

    pub(super) fn visit_node(&self, option: usize) -> usize {
        self.groups * self.options() + option
    }

    pub(super) fn sink(&self) -> usize {
        (self.groups + 1) * self.options()
    }

    pub(super) fn node_count(&self) -> usize {
        self.sink() + 1
    }

    pub(super) fn node(&self, index: usize) -> Node {
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
    pub(super) fn move_index(&self, slot: usize, target: usize) -> usize {
        slot * self.options() + target
    }
}

/// The raw cost of an arc, added onto a cost vector (ranks first, spread last).
#[derive(Clone, Copy, Debug)]
pub(super) enum Cost {
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
    pub(super) fn add_to(self, vector: &mut [i64]) {
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
pub(super) fn move_key(from: usize, to: usize, levels: usize) -> u64 {
    let (from, to, levels) = (from as u64, to as u64, levels as u64);
    if to < from {
        (to << 32) | (levels - from)
    } else {
        (1 << 63) | ((levels - from) << 32) | to
    }
}

/// The ranks `(from, to)` a [`move_key`] was made from.
pub(super) fn move_ranks(key: u64, levels: usize) -> (usize, usize) {
    let (high, low) = (((key >> 32) & 0x7FFF_FFFF) as usize, (key & 0xFFFF_FFFF) as usize);
    if key >> 63 == 0 {
        (levels - low, high)
    } else {
        (levels - high, low)
    }
}
