//! Watches every service, keeps the event log and the audit trail, exports metrics.

mod app;
pub mod settings;

pub use app::Application;
pub use settings::Settings;
