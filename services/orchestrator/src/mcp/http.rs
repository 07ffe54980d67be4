//! MCP over streamable HTTP at `/mcp`, on the orchestrator's port: the REST bearer tokens
//! (channel `mcp`), the `Host` allow-list (rmcp's DNS-rebinding guard, configurable because
//! its localhost-only default breaks Docker and proxies) and an `Origin` allow-list:
//! `mcp.allowed_origins`, plus the localhost origins when the server listens on a loopback
//! address only (a browser-based client on the same machine, such as the MCP Inspector).
//! Sessions are kept in PostgreSQL, so any replica serves any session.

use std::sync::Arc;

use axum::{Router, middleware};
use domain::Channel;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::sessions::PgSessionStore;
use super::{McpServer, Shared};
use crate::api::auth::{Authn, require_token};

/// Origins of pages served from this machine. Only accepted when the server itself is
/// reachable from this machine alone: a page elsewhere cannot have such an origin unless
/// its DNS lies, which the `Host` check catches.
const LOCAL_ORIGINS: &[&str] = &[
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://[::1]:*",
];

/// The origins `/mcp` accepts: the configured ones, and the local ones when the server
/// listens on a loopback address.
pub fn allowed_origins(configured: &[String], loopback: bool) -> Vec<String> {
    let mut origins = configured.to_vec();
    if loopback {
        origins.extend(LOCAL_ORIGINS.iter().map(|o| o.to_string()));
    }
    origins
}

/// The `/mcp` route, behind `authn` (its channel set to `mcp`); sessions are kept in
/// `pool`. `loopback`: the server listens on a loopback address only. Sessions end when
/// `stop` is cancelled (shutdown).
pub fn router(
    shared: Arc<Shared>,
    authn: Authn,
    pool: PgPool,
    body_limit: usize,
    loopback: bool,
    stop: CancellationToken,
) -> Router {
    let s = &shared.settings;
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_origins(allowed_origins(&s.allowed_origins, loopback))
        .enforce_origin_validation()
        .with_max_request_body_bytes(body_limit)
        .with_cancellation_token(stop.child_token());
    config = if s.allowed_hosts.iter().any(|h| h == "*") {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(s.allowed_hosts.clone())
    };
    config.session_store = Some(Arc::new(PgSessionStore::new(pool)));
    let sessions = shared.clone();
    let service = StreamableHttpService::new(
        move || Ok(McpServer::for_http(sessions.clone())),
        LocalSessionManager::default().into(),
        config,
    );
    let authn = Authn {
        channel: Channel::Mcp,
        ..authn
    };
    Router::new()
        .route_service("/mcp", service)
        .layer(middleware::from_fn_with_state(authn, require_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_origins_only_on_a_loopback_address() {
        let configured = vec!["https://ops.example.com:443".to_string()];
        let local = allowed_origins(&configured, true);
        assert!(local.contains(&"http://localhost:*".to_string()));
        assert!(local.contains(&configured[0]));
        assert_eq!(allowed_origins(&configured, false), configured);
    }
}
