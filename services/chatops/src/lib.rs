//! Posts incidents to Slack and lets people act through @devops-bot and /devops.

pub mod allowlist;
mod app;
pub mod bot;
pub mod notify;
pub mod settings;
pub mod slack;

pub use app::Application;
pub use settings::Settings;
