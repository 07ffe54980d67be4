//! MCP over streamable HTTP at `/mcp`, on the orchestrator's port: the REST bearer tokens
//! (channel `mcp`), the `Host` allow-list (rmcp's DNS-rebinding guard, configurable because
//! its localhost-only default breaks Docker and proxies) and an `Origin` allow-list.
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

/// The `/mcp` route, behind `authn` (its channel set to `mcp`); sessions are kept in
/// `pool`. Sessions end when `stop` is cancelled (shutdown).
pub fn router(
    shared: Arc<Shared>,
    authn: Authn,
    pool: PgPool,
    body_limit: usize,
    stop: CancellationToken,
) -> Router {
    let s = &shared.settings;
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_origins(s.allowed_origins.clone())
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
