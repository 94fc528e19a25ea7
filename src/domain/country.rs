//! ISO 3166-1 alpha-2 country codes, checked against the `celes` crate's table.

use std::fmt;
use std::sync::LazyLock;

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

/// A country to choose from: its code and display name.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct CountryChoice {
    pub code: &'static str,
    pub name: &'static str,
}

static ALL_COUNTRIES: LazyLock<Vec<CountryChoice>> = LazyLock::new(|| {
    let mut all: Vec<CountryChoice> = celes::Country::get_countries()
        .iter()
        .map(|country| CountryChoice {
            code: country.alpha2,
            name: country.long_name,
        })
        .collect();
    all.sort_by_cached_key(|country| sort_key(country.name));
    all
});

/// Every country of the table, sorted by display name as people look for it: the
/// table's names sometimes begin with "The" ("The Netherlands"), which is skipped.
pub fn all_countries() -> &'static [CountryChoice] {
    &ALL_COUNTRIES
}

fn sort_key(name: &str) -> String {
    let lower = name.to_lowercase();
    lower.strip_prefix("the ").map(str::to_owned).unwrap_or(lower)
}

/// In the OpenAPI document: one of the country table's codes (also accepted lower-case).
impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(all_countries().iter().map(|country| country.code)))
            .description(Some(
                "ISO 3166-1 alpha-2 code; lower case is accepted too, and stored upper-case",
            ))
            .examples([serde_json::json!("BE")])
            .into()
    }
}

impl utoipa::ToSchema for CountryCode {}

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
    fn the_country_list_is_complete_and_sorted_by_name() {
        let all = all_countries();
        assert!(all.len() >= 249, "{}", all.len());
        assert!(all.iter().all(|c| CountryCode::parse(c.code).is_ok()));
        let position = |code| all.iter().position(|c| c.code == code).unwrap();
        assert!(position("BE") < position("FR"));
        assert!(position("NL") < position("PT"), "The Netherlands sorts under N");
        assert!(position("AF") == 0);
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
