//! Posts incidents to Slack and lets people act through @devops-bot and /devops.

mod app;
pub mod settings;

pub use app::Application;
pub use settings::Settings;
