//! `orchestrator mcp`: MCP over stdin/stdout for Claude Desktop and other local clients.
//! Stdout carries only the protocol; logs go to stderr. The process uses the service's
//! database and bus (events it causes leave through the outbox, published by its own relay
//! or any orchestrator's) and acts as `mcp:<mcp.stdio_principal>`.

use std::time::Duration;

use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use super::{McpServer, Shared, access};
use crate::metrics::OrchestratorMetrics;
use crate::services::{Loaded, Resources, Services, StartError};
use crate::settings::{SERVICE, Settings};

#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("mcp over stdio: {0}")]
    Serve(String),
}

impl From<runtime::RuntimeError> for StdioError {
    fn from(e: runtime::RuntimeError) -> Self {
        StdioError::Start(StartError::Runtime(e))
    }
}

/// Logs to stderr, as stdout is the protocol. `RUST_LOG` wins over `telemetry.log_level`.
pub fn init_logging(settings: &Settings) {
    let level = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| settings.common.telemetry.log_level.clone());
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

/// Serves MCP on stdin/stdout until the client closes it or SIGTERM/SIGINT.
pub async fn run(settings: Settings) -> Result<(), StdioError> {
    runtime::install_crypto_provider();
    let loaded = Loaded::read(&settings.own)?;
    let roles = settings.own.mcp.stdio_roles().map_err(StartError::from)?;
    let instance = settings
        .common
        .instance
        .id
        .clone()
        .unwrap_or_else(|| runtime::new_instance_id("orchestrator-mcp"));
    let stop = telemetry::shutdown_token();
    let common = &settings.common;
    let pool = store::connect(&common.database)
        .await
        .map_err(runtime::RuntimeError::from)?;
    if common.database.auto_migrate {
        store::migrate(&pool)
            .await
            .map_err(runtime::RuntimeError::from)?;
    }
    let bus = bus::Bus::connect(&common.bus, &instance, &stop)
        .await
        .map_err(runtime::RuntimeError::from)?;
    bus.declare_topology()
        .await
        .map_err(runtime::RuntimeError::from)?;
    let services = Services::assemble(
        &settings.own,
        &loaded,
        Resources {
            pool: pool.clone(),
            bus: bus.clone(),
            metrics: OrchestratorMetrics::register(&telemetry::Metrics::new(SERVICE)),
            instance,
        },
    );
    let relay_stop = CancellationToken::new();
    let relay = tokio::spawn(
        store::OutboxRelay::new(pool.clone(), bus.clone(), common.outbox.clone())
            .run(relay_stop.clone()),
    );
    let mcp = settings.own.mcp.clone();
    let actor = access::stdio_actor(&mcp, &roles, &loaded.policy.current());
    tracing::info!(
        principal = %actor.name,
        roles = %actor.roles,
        write_tools = mcp.write_tools,
        "mcp over stdio"
    );
    let server = McpServer::acting_as(Shared::new(services, bus.clone(), mcp), actor);
    let served = async {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| StdioError::Serve(e.to_string()))?;
        let cancel = running.cancellation_token();
        let watcher = stop.clone();
        tokio::spawn(async move {
            watcher.cancelled().await;
            cancel.cancel();
        });
        let reason = running
            .waiting()
            .await
            .map_err(|e| StdioError::Serve(e.to_string()))?;
        tracing::info!(?reason, "mcp session ended");
        Ok::<_, StdioError>(())
    }
    .await;
    // Let the events of the last calls leave before closing.
    relay_stop.cancel();
    let grace = Duration::from_secs(common.shutdown.grace_secs.max(1));
    if tokio::time::timeout(grace, relay).await.is_err() {
        tracing::warn!(
            "outbox relay did not stop in time; an orchestrator will publish what is left"
        );
    }
    bus.close().await;
    pool.close().await;
    served
}
