//! Schemas of request fields that several bodies share, for the OpenAPI document.
//! Request bodies are read field by field (`domain::input::Fields`), not deserialised, so
//! each handler describes its body with a type that exists for the document only, beside
//! the handler; the integration suite checks that the server knows every documented field.

use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, Object, ObjectBuilder, Schema, Type};

/// A blank string: only the characters Rust's `str::trim` removes (Unicode White_Space),
/// spelt out because `\s` differs between regex dialects (U+0085, U+FEFF).
pub const BLANK: &str =
    "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$";

pub fn blank() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(BLANK))
        .description(Some("blank: as if absent"))
}

/// `schema`, or a blank string standing for its absence.
pub fn or_blank(schema: serde_json::Value) -> serde_json::Value {
    let blank = serde_json::to_value(blank().build()).expect("a schema serialises");
    serde_json::json!({ "anyOf": [schema, blank] })
}

pub fn slug() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[a-z0-9][a-z0-9-]*$"))
        .max_length(Some(64))
        .description(Some("A slug: lower-case letters, digits and dashes"))
        .build()
}

/// A ranking of visits: a list of slugs; one slug alone is a list of one (as a form sends
/// it), and null or a blank string an empty list.
pub fn ranking() -> Schema {
    AnyOfBuilder::new()
        // Blank entries are dropped: a form's unselected choice boxes.
        .item(ArrayBuilder::new().items(AnyOfBuilder::new().item(slug()).item(blank())))
        .item(slug())
        .item(blank())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "Site-visit slugs of this event, best first, each once, at most the event's \
             `max_preferences`; one slug alone is a list of one, null or blank none, \
             blank entries are left out",
        ))
        .into()
}

/// A visit to move to: its slug, or null (or blank) for none.
pub fn move_target() -> Schema {
    AnyOfBuilder::new()
        .item(slug())
        .item(blank())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some("The visit's slug; null (or blank) takes the seat away"))
        .into()
}

/// An IANA time zone, as the time-zone database this build carries names them.
pub fn time_zone() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
        .description(Some("An IANA time zone, e.g. Europe/Brussels"))
        .examples([serde_json::json!("Europe/Brussels")])
        .build()
}

/// `consent` can only be given.
pub fn consent() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .description(Some("Must be true: registering needs the person's consent"))
        .build()
}

/// Reminder rules: up to 5 whole hours (1 to 336) before each visit's start.
pub fn reminder_hours() -> Schema {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(336)),
        )
        .max_items(Some(5))
        .into()
}
