//! Observability shared by every service: JSON logs with the trace id Kibana filters on,
//! OpenTelemetry export, Prometheus metrics, the `/health` `/ready` `/metrics` router and the
//! shutdown signal.

mod json;
mod logging;
mod metrics;
mod ops;
mod settings;
mod shutdown;

pub use logging::{TelemetryError, TelemetryGuard, init, init_for_tests};
pub use metrics::Metrics;
pub use ops::{CheckKind, Readiness, ReadyCheck, check, external_check, ops_router};
pub use settings::{LogFormat, TelemetrySettings};
pub use shutdown::shutdown_token;

/// An error and every `source()` below it, joined by `: ` — what a log line or a reply
/// should say of a client error whose own `Display` hides the cause (a refused connection
/// inside an HTTP client error).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn error_chain_names_every_cause() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ));
        assert_eq!(super::error_chain(&e), "outer: refused");
    }
}
