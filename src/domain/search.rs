//! The one search rule of organisers' lists (the API's `q`, the board's roster pages):
//! a search matches when its folded text is part of the person's folded first name, last
//! name, organisation and email. Folding is lower case with accents and other letters
//! outside ASCII written as their closest ASCII (deunicode's tables): "Łobocka" →
//! "lobocka", "Müller" → "muller", "Ørsted" → "orsted". NFD decomposition alone would not
//! do: `Ł`, `Ø` or `ß` do not decompose.
//!
//! The folded text is stored with the row (`registrations.search_text`, written with
//! those fields, emptied on erasure) because SQLite cannot fold in SQL.

use crate::db::DbConnection;
use crate::domain::error::DomainError;
use crate::store::registrations;

/// Lower case, ASCII, spaces collapsed: the form both sides of a search are compared in.
pub fn fold(text: &str) -> String {
    let ascii = deunicode::deunicode_with_tofu(text, "");
    ascii
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// What is stored in `search_text` for a person.
pub fn search_text(first_name: &str, last_name: &str, organisation: &str, email: &str) -> String {
    fold(&format!("{first_name} {last_name} {organisation} {email}"))
}

/// Folds the stored search text of rows the migration could only lower-case (it still
/// holds a character outside ASCII, which folded text never does). Running it again
/// changes nothing. How many rows it folded.
pub fn fold_stored_search_text(conn: &mut DbConnection) -> Result<usize, DomainError> {
    let rows = registrations::with_unfolded_search_text(conn)?;
    for row in &rows {
        let text = search_text(&row.first_name, &row.last_name, &row.organisation, &row.email);
        registrations::set_search_text(conn, &row.id, &text)?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_and_accents_even_where_nfd_does_not_decompose() {
        assert_eq!(fold("Łobocka"), "lobocka");
        assert_eq!(fold("MÜLLER"), "muller");
        assert_eq!(fold("Ørsted  Straße"), "orsted strasse");
        assert_eq!(fold("Ana-Sofía O'Brien"), "ana-sofia o'brien");
        assert_eq!(fold("kate@example.com"), "kate@example.com");
        assert_eq!(fold("  "), "");
        // Both sides fold the same way, so a search finds the person either way round.
        assert!(search_text("Zofia", "Łobocka", "Politechnika Łódzka", "z@x.pl").contains(&fold("łódzka")));
        assert!(search_text("Jürgen", "Müller", "", "j@x.de").contains("jurgen muller"));
    }

    #[test]
    fn folded_text_is_ascii() {
        for text in ["Łobocka", "Dvořák", "Þórunn", "Ğülşen", "東京", "Ελένη"] {
            assert!(fold(text).is_ascii(), "{text}");
        }
    }
}
