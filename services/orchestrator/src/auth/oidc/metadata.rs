//! OAuth 2.0 Protected Resource Metadata (RFC 9728): what an MCP client reads after a 401 to
//! learn which authorization server issues tokens for this server.

use serde_json::{Value, json};

/// The metadata URL of `resource`: `/.well-known/oauth-protected-resource` inserted between
/// the host and the resource's path (RFC 9728 §3.1), e.g. `https://h/mcp` →
/// `https://h/.well-known/oauth-protected-resource/mcp`.
pub fn url_of(resource: &str) -> Option<String> {
    let u = url::Url::parse(resource).ok()?;
    let path = u.path().trim_end_matches('/');
    let mut out = u.clone();
    out.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
    out.set_query(None);
    out.set_fragment(None);
    Some(out.to_string())
}

/// The paths this server answers the metadata on: the bare well-known path and the one with
/// the resource's path appended.
pub fn paths_of(resource: &str) -> Vec<String> {
    let mut paths = vec!["/.well-known/oauth-protected-resource".to_string()];
    if let Some(u) = url_of(resource).and_then(|u| url::Url::parse(&u).ok())
        && u.path() != paths[0]
    {
        paths.push(u.path().to_string());
    }
    paths
}

pub fn document(resource: &str, issuer: &str) -> Value {
    json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": "Runbooks",
    })
}

/// The `WWW-Authenticate` value of a 401: where the metadata is, and, when a token was
/// presented, why it was refused (RFC 6750 §3). Quotes and backslashes are kept out of the
/// quoted strings.
pub fn challenge(resource: &str, refused: Option<&str>) -> String {
    let clean = |s: &str| s.replace(['"', '\\'], "'");
    let mut v = String::from("Bearer");
    let mut parts = Vec::new();
    if let Some(url) = url_of(resource) {
        parts.push(format!("resource_metadata=\"{}\"", clean(&url)));
    }
    if let Some(why) = refused {
        parts.push("error=\"invalid_token\"".to_string());
        parts.push(format!("error_description=\"{}\"", clean(why)));
    }
    if !parts.is_empty() {
        v.push(' ');
        v.push_str(&parts.join(", "));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_url_inserts_the_well_known_path_before_the_resource_path() {
        assert_eq!(
            url_of("https://ops.example/mcp").as_deref(),
            Some("https://ops.example/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            url_of("http://127.0.0.1:3001/").as_deref(),
            Some("http://127.0.0.1:3001/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            paths_of("https://ops.example/mcp"),
            vec![
                "/.well-known/oauth-protected-resource",
                "/.well-known/oauth-protected-resource/mcp"
            ]
        );
    }

    #[test]
    fn challenge_points_at_the_metadata_and_says_why() {
        assert_eq!(
            challenge("https://ops.example/mcp", None),
            "Bearer resource_metadata=\"https://ops.example/.well-known/oauth-protected-resource/mcp\""
        );
        let c = challenge("https://ops.example/mcp", Some("the \"token\" has expired"));
        assert!(c.contains("error=\"invalid_token\""), "{c}");
        assert!(
            c.ends_with("error_description=\"the 'token' has expired\""),
            "{c}"
        );
    }
}
