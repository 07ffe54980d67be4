//! The service layer every door (REST, RPC on the bus, MCP, the log consumers) goes through.

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::PgPool;

use crate::error::ServiceError;
use crate::events::{Actor, audit};
use crate::metrics::OrchestratorMetrics;
use crate::rules::{RuleSet, SharedRules};
use crate::settings::{Own, SERVICE};

#[derive(Clone)]
pub struct Core {
    pub pool: PgPool,
    pub rules: SharedRules,
    pub settings: Arc<Own>,
    pub metrics: OrchestratorMetrics,
}

impl Core {
    /// Loads the rules file again and records who asked; on failure the rules in use stay.
    pub async fn reload_rules(&self, actor: &Actor) -> Result<Arc<RuleSet>, ServiceError> {
        let path: Option<PathBuf> = self.settings.rules.path.clone();
        let set = RuleSet::load_or_builtin(path.as_deref())
            .map_err(|e| ServiceError::Unprocessable(format!("rules not reloaded: {e}")))?;
        self.rules.replace(set);
        let current = self.rules.current();
        tracing::info!(rules = current.len(), by = %actor.name, "rules reloaded");
        let details =
            serde_json::json!({"rules": current.len(), "enabled": current.enabled_count()});
        let path = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in".into());
        let mut tx = self.pool.begin().await?;
        store::outbox::enqueue_messages(
            &mut tx,
            SERVICE,
            &[audit(actor, "rules.reload", "rules", path, Some(details))],
        )
        .await?;
        tx.commit().await?;
        Ok(current)
    }
}
