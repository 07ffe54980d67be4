//! Test-only fixtures: a database and a bus namespace per test, waiting helpers, and fakes
//! of the external systems (Jenkins, Elasticsearch, Slack, Ollama, PagerDuty, an OpenID Connect
//! issuer). A library only: the demo and the Jenkins simulator that serve these fakes live in
//! `tools`. Never a dependency of a service binary.

pub mod amqp;
pub mod browser;
pub mod db;
pub mod elasticsearch;
pub mod jenkins;
pub mod oidc;
pub mod ollama;
pub mod pagerduty;
pub mod process;
pub mod proxy;
pub mod slack;
pub mod wait;

pub use amqp::{Tap, TestBus};
pub use db::TestDb;
pub use wait::{wait_for, wait_until};

/// Installs a test subscriber with OpenTelemetry (so trace ids exist), once per process.
pub fn init_tracing() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    telemetry::init_for_tests();
}
