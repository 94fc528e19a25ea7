//! Dijkstra's search on reduced vector costs, and the node queue it runs on.

use std::iter;

use super::problem::Cost;
use super::NONE;

/// Dijkstra's scratch space, reused by every search; distances are vectors of reduced
/// costs, `dim` components per node.
pub(super) struct Search {
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
    pub(super) base: Vec<i64>,
    pub(super) scratch: Vec<i64>,
}

impl Search {
    pub(super) fn new(nodes: usize, dim: usize) -> Self {
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

    pub(super) fn begin(&mut self) {
        self.round += 1;
        self.queue.clear();
        self.settled_nodes.clear();
    }

    fn dist(&self, node: usize) -> &[i64] {
        &self.dist[node * self.dim..][..self.dim]
    }

    pub(super) fn set_base(&mut self, potential: &[i64], node: usize) {
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
    pub(super) fn offer(&mut self, potential: &[i64], from: usize, to: usize, cost: Cost) {
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

    pub(super) fn is_settled(&self, node: usize) -> bool {
        self.settled[node] == self.round
    }

    pub(super) fn settle_next(&mut self) -> Option<usize> {
        let node = self.queue.pop(&self.dist, self.dim)?;
        self.settled[node] = self.round;
        self.settled_nodes.push(node);
        Some(node)
    }

    /// Adds `min(dist, dist(sink))` to every potential, which keeps reduced costs
    /// non-negative and makes the path just found tight. Only differences of potentials
    /// ever matter, so everybody's common `dist(sink)` is left out and only the settled
    /// nodes, the ones closer than the sink, change.
    pub(super) fn update_potentials(&self, potential: &mut [i64], sink: usize) {
        let dim = self.dim;
        let to_sink = self.dist(sink);
        for &node in &self.settled_nodes {
            let dist = self.dist(node);
            for (i, value) in potential[node * dim..][..dim].iter_mut().enumerate() {
                *value += dist[i] - to_sink[i];
            }
        }
    }

    pub(super) fn path_to(&self, end: usize) -> Vec<usize> {
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
