//! Settings of the orchestrator: the common sections plus its own.

use std::path::Path;

use runtime::{CommonSettings, SettingsError};
use serde::Deserialize;

pub const SERVICE: &str = domain::names::service::ORCHESTRATOR;

/// Built-in defaults that differ from the common ones.
pub const DEFAULTS: &str = "[http]\nport = 3001\n";

/// The orchestrator's own sections.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Own {}

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    pub own: Own,
}

impl Settings {
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let (common, own) = runtime::load(DEFAULTS, file)?;
        Ok(Settings { common, own })
    }
}
