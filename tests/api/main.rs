//! The one integration test binary: every test starts the real server on port 0 over a
//! fresh database and speaks HTTP to it, on SQLite and (when configured) PostgreSQL.

mod browsing;
mod helpers;

mod addresses;
mod board_overview;
mod board_roster;
mod browser;
mod checkin;
mod checkin_pages;
mod checkin_qr;
mod chrome;
mod cli;
mod email;
mod exports;
mod foundation;
mod mail_rush;
mod messages;
mod offer_pages;
mod offers;
mod openapi;
mod operations;
mod organiser;
mod outage;
mod pages;
mod privacy;
mod questions;
mod queue;
mod receiver;
mod reliability;
mod reminders;
mod schema;
mod seats;
mod security;
mod smtp;
mod tokens;
mod webhooks;
