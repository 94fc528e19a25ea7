//! The waitlists as stored queues (migration `2024-11-10-000000_waitlist_queue`): one
//! per site visit and one per event for its own waitlist, each named by that id.
//!
//! Who waits is defined by the `visit_waitlist` view and the registration's status;
//! `registrations::sync_queues` keeps the queues equal to it. A queue stores the order:
//! joining gives the next place (`tail + 1`), so places follow the order in which the
//! joins committed — every join and departure runs under the event's seat-change lock
//! on PostgreSQL (one writer at a time on SQLite). A person's position is their place
//! less the departures from earlier places, read from a Fenwick tree of departures
//! (`waitlist_departures`): at most log2(tail) rows by key, never a count of the queue.
//! Positions are therefore exactly 1..N at every commit.
//!
//! The tree covers places 1..=`top(tail)` (the power of two at or above the tail):
//! a departure adds to the nodes above its place up to `top`; when a join lifts `tail`
//! past `top`, the new top node covers every place so far, so it starts as the number of
//! departures (`tail - length`) and the nodes between the two tops cover only places
//! nobody has left yet.

use std::collections::{BTreeMap, HashMap};

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, BigInt, Text};
use diesel::upsert::excluded;

/// Runs `$body` on the backend's own connection: upserts and multi-row inserts are
/// backend-specific SQL in diesel, which the two-backend connection does not build.
macro_rules! on_each_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Postgres($c) => $body,
            DbConnection::Sqlite($c) => $body,
        }
    };
}

use crate::db::schema::{waitlist_departures, waitlist_entries, waitlist_queues};
use crate::db::DbConnection;

/// The nodes whose sum is the number of departures from places `1..=place`.
fn prefix_nodes(mut place: i64) -> Vec<i64> {
    let mut nodes = Vec::new();
    while place > 0 {
        nodes.push(place);
        place -= place & -place;
    }
    nodes
}

/// The power of two at or above `tail`: the last place the tree covers.
fn top(tail: i64) -> i64 {
    (tail.max(1) as u64).next_power_of_two() as i64
}

/// The nodes a departure from `place` adds to, in a queue whose last place is `tail`.
fn departure_nodes(mut place: i64, tail: i64) -> Vec<i64> {
    let top = top(tail);
    let mut nodes = Vec::new();
    while place <= top {
        nodes.push(place);
        place += place & -place;
    }
    nodes
}

/// The new top node when a join made `tail` the last place, with the departures it
/// starts with (every departure so far); `None` when the top did not grow or nobody left.
fn grown_top(tail: i64, length: i64) -> Option<(i64, i64)> {
    let grew = tail > 1 && top(tail) > top(tail - 1);
    let departed = tail - length;
    (grew && departed > 0).then(|| (top(tail), departed))
}

/// [`join`] in one statement, for PostgreSQL (where every statement is a round trip):
/// the queues' new tails, the entries at those places and the grown top nodes. A top
/// grows when the place before the new tail is a power of two (`p & (p - 1) = 0`).
const JOIN_PG: &str = "WITH queue AS (
    INSERT INTO waitlist_queues (id, tail, length)
    SELECT q.id, 1, 1 FROM unnest(CAST(? AS TEXT[])) AS q (id)
    ON CONFLICT (id) DO UPDATE
        SET tail = waitlist_queues.tail + 1, length = waitlist_queues.length + 1
    RETURNING id, tail, length
), entry AS (
    INSERT INTO waitlist_entries (queue_id, place, registration_id)
    SELECT id, tail, ? FROM queue
), top AS (
    INSERT INTO waitlist_departures (queue_id, node, departed)
    SELECT id, 2 * (tail - 1), tail - length FROM queue
    WHERE tail > 1 AND ((tail - 1) & (tail - 2)) = 0 AND tail > length
)
SELECT id, length FROM queue";

struct JoinPg<'a> {
    queue_ids: &'a [String],
    registration_id: &'a str,
}

prepared_statement!(JoinPg);

impl diesel::query_builder::Query for JoinPg<'_> {
    type SqlType = (Text, BigInt);
}

impl QueryFragment<Pg> for JoinPg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        sql_with_binds!(out, JOIN_PG; Array<Text> => self.queue_ids, Text => self.registration_id);
        Ok(())
    }
}

/// Adds `registration_id` at the end of each queue (a queue not stored yet starts
/// empty) and returns its position in each, in the order given. The caller holds the
/// event's seat-change lock, and the person is in none of these queues.
pub fn join(conn: &mut DbConnection, queue_ids: &[String], registration_id: &str) -> QueryResult<Vec<i64>> {
    use waitlist_queues::dsl as q;
    if queue_ids.is_empty() {
        return Ok(Vec::new());
    }
    let lite = match conn {
        DbConnection::Postgres(pg) => {
            let joined: HashMap<String, i64> = JoinPg {
                queue_ids,
                registration_id,
            }
            .load::<(String, i64)>(pg)?
            .into_iter()
            .collect();
            return queue_ids
                .iter()
                .map(|id| joined.get(id).copied().ok_or(diesel::result::Error::NotFound))
                .collect();
        }
        DbConnection::Sqlite(lite) => lite,
    };
    let mut positions = Vec::with_capacity(queue_ids.len());
    for queue_id in queue_ids {
        let (tail, length): (i64, i64) = diesel::insert_into(q::waitlist_queues)
            .values((q::id.eq(queue_id), q::tail.eq(1), q::length.eq(1)))
            .on_conflict(q::id)
            .do_update()
            .set((q::tail.eq(q::tail + 1), q::length.eq(q::length + 1)))
            .returning((q::tail, q::length))
            .get_result(lite)?;
        if let Some((node, departed)) = grown_top(tail, length) {
            diesel::insert_into(waitlist_departures::table)
                .values((
                    waitlist_departures::queue_id.eq(queue_id),
                    waitlist_departures::node.eq(node),
                    waitlist_departures::departed.eq(departed),
                ))
                .execute(lite)?;
        }
        diesel::insert_into(waitlist_entries::table)
            .values((
                waitlist_entries::queue_id.eq(queue_id),
                waitlist_entries::place.eq(tail),
                waitlist_entries::registration_id.eq(registration_id),
            ))
            .execute(lite)?;
        positions.push(length);
    }
    Ok(positions)
}

/// Takes `registration_id` out of the queues named (those it is in); everyone behind
/// moves up one. The caller holds the event's seat-change lock.
pub fn leave(conn: &mut DbConnection, registration_id: &str, queue_ids: &[String]) -> QueryResult<()> {
    if queue_ids.is_empty() {
        return Ok(());
    }
    let left: Vec<(String, i64)> = diesel::delete(
        waitlist_entries::table
            .filter(waitlist_entries::registration_id.eq(registration_id))
            .filter(waitlist_entries::queue_id.eq_any(queue_ids)),
    )
    .returning((waitlist_entries::queue_id, waitlist_entries::place))
    .get_results(conn)?;
    let mut nodes: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for (queue_id, place) in left {
        let tail: i64 = Depart {
            queue_id: &queue_id,
            place,
        }
        .get_result(conn)?;
        for node in departure_nodes(place, tail) {
            *nodes.entry((queue_id.clone(), node)).or_default() += 1;
        }
    }
    add_departures(conn, nodes)
}

/// Adds to the departure nodes, one statement for all.
/// One fewer waiting in the queue; when the place that left is the `head`, the head
/// moves past it. Prepared once (diesel prepares its own `UPDATE`s on every run).
struct Depart<'a> {
    queue_id: &'a str,
    place: i64,
}

prepared_statement!(Depart);

impl diesel::query_builder::Query for Depart<'_> {
    type SqlType = BigInt;
}

impl<DB> QueryFragment<DB> for Depart<'_>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<Text>
        + diesel::sql_types::HasSqlType<BigInt>,
    str: diesel::serialize::ToSql<Text, DB>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        sql_with_binds!(out, "UPDATE waitlist_queues SET length = length - 1, \
             head = CASE WHEN head = ? THEN head + 1 ELSE head END WHERE id = ? RETURNING tail";
            BigInt => &self.place, Text => self.queue_id);
        Ok(())
    }
}

fn add_departures(conn: &mut DbConnection, nodes: BTreeMap<(String, i64), i64>) -> QueryResult<()> {
    use waitlist_departures::dsl as d;
    if nodes.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = nodes
        .iter()
        .map(|((queue_id, node), departed)| {
            (
                d::queue_id.eq(queue_id.as_str()),
                d::node.eq(*node),
                d::departed.eq(*departed),
            )
        })
        .collect();
    on_each_backend!(conn, |c| diesel::insert_into(d::waitlist_departures)
        .values(&rows)
        .on_conflict((d::queue_id, d::node))
        .do_update()
        .set(d::departed.eq(d::departed + excluded(d::departed)))
        .execute(c))?;
    Ok(())
}

/// The queues a registration is in.
pub fn queues_of(conn: &mut DbConnection, registration_id: &str) -> QueryResult<Vec<String>> {
    waitlist_entries::table
        .filter(waitlist_entries::registration_id.eq(registration_id))
        .select(waitlist_entries::queue_id)
        .load(conn)
}

/// The first `limit` people of a queue, in order.
pub fn first(conn: &mut DbConnection, queue_id: &str, limit: i64) -> QueryResult<Vec<String>> {
    slice(conn, queue_id, 0, limit)
}

/// `limit` people of a queue from position `offset + 1` on, in order.
pub fn slice(conn: &mut DbConnection, queue_id: &str, offset: i64, limit: i64) -> QueryResult<Vec<String>> {
    // From the head on: the places below it all left (see `Depart`).
    let head = waitlist_queues::table
        .find(queue_id)
        .select(waitlist_queues::head)
        .single_value()
        .assume_not_null();
    waitlist_entries::table
        .filter(waitlist_entries::queue_id.eq(queue_id))
        .filter(waitlist_entries::place.ge(head))
        .order(waitlist_entries::place)
        .select(waitlist_entries::registration_id)
        .limit(limit)
        .offset(offset)
        .load(conn)
}

/// How many wait in a queue (0 for a queue not stored yet).
pub fn length(conn: &mut DbConnection, queue_id: &str) -> QueryResult<i64> {
    Ok(waitlist_queues::table
        .find(queue_id)
        .select(waitlist_queues::length)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Those of `registration_ids` who are in the queue, in its order.
pub fn members_among(
    conn: &mut DbConnection,
    queue_id: &str,
    registration_ids: &[String],
) -> QueryResult<Vec<String>> {
    let mut members: Vec<(i64, String)> = Vec::new();
    for chunk in registration_ids.chunks(4_096) {
        members.extend(
            waitlist_entries::table
                .filter(waitlist_entries::queue_id.eq(queue_id))
                .filter(waitlist_entries::registration_id.eq_any(chunk))
                .select((waitlist_entries::place, waitlist_entries::registration_id))
                .load::<(i64, String)>(conn)?,
        );
    }
    members.sort_unstable();
    Ok(members.into_iter().map(|(_, id)| id).collect())
}

/// 1-based position of a registration in a queue; `None` when it is not in it.
pub fn position(conn: &mut DbConnection, queue_id: &str, registration_id: &str) -> QueryResult<Option<i64>> {
    let place: Option<i64> = waitlist_entries::table
        .filter(waitlist_entries::registration_id.eq(registration_id))
        .filter(waitlist_entries::queue_id.eq(queue_id))
        .select(waitlist_entries::place)
        .first(conn)
        .optional()?;
    let Some(place) = place else {
        return Ok(None);
    };
    let departed: Vec<i64> = waitlist_departures::table
        .filter(waitlist_departures::queue_id.eq(queue_id))
        .filter(waitlist_departures::node.eq_any(prefix_nodes(place - 1)))
        .select(waitlist_departures::departed)
        .load(conn)?;
    Ok(Some(place - departed.iter().sum::<i64>()))
}

/// Positions of many registrations in every queue they are in, as
/// (registration, queue, position): two reads for all (the attendee export's page).
pub fn positions_of(
    conn: &mut DbConnection,
    registration_ids: &[String],
) -> QueryResult<Vec<(String, String, i64)>> {
    let entries: Vec<(String, String, i64)> = waitlist_entries::table
        .filter(waitlist_entries::registration_id.eq_any(registration_ids))
        .select((
            waitlist_entries::registration_id,
            waitlist_entries::queue_id,
            waitlist_entries::place,
        ))
        .load(conn)?;
    let mut wanted: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (_, queue_id, place) in &entries {
        wanted
            .entry(queue_id)
            .or_default()
            .extend(prefix_nodes(place - 1));
    }
    let mut departed: HashMap<(String, i64), i64> = HashMap::new();
    for (queue_id, mut nodes) in wanted {
        nodes.sort_unstable();
        nodes.dedup();
        // Bounded binds per statement (SQLite allows 32,766).
        for chunk in nodes.chunks(4_096) {
            let rows: Vec<(i64, i64)> = waitlist_departures::table
                .filter(waitlist_departures::queue_id.eq(queue_id))
                .filter(waitlist_departures::node.eq_any(chunk))
                .select((waitlist_departures::node, waitlist_departures::departed))
                .load(conn)?;
            departed.extend(rows.into_iter().map(|(node, n)| ((queue_id.to_owned(), node), n)));
        }
    }
    Ok(entries
        .into_iter()
        .map(|(registration_id, queue_id, place)| {
            let before: i64 = prefix_nodes(place - 1)
                .into_iter()
                .filter_map(|node| departed.get(&(queue_id.clone(), node)))
                .sum();
            (registration_id, queue_id, place - before)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree's arithmetic against a plain list, over joins and departures from
    /// anywhere in the queue (the stored functions run the same arithmetic on rows).
    #[test]
    fn positions_stay_exact_through_joins_and_departures() {
        let mut tree: HashMap<i64, i64> = HashMap::new();
        let (mut tail, mut length) = (0i64, 0i64);
        let mut queue: Vec<i64> = Vec::new(); // places still waiting, in order
        let mut seed = 7u64;
        let mut next = |bound: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % bound
        };
        for step in 0..5_000 {
            if queue.is_empty() || next(3) > 0 || step < 50 {
                tail += 1;
                length += 1;
                if let Some((node, departed)) = grown_top(tail, length) {
                    assert!(tree.insert(node, departed).is_none(), "a new top node is new");
                }
                queue.push(tail);
            } else {
                let place = queue.remove(next(queue.len() as u64) as usize);
                length -= 1;
                for node in departure_nodes(place, tail) {
                    *tree.entry(node).or_default() += 1;
                }
            }
            for (index, place) in queue
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 37 == 0 || *i + 1 == queue.len())
            {
                let before: i64 = prefix_nodes(place - 1).iter().filter_map(|n| tree.get(n)).sum();
                assert_eq!(place - before, index as i64 + 1, "step {step}, place {place}");
            }
        }
        assert!(prefix_nodes(1 << 40).len() == 1 && departure_nodes(3, 1_000_000).len() <= 21);
    }
}
