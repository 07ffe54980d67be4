//! The OpenAPI 3.1 document, generated from the route table and the Rust types.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::routes::Route;

pub fn document(routes: &[Route]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for r in routes {
        let mut op = json!({
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": operation_id(r),
            "security": [{"bearer": []}],
        });
        let mut params: Vec<Value> = path_params(r.path)
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}}))
            .collect();
        if let Some(q) = r.query {
            let schema = q(&mut generator);
            params.extend(query_params(&schema, &generator));
        }
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(b) = r.body {
            op["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": b(&mut generator)}},
            });
        }
        let mut responses = Map::new();
        responses.insert(
            r.success.as_u16().to_string(),
            json!({"description": "success", "content": {"application/json": {"schema": (r.response)(&mut generator)}}}),
        );
        for code in r.errors {
            responses.insert(
                code.to_string(),
                json!({"description": describe(*code), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
            );
        }
        op["responses"] = Value::Object(responses);
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.as_str().to_lowercase()] = op;
    }
    let mut schemas = generator.take_definitions(true);
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error", "message"],
            "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Runbooks orchestrator",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Incidents, actions, logs and rules. Every route needs `Authorization: Bearer <token>` (RUNBOOKS__API__TOKENS).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
}

fn operation_id(r: &Route) -> String {
    let clean: String = r
        .path
        .trim_start_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!(
        "{}_{}",
        r.method.as_str().to_lowercase(),
        clean.trim_matches('_').replace("__", "_")
    )
}

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// One query parameter per property of the query type.
fn query_params(schema: &schemars::Schema, generator: &schemars::SchemaGenerator) -> Vec<Value> {
    let resolved = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .rsplit('/')
            .next()
            .and_then(|name| generator.definitions().get(name))
            .cloned()
            .unwrap_or(Value::Null),
        None => schema.as_value().clone(),
    };
    let required: Vec<&str> = resolved["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    resolved["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, s)| {
                    let mut p = json!({"name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": s});
                    if let Some(d) = s.get("description") {
                        p["description"] = d.clone();
                    }
                    p
                })
                .collect()
        })
        .unwrap_or_default()
}

fn describe(code: u16) -> &'static str {
    match code {
        400 => "malformed request (bad JSON, bad id, unknown parameter)",
        401 => "missing or invalid bearer token",
        403 => "not allowed (e.g. approving one's own action)",
        404 => "not found",
        406 => "the Accept header asks for a type this route cannot serve",
        409 => "conflicts with the current state",
        413 => "body too large",
        415 => "body is not JSON",
        422 => "well-formed but invalid (wrong types, missing fields, bad values)",
        _ => "error",
    }
}
