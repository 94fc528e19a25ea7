//! The documentation page: every operation by tag, with its parameters, body and
//! answers, then every schema with its properties. No script, nothing fetched.
//!
//! This file reads the OpenAPI document into a plain context; the template
//! `templates/pages/api-docs.html.j2` lays it out, and its HTML auto-escaping is the
//! only escaping there is.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, HtmlEscape, Output, State, Value as TemplateValue};
use serde::Serialize;
use serde_json::Value;

const TEMPLATE_NAME: &str = "api-docs.html.j2";
const TEMPLATE: &str = include_str!("../../../templates/pages/api-docs.html.j2");

/// One piece of a schema's line: plain text, a code span, or a link to a schema.
#[derive(Debug, PartialEq, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
enum Piece {
    Text(String),
    Code(String),
    Schema(String),
}

#[derive(Serialize)]
struct DocsPage<'a> {
    title: &'a str,
    version: &'a str,
    description: &'a str,
    openapi: &'a str,
    tags: Vec<Tag<'a>>,
    schemas: Vec<SchemaEntry<'a>>,
}

#[derive(Serialize)]
struct Tag<'a> {
    name: &'a str,
    description: &'a str,
    operations: Vec<Operation<'a>>,
}

#[derive(Serialize)]
struct Operation<'a> {
    /// The `operationId`, the operation's anchor.
    id: &'a str,
    method: &'static str,
    path: &'a str,
    /// Whether it needs a bearer token.
    bearer: bool,
    summary: &'a str,
    /// `None` when the operation lists no parameters at all (no table is shown).
    parameters: Option<Vec<Parameter<'a>>>,
    bodies: Vec<Content<'a>>,
    answers: Vec<Answer<'a>>,
}

#[derive(Serialize)]
struct Parameter<'a> {
    name: &'a str,
    required: bool,
    /// Where it goes: `path`, `query` or `header`.
    location: &'a str,
    schema: Vec<Piece>,
    description: &'a str,
}

/// A media type with its schema, of a request body or an answer.
#[derive(Serialize)]
struct Content<'a> {
    media: &'a str,
    schema: Vec<Piece>,
}

#[derive(Serialize)]
struct Answer<'a> {
    status: &'a str,
    description: &'a str,
    content: Vec<Content<'a>>,
}

#[derive(Serialize)]
struct SchemaEntry<'a> {
    name: &'a str,
    description: &'a str,
    /// `None` for a schema without properties, shown by its [`Self::line`] instead.
    properties: Option<Vec<Property<'a>>>,
    line: Vec<Piece>,
}

#[derive(Serialize)]
struct Property<'a> {
    name: &'a str,
    required: bool,
    schema: Vec<Piece>,
    description: &'a str,
}

/// A schema in a line: its reference's name, or its type with the notable constraints.
fn describe(schema: &Value) -> Vec<Piece> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return vec![Piece::Schema(name.to_owned())];
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema.get(combinator).and_then(Value::as_array) {
            let joiner = if combinator == "allOf" { " & " } else { " | " };
            let mut pieces = Vec::new();
            for (index, part) in parts.iter().enumerate() {
                if index > 0 {
                    pieces.push(Piece::Text(joiner.to_owned()));
                }
                pieces.extend(describe(part));
            }
            return pieces;
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".into(),
    };
    let mut pieces = vec![Piece::Text(kind)];
    if let Some(items) = schema.get("items") {
        pieces.push(Piece::Text(" of ".into()));
        pieces.extend(describe(items));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(Value::to_string).collect();
        pieces.push(Piece::Text(if values.len() <= 12 {
            format!(": {}", values.join(", "))
        } else {
            format!(": one of {} values", values.len())
        }));
    }
    for key in [
        "format",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "default",
    ] {
        if let Some(value) = schema.get(key) {
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            pieces.push(Piece::Text(format!(", {key} ")));
            pieces.push(Piece::Code(value));
        }
    }
    pieces
}

fn text_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Every media type of a `content` object with its schema.
fn contents(content: &Value) -> Vec<Content<'_>> {
    content
        .as_object()
        .into_iter()
        .flatten()
        .map(|(media, body)| Content {
            media,
            schema: describe(&body["schema"]),
        })
        .collect()
}

fn operation<'a>(method: &'static str, path: &'a str, operation: &'a Value) -> Operation<'a> {
    let parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .map(|parameters| {
            parameters
                .iter()
                .map(|parameter| Parameter {
                    name: text_of(parameter, "name"),
                    required: parameter["required"] == Value::Bool(true),
                    location: text_of(parameter, "in"),
                    schema: describe(&parameter["schema"]),
                    description: text_of(parameter, "description"),
                })
                .collect()
        });
    let answers = operation["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, response)| Answer {
            status,
            description: text_of(response, "description"),
            content: contents(&response["content"]),
        })
        .collect();
    Operation {
        id: text_of(operation, "operationId"),
        method,
        path,
        bearer: operation.get("security").is_some(),
        summary: text_of(operation, "summary"),
        parameters,
        bodies: contents(&operation["requestBody"]["content"]),
        answers,
    }
}

fn schema_entry<'a>(name: &'a str, schema: &'a Value) -> SchemaEntry<'a> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(field, property)| Property {
                    name: field,
                    required: required.contains(&field.as_str()),
                    schema: describe(property),
                    description: text_of(property, "description"),
                })
                .collect()
        });
    SchemaEntry {
        name,
        description: text_of(schema, "description"),
        line: if properties.is_none() {
            describe(schema)
        } else {
            Vec::new()
        },
        properties,
    }
}

/// The page's context: the operations under the document's tags, in the tags' order
/// (an operation under no listed tag is not shown), then the schemas.
fn context(document: &Value) -> DocsPage<'_> {
    let mut by_tag: BTreeMap<&str, Vec<(&'static str, &str, &Value)>> = BTreeMap::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(found) = item.get(method) {
                let tag = found["tags"][0].as_str().unwrap_or("other");
                by_tag.entry(tag).or_default().push((method, path, found));
            }
        }
    }
    let tags = document["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tag| {
            let name = text_of(tag, "name");
            let operations = by_tag.get(name)?;
            Some(Tag {
                name,
                description: text_of(tag, "description"),
                operations: operations
                    .iter()
                    .map(|&(method, path, found)| operation(method, path, found))
                    .collect(),
            })
        })
        .collect();
    let schemas = document["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| schema_entry(name, schema))
        .collect();
    let info = &document["info"];
    DocsPage {
        title: text_of(info, "title"),
        version: text_of(info, "version"),
        description: text_of(info, "description"),
        openapi: text_of(document, "openapi"),
        tags,
        schemas,
    }
}

/// minijinja's HTML escaping, except that `/` stays as it is. minijinja writes it as
/// `&#x2f;`, which HTML never needs; left alone, the page's source shows paths and
/// media types as written, which is what the docs test (and a reader of the source)
/// looks for. Every `&` of a value is already `&amp;` in the escaped text, so an
/// `&#x2f;` there can only stand for a `/`.
fn escape_keeping_slashes(
    out: &mut Output,
    state: &State,
    value: &TemplateValue,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            let escaped = HtmlEscape(text).to_string().replace("&#x2f;", "/");
            Ok(out.write_str(&escaped)?)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// The documentation page: every operation by tag, with its parameters, body and
/// answers, then every schema with its properties. No script, nothing fetched.
pub fn render_page(document: &Value) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_formatter(escape_keeping_slashes);
    env.add_template(TEMPLATE_NAME, TEMPLATE)?;
    env.get_template(TEMPLATE_NAME)?
        .render(TemplateValue::from_serialize(context(document)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::render_page;

    #[test]
    fn the_template_escapes_every_value_and_leaves_slashes_alone() {
        let document = json!({
            "openapi": "3.1.0",
            "info": {"title": "t<i>", "version": "1", "description": "a & b"},
            "tags": [{"name": "x", "description": "<script>alert(1)</script>"}],
            "paths": {"/a/{b}": {"get": {
                "tags": ["x"], "operationId": "op\"id", "summary": "it's",
                "responses": {"200": {"description": "ok", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                }}}
            }}},
            "components": {"schemas": {"Thing": {"type": "string", "enum": ["<a>"], "pattern": "^&$"}}}
        });
        let html = render_page(&document).expect("the page renders");
        assert!(html.contains("<span class=\"path\">/a/{b}</span>"), "{html}");
        assert!(html.contains("<h1>t&lt;i&gt; API"), "{html}");
        assert!(html.contains("<p>a &amp; b</p>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("id=\"op&quot;id\""), "{html}");
        assert!(html.contains("<p>it&#x27;s</p>"), "{html}");
        assert!(
            html.contains("<code>application/json</code> <a href=\"#schema-Thing\">Thing</a>"),
            "{html}"
        );
        assert!(
            html.contains("<p>string: &quot;&lt;a&gt;&quot;, pattern <code>^&amp;$</code></p>"),
            "{html}"
        );
    }
}
