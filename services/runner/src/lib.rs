//! Runs guarded, at-most-once corrective actions on Jenkins.

mod app;
pub mod jenkins;
pub mod settings;

pub use app::Application;
pub use settings::Settings;
