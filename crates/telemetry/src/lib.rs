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
