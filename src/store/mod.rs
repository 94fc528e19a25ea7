//! Diesel queries, one module per aggregate, each function taking `&mut DbConnection`.
//! Nothing above this layer writes SQL; nothing here decides a rule.
//!
//! Diesel keeps a statement prepared on its connection only when its text cannot vary:
//! never for `sql_query`, `UPDATE`, multi-row `VALUES` or inserts that leave `None`
//! fields out. Such a statement is parsed and planned again on every run — on SQLite
//! with the counters' trigger programs compiled into it, on PostgreSQL one more parse
//! and plan per round trip (an update of `registrations` on SQLite: ~400 µs to prepare,
//! ~20 µs to run). The registration hot path and the updates every seat change makes
//! (`registrations::change_status`, `set_auto_seat`, `move_seat`, the seat counter)
//! therefore run statements that stay prepared: inserts that bind `None` as NULL, and
//! hand-written SQL in a type of its own ([`prepared_statement!`]).

/// Pushes `sql` with each `?` replaced by the next bind parameter, in order (diesel
/// writes `?` on SQLite and `$n` on PostgreSQL).
macro_rules! sql_with_binds {
    ($out:ident, $sql:expr; $($ty:ty => $value:expr),* $(,)?) => {{
        let mut parts = $sql.split('?');
        $out.push_sql(parts.next().unwrap_or_default());
        $(
            $out.push_bind_param::<$ty, _>($value)?;
            $out.push_sql(parts.next().unwrap_or_default());
        )*
        debug_assert!(parts.next().is_none(), "one bind per placeholder");
    }};
}

/// Makes a hand-written statement type runnable and cached by diesel under its type.
macro_rules! prepared_statement {
    ($name:ident) => {
        impl diesel::query_builder::QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
        impl<Conn> diesel::RunQueryDsl<Conn> for $name<'_> {}
    };
}

pub mod audit;
pub mod board_sessions;
pub mod checkins;
pub mod counts;
pub mod events;
pub mod exports;
pub mod idempotency;
pub mod identity;
pub mod messages;
pub mod offers;
pub mod outbox;
pub mod questions;
pub mod queues;
pub mod registration_stats;
pub mod registrations;
pub mod reminders;
pub mod service_keys;
pub mod site_visits;
pub mod tokens;
pub mod webhooks;
