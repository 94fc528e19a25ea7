//! Diesel queries, one module per aggregate, each function taking `&mut DbConnection`.
//! Nothing above this layer writes SQL; nothing here decides a rule.

pub mod audit;
pub mod counts;
pub mod events;
pub mod exports;
pub mod idempotency;
pub mod outbox;
pub mod registrations;
pub mod service_keys;
pub mod site_visits;
pub mod tokens;
