//! Tails Jenkins and API logs from Elasticsearch and publishes them to the `logs` exchange.

mod app;
pub mod settings;

pub use app::Application;
pub use settings::Settings;
