//! Stores logs, detects incidents with rules, tracks actions and serves the REST API and MCP.

mod app;
pub mod rules;
pub mod settings;

pub use app::Application;
pub use settings::Settings;
