//! CORS: only the origins listed in `dashboard.cors_origins` may call the API from a
//! browser; no wildcard. Without a list no CORS header is sent (same origin only).

use std::time::Duration;

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `scheme://host[:port]` exactly, as browsers send it in `Origin`.
pub fn parse_origin(origin: &str) -> Result<HeaderValue, String> {
    let url = url::Url::parse(origin).map_err(|e| format!("`{origin}`: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{origin}` is not an http(s) origin"));
    }
    let canonical = url.origin().ascii_serialization();
    if canonical != origin.trim_end_matches('/') {
        return Err(format!(
            "`{origin}` must be an origin only (scheme://host[:port]), e.g. `{canonical}`"
        ));
    }
    HeaderValue::from_str(&canonical).map_err(|e| format!("`{origin}`: {e}"))
}

/// The layer for a validated allowlist; `None` when it is empty.
pub fn layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| parse_origin(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(list))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT])
            .max_age(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact() {
        assert!(parse_origin("https://grafana.example.com").is_ok());
        assert!(parse_origin("http://localhost:3000").is_ok());
        assert!(parse_origin("*").is_err());
        assert!(parse_origin("https://x.example.com/path").is_err());
        assert!(parse_origin("ftp://x.example.com").is_err());
    }
}
