//! ISO 3166-1 alpha-2 country codes, checked against the `celes` crate's table.

use std::fmt;

/// An upper-case ISO 3166-1 alpha-2 code that names a real country (invariant 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Accepts any letter case and surrounding spaces: ` be ` is `BE`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let code = input.trim();
        if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err("must be a two-letter ISO 3166-1 country code, such as BE or IT".into());
        }
        let upper = code.to_ascii_uppercase();
        celes::Country::from_alpha2(&upper)
            .map_err(|_| format!("`{upper}` is not an ISO 3166-1 country code"))?;
        let bytes = upper.as_bytes();
        Ok(Self([bytes[0], bytes[1]]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII letters")
    }

    /// The English short name, e.g. "Belgium".
    pub fn name(&self) -> &'static str {
        country_name(self.as_str())
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The display name of a stored code; the code itself when the table does not know it.
pub fn country_name(code: &str) -> &'static str {
    celes::Country::from_alpha2(code)
        .map(|country| country.long_name)
        .unwrap_or("Unknown country")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_case_insensitive_and_stored_upper_case() {
        assert_eq!(CountryCode::parse("be").unwrap().as_str(), "BE");
        assert_eq!(CountryCode::parse(" It ").unwrap().as_str(), "IT");
        assert_eq!(CountryCode::parse("PT").unwrap().name(), "Portugal");
    }

    #[test]
    fn unknown_and_malformed_codes_are_refused() {
        assert!(CountryCode::parse("XX").is_err());
        assert!(CountryCode::parse("BEL").is_err());
        assert!(CountryCode::parse("").is_err());
        assert!(CountryCode::parse("1E").is_err());
        assert!(CountryCode::parse("É").is_err());
    }
}
