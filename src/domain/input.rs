//! Reading a submitted object field by field, collecting every problem at once, so a
//! client hears about all its mistakes in one answer. The HTTP edge turns JSON bodies and
//! urlencoded forms into the same JSON object; domain types are parsed from it here.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::error::{DomainError, FieldErrors};

/// A submitted object whose fields are taken one by one; what is left at the end is
/// reported as unknown.
pub struct Fields {
    values: Map<String, Value>,
    errors: FieldErrors,
    prefix: String,
}

impl Fields {
    pub fn new(values: Map<String, Value>) -> Self {
        Self::with_prefix(values, "")
    }

    /// Field names in errors are reported as `{prefix}{name}` (e.g. `site_visits[0].slug`).
    pub fn with_prefix(values: Map<String, Value>, prefix: &str) -> Self {
        Self {
            values,
            errors: FieldErrors::new(),
            prefix: prefix.to_owned(),
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(format!("{}{field}", self.prefix))
            .or_default()
            .push(message.into());
    }

    pub fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(&format!("{}{field}", self.prefix))
    }

    /// Takes a field out, treating JSON `null` and a blank form value as absent.
    fn take(&mut self, field: &str) -> Option<Value> {
        match self.values.remove(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(value) => Some(value),
        }
    }

    /// A list of anything (nested tables); absent is empty.
    pub fn take_list(&mut self, field: &str) -> Vec<Value> {
        match self.values.remove(field) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.error(field, "must be a list");
                Vec::new()
            }
        }
    }

    /// A nested object (e.g. `{"audience": {...}}`); absent is empty. Read its fields
    /// with [`Fields::nested`] so that their errors are named `{field}.{name}`.
    pub fn take_object(&mut self, field: &str) -> Map<String, Value> {
        match self.values.remove(field) {
            None | Some(Value::Null) => Map::new(),
            // A blank value is absent, as for every field.
            Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => {
                self.error(field, "must be an object");
                Map::new()
            }
        }
    }

    /// Reads the nested object `values` (taken from `field`) with `read`, its errors
    /// and its unknown fields reported as `{field}.{name}` among this object's.
    pub fn nested<T>(
        &mut self,
        field: &str,
        values: Map<String, Value>,
        read: impl FnOnce(&mut Fields) -> T,
    ) -> T {
        let mut inner = Fields::with_prefix(values, &format!("{}{field}.", self.prefix));
        let value = read(&mut inner);
        let Fields {
            values,
            errors,
            prefix,
        } = inner;
        for name in values.keys() {
            self.errors
                .entry(format!("{prefix}{name}"))
                .or_default()
                .push("is not a known field".into());
        }
        for (name, messages) in errors {
            self.errors.entry(name).or_default().extend(messages);
        }
        value
    }

    /// Takes a field out as it was sent (`null` and blanks included).
    pub fn take_raw(&mut self, field: &str) -> Option<Value> {
        self.values.remove(field)
    }

    pub fn contains(&self, field: &str) -> bool {
        self.values.contains_key(field)
    }

    /// Whether the field holds a value: neither absent, nor `null`, nor blank (the rule
    /// every read here applies).
    pub fn has_value(&self, field: &str) -> bool {
        match self.values.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
        }
    }

    /// Trimmed text of at most `max` characters, without control characters.
    pub fn optional_text(&mut self, field: &str, max: usize) -> Option<String> {
        let value = self.take(field)?;
        let Value::String(text) = value else {
            self.error(field, "must be a string");
            return None;
        };
        let text = text.trim();
        if text.chars().count() > max {
            self.error(field, format!("must be at most {max} characters"));
            return None;
        }
        if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.error(field, "must not contain control characters");
            return None;
        }
        if text.chars().any(is_bidi_control) {
            self.error(field, BIDI_MESSAGE);
            return None;
        }
        Some(text.to_owned())
    }

    pub fn required_text(&mut self, field: &str, max: usize) -> Option<String> {
        if !self.has_value(field) {
            self.values.remove(field);
            self.error(field, "is required");
            return None;
        }
        self.optional_text(field, max)
    }

    /// A list of strings; a single string counts as a list of one (a form with one
    /// value), blank entries are dropped (unselected choice boxes).
    pub fn string_list(&mut self, field: &str) -> Vec<String> {
        match self.take(field) {
            None => Vec::new(),
            Some(Value::String(one)) => vec![one.trim().to_owned()],
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) if s.trim().is_empty() => {}
                        Value::String(s) => out.push(s.trim().to_owned()),
                        _ => {
                            self.error(field, "must be a list of strings");
                            return Vec::new();
                        }
                    }
                }
                out
            }
            Some(_) => {
                self.error(field, "must be a list of strings");
                Vec::new()
            }
        }
    }

    /// A yes/no value: JSON booleans, or the strings a checked box sends
    /// (`on`, `true`, `1`, `yes`) and their opposites. Absent is `None`.
    pub fn flag(&mut self, field: &str) -> Option<bool> {
        match self.take(field)? {
            Value::Bool(b) => Some(b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => Some(true),
                "off" | "false" | "0" | "no" => Some(false),
                _ => {
                    self.error(field, "must be true or false");
                    None
                }
            },
            _ => {
                self.error(field, "must be true or false");
                None
            }
        }
    }

    /// An integer in `min..=max`; form values arrive as strings.
    pub fn optional_int(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        let value = self.take(field)?;
        let number = match &value {
            // `5.0` is the integer 5 to JSON (and JSON Schema); a fraction is not.
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            }),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match number {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(_) => {
                self.error(field, format!("must be between {min} and {max}"));
                None
            }
            None => {
                self.error(field, "must be a whole number");
                None
            }
        }
    }

    pub fn required_int(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        if self.values.get(field).is_none_or(Value::is_null) {
            self.error(field, "is required");
            return None;
        }
        self.optional_int(field, min, max)
    }

    /// An RFC 3339 time with offset, returned in UTC.
    pub fn optional_time(&mut self, field: &str) -> Option<NaiveDateTime> {
        let text = self.optional_text(field, 64)?;
        match DateTime::parse_from_rfc3339(&text) {
            Ok(time) => Some(time.with_timezone(&Utc).naive_utc()),
            Err(_) => {
                self.error(
                    field,
                    "must be an RFC 3339 time with offset, e.g. 2024-12-05T13:30:00+01:00",
                );
                None
            }
        }
    }

    pub fn required_time(&mut self, field: &str) -> Option<NaiveDateTime> {
        if self.values.get(field).is_none_or(Value::is_null) {
            self.error(field, "is required");
            return None;
        }
        self.optional_time(field)
    }

    pub fn required_date(&mut self, field: &str) -> Option<NaiveDate> {
        let text = self.required_text(field, 16)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                self.error(field, "must be a date as YYYY-MM-DD");
                None
            }
        }
    }

    /// Ends the reading: unknown fields are errors (a misspelt `organization` must not
    /// vanish silently); returns `value` when nothing went wrong.
    pub fn finish<T>(mut self, value: impl FnOnce() -> Option<T>) -> Result<T, DomainError> {
        let unknown: Vec<String> = self.values.keys().cloned().collect();
        for field in unknown {
            self.error(&field, "is not a known field");
        }
        self.into_result(value)
    }

    /// Like [`Fields::finish`] but ignores fields nobody asked for.
    pub fn finish_lenient<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, DomainError> {
        self.into_result(value)
    }

    fn into_result<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, DomainError> {
        if !self.errors.is_empty() {
            return Err(DomainError::Validation(self.errors));
        }
        value().ok_or_else(|| DomainError::invalid("body", "is incomplete"))
    }
}

/// The characters that change the direction text is shown in: the embeddings and
/// overrides U+202A–U+202E, the isolates U+2066–U+2069, the marks U+200E, U+200F and
/// U+061C. In a name they make a roster or a spreadsheet show other text than what is
/// stored (`U+202E` turns `exe.txt` round); no name, organisation or visit text of this
/// service needs them, so every text field refuses them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

const BIDI_MESSAGE: &str = "must not contain characters that change the text direction (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C)";

/// Slugs name events and site visits in URLs: lower-case letters, digits and dashes.
pub fn check_slug(fields: &mut Fields, field: &str) -> Option<String> {
    let slug = fields.required_text(field, 64)?;
    let valid = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && slug.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if valid {
        Some(slug)
    } else {
        fields.error(
            field,
            "must be lower-case letters, digits and dashes, starting with a letter or digit",
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn int_of(value: Value) -> Result<Option<i64>, DomainError> {
        let mut fields = Fields::new(json!({ "n": value }).as_object().unwrap().clone());
        let n = fields.optional_int("n", 0, 1000);
        fields.finish(|| Some(n))
    }

    fn text_of(value: &str) -> Result<Option<String>, DomainError> {
        let mut fields = Fields::new(json!({ "t": value }).as_object().unwrap().clone());
        let text = fields.optional_text("t", 100);
        fields.finish(|| Some(text))
    }

    #[test]
    fn text_fields_refuse_every_bidirectional_control() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
            '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            let Err(DomainError::Validation(errors)) = text_of(&format!("Ana{c}txt.exe")) else {
                panic!("U+{:04X} accepted", c as u32)
            };
            assert!(errors["t"][0].contains("text direction"), "{errors:?}");
        }
        // Right-to-left scripts need none of them, and the joiners are not controls.
        for fine in ["محمد", "שרה", "Nguyễn Thị Minh Khai", "क्षि\u{200D}", "Ōta"] {
            assert_eq!(text_of(fine).unwrap().as_deref(), Some(fine));
        }
    }

    #[test]
    fn whole_numbers_written_with_a_fraction_are_integers() {
        assert_eq!(int_of(json!(157)).unwrap(), Some(157));
        assert_eq!(int_of(json!(157.0)).unwrap(), Some(157));
        assert_eq!(int_of(json!("157")).unwrap(), Some(157));
        assert!(int_of(json!(157.5)).is_err());
        assert!(int_of(json!(1e300)).is_err());
        assert!(int_of(json!(1001.0)).is_err());
    }
}
