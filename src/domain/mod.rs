//! The rules of rallypoint, in plain Rust over a `&mut DbConnection`; nothing here knows
//! HTTP. Input is parsed into these types once, at the edge.

pub mod access;
pub mod allocation;
pub mod audit;
pub mod booking;
pub mod catalog;
pub mod country;
pub mod erasure;
pub mod error;
pub mod event;
pub mod exports;
pub mod idempotency;
pub mod input;
pub mod notify;
pub mod organiser;
pub mod registration;
pub mod seats;

#[cfg(test)]
mod seat_model_tests;

pub use error::{DomainError, FieldErrors};

/// The current time as stored: UTC without offset.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
