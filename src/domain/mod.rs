//! The rules of rallypoint, in plain Rust over a `&mut DbConnection`; nothing here knows
//! HTTP. Input is parsed into these types once, at the edge.

pub mod access;
pub mod addresses;
pub mod allocation;
pub mod audit;
pub mod board_sessions;
pub mod booking;
pub mod catalog;
pub mod checkin;
pub mod country;
pub mod duplicates;
pub mod emails;
pub mod erasure;
pub mod error;
pub mod event;
pub mod event_rules;
pub mod exports;
pub mod idempotency;
pub mod identity;
pub mod input;
pub mod messages;
pub mod notify;
pub mod offers;
pub mod organiser;
pub mod questions;
pub mod registration;
pub mod reminders;
pub mod search;
pub mod seats;
pub mod tokens;
pub mod view;
pub mod webhooks;

#[cfg(test)]
mod seat_model_tests;

pub use error::{DomainError, FieldErrors};

pub use crate::db::now;
