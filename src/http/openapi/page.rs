//! The documentation page: every operation by tag, with its parameters, body and
//! answers, then every schema with its properties. No script, nothing fetched.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A schema in a line: its reference's name, or its type with the notable constraints.
fn describe(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema.get(combinator).and_then(Value::as_array) {
            let joiner = if combinator == "allOf" { " &amp; " } else { " | " };
            return parts.iter().map(describe).collect::<Vec<_>>().join(joiner);
        }
    }
    let mut text = match schema.get("type") {
        Some(Value::String(kind)) => escape(kind),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .map(escape)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".into(),
    };
    if let Some(items) = schema.get("items") {
        text = format!("{text} of {}", describe(items));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(|v| escape(&v.to_string())).collect();
        if values.len() <= 12 {
            text = format!("{text}: {}", values.join(", "));
        } else {
            text = format!("{text}: one of {} values", values.len());
        }
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
            let _ = write!(text, ", {key} <code>{}</code>", escape(&value));
        }
    }
    text
}

fn text_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The documentation page: every operation by tag, with its parameters, body and
/// answers, then every schema with its properties. No script, nothing fetched.
pub fn render_page(document: &Value) -> String {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>rallypoint API</title><style>\
         body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}\
         code,.path{font-family:ui-monospace,monospace}table{border-collapse:collapse;width:100%;margin:.5rem 0}\
         td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}\
         .op{border-top:2px solid #333;margin-top:1.5rem}.method{font-weight:bold;text-transform:uppercase}\
         </style></head><body>\n",
    );
    let info = &document["info"];
    let _ = writeln!(
        html,
        "<h1>{} API <small>{}</small></h1><p>{}</p><p>OpenAPI {}: <a href=\"/api/v1/openapi.json\">openapi.json</a></p>",
        escape(text_of(info, "title")),
        escape(text_of(info, "version")),
        escape(text_of(info, "description")),
        escape(text_of(document, "openapi")),
    );
    let empty = serde_json::Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    let mut by_tag: BTreeMap<String, Vec<(String, String, &Value)>> = BTreeMap::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(operation) = item.get(method) {
                let tag = operation["tags"][0].as_str().unwrap_or("other").to_owned();
                by_tag
                    .entry(tag)
                    .or_default()
                    .push((method.to_owned(), path.clone(), operation));
            }
        }
    }
    html.push_str("<h2>Operations</h2>\n");
    for tag in document["tags"].as_array().into_iter().flatten() {
        let name = text_of(tag, "name");
        let Some(operations) = by_tag.get(name) else {
            continue;
        };
        let _ = writeln!(
            html,
            "<h3 id=\"tag-{0}\">{0}</h3><p>{1}</p>",
            escape(name),
            escape(text_of(tag, "description"))
        );
        for (method, path, operation) in operations {
            render_operation(&mut html, method, path, operation);
        }
    }
    html.push_str("<h2>Schemas</h2>\n");
    let schemas = document["components"]["schemas"].as_object().unwrap_or(&empty);
    for (name, schema) in schemas {
        let _ = writeln!(
            html,
            "<h3 id=\"schema-{0}\">{0}</h3><p>{1}</p>",
            escape(name),
            escape(text_of(schema, "description"))
        );
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match schema.get("properties").and_then(Value::as_object) {
            Some(properties) => {
                html.push_str("<table><tr><th>field</th><th>schema</th><th>description</th></tr>\n");
                for (field, property) in properties {
                    let _ = writeln!(
                        html,
                        "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(field),
                        if required.contains(&field.as_str()) {
                            " (required)"
                        } else {
                            ""
                        },
                        describe(property),
                        escape(text_of(property, "description"))
                    );
                }
                html.push_str("</table>\n");
            }
            None => {
                let _ = writeln!(html, "<p>{}</p>", describe(schema));
            }
        }
    }
    html.push_str("</body></html>\n");
    html
}

fn render_operation(html: &mut String, method: &str, path: &str, operation: &Value) {
    let _ = writeln!(
        html,
        "<div class=\"op\" id=\"{}\"><p><span class=\"method\">{}</span> <span class=\"path\">{}</span>{}</p><p>{}</p>",
        escape(text_of(operation, "operationId")),
        escape(method),
        escape(path),
        if operation.get("security").is_some() { " — bearer token" } else { "" },
        escape(text_of(operation, "summary")),
    );
    if let Some(parameters) = operation.get("parameters").and_then(Value::as_array) {
        html.push_str("<table><tr><th>parameter</th><th>in</th><th>schema</th><th>description</th></tr>\n");
        for parameter in parameters {
            let _ = writeln!(
                html,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(text_of(parameter, "name")),
                if parameter["required"] == Value::Bool(true) {
                    " (required)"
                } else {
                    ""
                },
                escape(text_of(parameter, "in")),
                describe(&parameter["schema"]),
                escape(text_of(parameter, "description")),
            );
        }
        html.push_str("</table>\n");
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = writeln!(
                html,
                "<p>Body (<code>{}</code>): {}</p>",
                escape(media),
                describe(&body["schema"])
            );
        }
    }
    html.push_str("<table><tr><th>status</th><th>answer</th><th>content</th></tr>\n");
    for (status, response) in operation["responses"].as_object().into_iter().flatten() {
        let content: Vec<String> = response["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(media, body)| format!("<code>{}</code> {}", escape(media), describe(&body["schema"])))
            .collect();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(status),
            escape(text_of(response, "description")),
            content.join("<br>")
        );
    }
    html.push_str("</table></div>\n");
}
