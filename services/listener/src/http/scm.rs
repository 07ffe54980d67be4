//! `build.scm` of a Jenkins notification as `details.scm`: only the plugin's fields, each
//! of its type, bounded (it is copied into every record of the build).

use serde_json::{Value, json};

use super::ApiError;

/// Bounds of `details.scm`: it is copied into every record of the build.
pub const MAX_SCM_TEXT: usize = 500;
pub const MAX_SCM_CHANGES: usize = 20;
pub const MAX_SCM_CULPRITS: usize = 10;
pub const MAX_SCM_ITEM: usize = 300;

/// Shortens untrusted text to `max` characters.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A list of strings, blanks left out, at most `max` of them, each clipped; and how many
/// there were.
fn strings(v: &Value, field: &str, max: usize) -> Result<(Vec<String>, usize), ApiError> {
    let bad = || ApiError::field(field, format!("`{field}` must be a list of strings"));
    match v {
        Value::Null => Ok((Vec::new(), 0)),
        Value::Array(items) => {
            let (mut out, mut total) = (Vec::new(), 0);
            for item in items {
                let s = item.as_str().ok_or_else(bad)?;
                if s.trim().is_empty() {
                    continue;
                }
                total += 1;
                if out.len() < max {
                    out.push(clip(s, MAX_SCM_ITEM));
                }
            }
            Ok((out, total))
        }
        _ => Err(bad()),
    }
}

/// `build.scm` as `details.scm`: only the plugin's fields, each of its type, bounded.
pub fn scm(v: &Value) -> Result<Option<Value>, ApiError> {
    let scm = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => {
            return Err(ApiError::field(
                "build.scm",
                "`build.scm` must be an object",
            ));
        }
    };
    let null = Value::Null;
    let mut out = serde_json::Map::new();
    for key in ["url", "branch", "commit"] {
        let field = format!("build.scm.{key}");
        if let Some(s) =
            string(scm.get(key).unwrap_or(&null), &field)?.filter(|s| !s.trim().is_empty())
        {
            out.insert(key.into(), json!(clip(s.trim(), MAX_SCM_TEXT)));
        }
    }
    let (changes, n_changes) = strings(
        scm.get("changes").unwrap_or(&null),
        "build.scm.changes",
        MAX_SCM_CHANGES,
    )?;
    let (culprits, n_culprits) = strings(
        scm.get("culprits").unwrap_or(&null),
        "build.scm.culprits",
        MAX_SCM_CULPRITS,
    )?;
    if n_changes > changes.len() {
        // How many paths there were, when not all are kept.
        out.insert("changes_total".into(), json!(n_changes));
    }
    if !changes.is_empty() {
        out.insert("changes".into(), json!(changes));
    }
    if n_culprits > culprits.len() {
        out.insert("culprits_total".into(), json!(n_culprits));
    }
    if !culprits.is_empty() {
        out.insert("culprits".into(), json!(culprits));
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

pub fn string(v: &Value, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ApiError::field(
            field,
            format!("`{field}` must be a string"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scm_is_bounded_and_only_the_plugins_fields() {
        let changes: Vec<String> = (0..30).map(|i| format!("src/file{i}.rs")).collect();
        let scm = scm(
            &json!({"url": "https://git.example.com/app.git", "branch": "origin/main",
                    "commit": "c1a2b3d4e5f6", "changes": changes,
                    "culprits": ["Ann Lee", "", "x".repeat(1000)], "extra": {"ignored": true}}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(scm["commit"], "c1a2b3d4e5f6");
        assert_eq!(scm["branch"], "origin/main");
        assert_eq!(scm["url"], "https://git.example.com/app.git");
        assert_eq!(scm["changes"].as_array().unwrap().len(), MAX_SCM_CHANGES);
        assert_eq!(scm["changes"][0], "src/file0.rs");
        assert_eq!(scm["changes_total"], 30);
        let culprits = scm["culprits"].as_array().unwrap();
        assert_eq!(culprits.len(), 2, "blank names dropped");
        assert_eq!(culprits[1].as_str().unwrap().chars().count(), MAX_SCM_ITEM);
        assert!(scm.get("extra").is_none(), "only the plugin's fields");
        assert!(scm.get("culprits_total").is_none());
        // No scm, or an empty one, leaves no trace.
        for v in [
            json!(null),
            json!({}),
            json!({"commit": " ", "changes": []}),
        ] {
            assert_eq!(super::scm(&v).unwrap(), None, "{v}");
        }
    }
}
