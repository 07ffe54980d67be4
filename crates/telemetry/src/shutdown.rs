use tokio_util::sync::CancellationToken;
use tracing::info;

/// A token cancelled on the first SIGTERM or SIGINT. Everything that must stop (consumers,
/// HTTP server, relays, heartbeats) watches it, so one signal drains the whole process.
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => info!(signal = "SIGINT", "shutting down"),
                _ = term.recv() => info!(signal = "SIGTERM", "shutting down"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
            info!(signal = "ctrl-c", "shutting down");
        }
        cancel.cancel();
    });
    token
}
