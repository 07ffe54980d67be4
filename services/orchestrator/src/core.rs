//! The service layer every door (REST, RPC on the bus, MCP, the log consumers) goes through.

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::PgPool;

use crate::error::ServiceError;
use crate::metrics::OrchestratorMetrics;
use crate::rules::{RuleSet, SharedRules};
use crate::settings::Own;

#[derive(Clone)]
pub struct Core {
    pub pool: PgPool,
    pub rules: SharedRules,
    pub settings: Arc<Own>,
    pub metrics: OrchestratorMetrics,
}

impl Core {
    /// Loads the rules file again; on failure the rules in use stay.
    pub fn reload_rules(&self) -> Result<Arc<RuleSet>, ServiceError> {
        let path: Option<PathBuf> = self.settings.rules.path.clone();
        let set = RuleSet::load_or_builtin(path.as_deref())
            .map_err(|e| ServiceError::Unprocessable(format!("rules not reloaded: {e}")))?;
        self.rules.replace(set);
        let current = self.rules.current();
        tracing::info!(rules = current.len(), "rules reloaded");
        Ok(current)
    }
}
