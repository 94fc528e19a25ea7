//! Changes to utoipa's output that the document needs: blank values of forms, and the
//! spelling of link fields.

use serde_json::Value;

use crate::http::schema::or_blank;

/// Forms send every field, empty when not filled in, so the server reads an empty (or
/// blank) value as an absent one, in query strings and bodies alike. The document says
/// so: an optional query parameter, and an optional body field whose schema has a type,
/// format or choices other than free text, also takes a blank string.
pub fn describe_blank_values(document: &mut Value) {
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        let parameters = paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut())
            .filter_map(|operation| operation.get_mut("parameters").and_then(Value::as_array_mut))
            .flatten()
            .filter_map(Value::as_object_mut);
        for parameter in parameters {
            if parameter.get("in") == Some(&Value::from("query"))
                && parameter.get("required") != Some(&Value::Bool(true))
            {
                if let Some(schema) = parameter.get_mut("schema") {
                    *schema = or_blank(schema.take());
                }
            }
        }
    }
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        if !name.ends_with("Body") {
            continue;
        }
        let object = match schema.get_mut("allOf").and_then(Value::as_array_mut) {
            Some(parts) => parts.iter_mut().find(|part| part.get("properties").is_some()),
            None => Some(schema),
        };
        let Some(object) = object.and_then(Value::as_object_mut) else {
            continue;
        };
        let required: Vec<Value> = object
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (field, property) in properties.iter_mut() {
            let free_text = property
                .get("type")
                .is_some_and(|kind| kind == "string" || kind == &serde_json::json!(["string", "null"]))
                && ["format", "enum", "pattern"]
                    .iter()
                    .all(|key| property.get(key).is_none());
            if required.contains(&Value::from(field.as_str())) || free_text || property.get("anyOf").is_some()
            {
                continue;
            }
            *property = or_blank(property.take());
        }
    }
}

/// utoipa 5.5 writes a link's fields in snake case (`operation_id`); OpenAPI spells
/// them `operationId`, `operationRef` and `requestBody`, and tools ignore the others.
pub fn fix_link_names(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses").and_then(Value::as_object_mut))
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links").and_then(Value::as_object_mut))
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        for (snake, camel) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(snake) {
                link.insert(camel.to_owned(), value);
            }
        }
    }
}
