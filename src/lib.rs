//! rallypoint: conference registration with capacity-limited site visits.
//!
//! Layers, top to bottom: `http` (the edge) → `domain` (the rules) → `store` (diesel
//! queries) and `mail` (outbox content, rendering, delivery) → `db` (connections, pools,
//! migrations). `i18n` (the two languages of participants' pages and emails) is a leaf
//! that the edge, the domain and the mail renderer all use.

pub mod background;
pub mod cli;
pub mod db;
pub mod domain;
pub mod export;
pub mod http;
pub mod i18n;
pub mod mail;
pub mod retention;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
