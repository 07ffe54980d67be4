//! The tool definitions as clients receive them. The schemas schemars derives carry a few
//! things mainstream clients choke on or pay for: boolean schemas (`true` for a free-form
//! JSON field), which the TypeScript SDK's `tools/list` validation rejects, and the doc
//! comments of every nested domain type, which cost every agent context on each session.
//! Output schemas keep their structure (so clients validate results) and lose the nested
//! prose; input schemas, which the model fills in, keep every description.

use std::sync::Arc;

use rmcp::model::Tool;
use serde_json::{Map, Value};

/// The read-only tool list (what a viewer gets by default) must stay below this many
/// bytes of JSON: it is paid for in every agent's context. 16 KiB held until incidents
/// listed every correlated rule and actions every approval (17,044 bytes for 9 tools);
/// raised to 17.5 KiB for those, not for new tools: the next read tool makes room first.
#[cfg(test)]
pub const MAX_READ_ONLY_LIST_BYTES: usize = 17 * 1024 + 512;

/// Keywords whose value is one schema.
const ONE: &[&str] = &[
    "items",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "additionalItems",
];
/// Keywords whose value is a list of schemas.
const LIST: &[&str] = &["anyOf", "oneOf", "allOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const MAP: &[&str] = &["properties", "patternProperties", "$defs", "definitions"];

/// `tool` as it is listed.
pub fn published(mut tool: Tool) -> Tool {
    let mut input = Value::Object((*tool.input_schema).clone());
    no_boolean_schemas(&mut input);
    lean_input(&mut input);
    if let Value::Object(o) = input {
        tool.input_schema = Arc::new(o);
    }
    if let Some(schema) = tool.output_schema.take() {
        let mut output = Value::Object((*schema).clone());
        no_boolean_schemas(&mut output);
        terse(&mut output, 0);
        if let Value::Object(o) = output {
            tool.output_schema = Some(Arc::new(o));
        }
    }
    tool
}

/// The size of a tool list as `tools/list` sends it.
#[cfg(test)]
pub fn list_bytes(tools: &[Tool]) -> usize {
    serde_json::to_vec(tools)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}

/// Replaces boolean subschemas (`true`: anything, `false`: nothing) with their object
/// forms, which every client's schema validation accepts. `additionalProperties: false`
/// stays: it is a keyword value clients understand, not a property's schema.
fn no_boolean_schemas(schema: &mut Value) {
    let Value::Object(o) = schema else { return };
    for (key, v) in o.iter_mut() {
        let k = key.as_str();
        if ONE.contains(&k) {
            object_form(v);
            no_boolean_schemas(v);
        } else if LIST.contains(&k) {
            for s in v.as_array_mut().into_iter().flatten() {
                object_form(s);
                no_boolean_schemas(s);
            }
        } else if MAP.contains(&k) {
            for s in v.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                object_form(s);
                no_boolean_schemas(s);
            }
        } else if k == "additionalProperties" {
            no_boolean_schemas(v);
        }
    }
}

fn object_form(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = Value::Object(Map::new()),
        Value::Bool(false) => {
            *schema = serde_json::json!({ "not": {} });
        }
        _ => {}
    }
}

/// schemars' integer and float widths (`int64`, `double`): no validator checks them and
/// JSON has one number type. A top-level `date-time` stays.
const WIDTHS: &[&str] = &[
    "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float",
    "double",
];

fn drop_width(o: &mut Map<String, Value>) {
    if o.get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| WIDTHS.contains(&f))
    {
        o.remove("format");
    }
}

/// Input schemas keep their descriptions and bounds; only schemars' noise goes
/// (`$schema`, number widths, `default: null`).
fn lean_input(schema: &mut Value) {
    let Value::Object(o) = schema else { return };
    o.remove("$schema");
    for p in o
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        if let Value::Object(p) = p {
            drop_width(p);
            if p.get("default").is_some_and(Value::is_null) {
                p.remove("default");
            }
        }
    }
}

/// Drops prose, formats and `required` lists below the output's top-level fields (the tool's
/// description says what it answers; the field names say the rest), number widths and
/// schemars' `$schema`/`title` noise. Types, nesting and top-level `required` stay, so
/// clients still validate results.
fn terse(schema: &mut Value, depth: usize) {
    let Value::Object(o) = schema else { return };
    o.remove("$schema");
    o.remove("title");
    drop_width(o);
    if depth > 1 {
        // Nested times are named `*_at`; the format adds bytes, not meaning.
        o.remove("format");
        o.remove("description");
        o.remove("required");
    }
    for (key, v) in o.iter_mut() {
        let k = key.as_str();
        if ONE.contains(&k) || k == "additionalProperties" {
            terse(v, depth + 1);
        } else if LIST.contains(&k) {
            for s in v.as_array_mut().into_iter().flatten() {
                terse(s, depth + 1);
            }
        } else if MAP.contains(&k) {
            // `$defs` entries are types reused below the top level.
            let below = if k == "properties" { depth + 1 } else { 2 };
            for s in v.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                terse(s, below);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn boolean_schemas_become_objects_wherever_a_schema_goes() {
        let mut s = json!({
            "type": "object",
            "properties": {"details": true, "list": {"type": "array", "items": true}},
            "additionalProperties": false,
            "$defs": {"A": {"anyOf": [true, {"type": "null"}], "properties": {"x": false}}}
        });
        no_boolean_schemas(&mut s);
        assert_eq!(s["properties"]["details"], json!({}));
        assert_eq!(s["properties"]["list"]["items"], json!({}));
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(s["$defs"]["A"]["anyOf"][0], json!({}));
        assert_eq!(s["$defs"]["A"]["properties"]["x"], json!({"not": {}}));
    }

    #[test]
    fn output_prose_is_kept_for_top_level_fields_only() {
        let mut s = json!({
            "title": "X", "description": "kept",
            "properties": {"a": {"description": "kept too", "type": "object",
                "properties": {"b": {"description": "dropped"}}}},
            "$defs": {"T": {"description": "dropped", "properties": {"c": {"description": "dropped"}}}}
        });
        terse(&mut s, 0);
        assert!(s.get("title").is_none());
        assert_eq!(s["description"], "kept");
        assert_eq!(s["properties"]["a"]["description"], "kept too");
        assert!(
            s["properties"]["a"]["properties"]["b"]
                .get("description")
                .is_none()
        );
        assert!(s["$defs"]["T"].get("description").is_none());
        assert!(
            s["$defs"]["T"]["properties"]["c"]
                .get("description")
                .is_none()
        );
    }

    #[test]
    fn number_widths_and_null_defaults_go_bounds_stay() {
        let mut input = json!({"$schema": "x", "properties": {"limit":
            {"type": ["integer", "null"], "format": "int64", "minimum": 1, "default": null}}});
        lean_input(&mut input);
        assert_eq!(
            input,
            json!({"properties": {"limit": {"type": ["integer", "null"], "minimum": 1}}})
        );
        let mut output = json!({"required": ["a"], "properties": {"a": {"format": "double"},
            "t": {"format": "date-time"}, "o": {"required": ["b"], "properties": {"b": {"required": ["c"]}}}}});
        terse(&mut output, 0);
        assert_eq!(output["required"], json!(["a"]));
        assert!(output["properties"]["a"].get("format").is_none());
        assert_eq!(output["properties"]["t"]["format"], "date-time");
        assert_eq!(output["properties"]["o"]["required"], json!(["b"]));
        assert!(
            output["properties"]["o"]["properties"]["b"]
                .get("required")
                .is_none()
        );
    }
}
