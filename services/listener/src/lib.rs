//! Tails Jenkins and API logs from Elasticsearch and publishes them to the `logs` exchange
//! (seed 003's MCP Listener: Publisher + LastSentStore), with Jenkins and GitHub webhooks
//! and NDJSON ingest as push paths. See docs/LISTENER.md.

mod app;
mod error;
pub mod es;
pub mod http;
pub mod metrics;
pub mod publish;
pub mod repo;
pub mod settings;
pub mod tail;

pub use app::Application;
pub use error::ListenerError;
pub use settings::Settings;
