//! Addresses stored before they were normalised ([`Email`]): until then an address was
//! kept as typed and compared lower-cased, so `kate@exämple.com`, its Punycode spelling
//! and a full-width spelling were three people, and mail went to a domain written in
//! Unicode, which relays without SMTPUTF8 refuse. Start-up brings such rows to the normal
//! form; the query finds only addresses with a character outside ASCII, the only ones
//! whose normal form differs from the lower-cased one stored (the local part was ASCII
//! already: validator's rule), so once they are done it finds nothing.

use diesel::connection::Connection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::error::DomainError;
use super::registration::Email;
use super::search::search_text;
use crate::db::DbConnection;
use crate::store::registrations;

/// What [`normalise_stored_addresses`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Normalised {
    /// Registrations whose address is now in the normal form.
    pub changed: usize,
    /// Active registrations left as they were because another active registration of
    /// the same event has the same address in its normal form: the very duplicate the old
    /// comparison let in. An organiser cancels one of them; the next start-up then
    /// normalises the other.
    pub duplicates: Vec<String>,
    /// Registrations whose stored address no longer parses (an IP literal, a domain IDNA
    /// refuses): left as typed; mail to them fails as it did before.
    pub unmailable: Vec<String>,
}

/// Brings every stored address with a character outside ASCII to its normal form: the
/// address sent to (`email`) and the form uniqueness is checked on (`email_normalized`).
/// Running it again changes nothing.
pub fn normalise_stored_addresses(conn: &mut DbConnection) -> Result<Normalised, DomainError> {
    let mut outcome = Normalised::default();
    for row in registrations::with_non_ascii_email(conn)? {
        let Ok(email) = Email::parse(&row.email) else {
            outcome.unmailable.push(row.id);
            continue;
        };
        let normalized = email.normalized();
        let search_text = search_text(&row.first_name, &row.last_name, &row.organisation, email.as_str());
        // In a savepoint: a clash with the unique index (invariant 2) undoes this row only.
        match conn.transaction(|conn| {
            registrations::set_email(conn, &row.id, email.as_str(), &normalized, &search_text)
        }) {
            Ok(()) => outcome.changed += 1,
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                outcome.duplicates.push(row.id)
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(outcome)
}
