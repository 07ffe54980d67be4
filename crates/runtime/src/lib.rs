//! What every Runbooks service shares: settings loading, the start-up wiring (database,
//! broker, topology, metrics, readiness), heartbeats and the HTTP server with graceful
//! shutdown. A service's `Application` builds on [`Service`].

mod cli;
mod error;
mod heartbeat;
pub mod http;
mod secret;
pub mod serve;
mod service;
pub mod settings;

pub use cli::CommonArgs;
pub use error::RuntimeError;
pub use heartbeat::Heartbeater;
pub use secret::Secret;
pub use service::Service;
pub use settings::{
    CommonSettings, HttpSettings, ServiceSettings, SettingsError, invalid, load, load_with_env,
    secret_list, string_list,
};

/// Installs ring as the process-wide rustls provider. lapin, sqlx and reqwest all use rustls
/// and would otherwise disagree on (or lack) a provider at the first TLS handshake.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What every `main` does first: fix this process's instance id, install the crypto provider
/// and the telemetry, and turn SIGTERM/SIGINT into a cancellation token.
pub fn bootstrap(
    service: &str,
    common: &mut CommonSettings,
) -> anyhow::Result<(
    telemetry::TelemetryGuard,
    tokio_util::sync::CancellationToken,
)> {
    install_crypto_provider();
    let instance = common
        .instance
        .id
        .clone()
        .unwrap_or_else(|| new_instance_id(service));
    common.instance.id = Some(instance.clone());
    let guard = telemetry::init(&common.telemetry, service, &instance)?;
    Ok((guard, telemetry::shutdown_token()))
}

/// Hostname plus a short random suffix: unique per process, readable in dashboards.
pub fn new_instance_id(service: &str) -> String {
    let host = hostname();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{service}-{host}-{suffix}")
}

pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
