//! The service layer every door (REST, RPC on the bus, MCP, the log consumers) goes through.

use std::path::PathBuf;
use std::sync::Arc;

use rules::{RuleSet, SharedRules};
use sqlx::PgPool;

use crate::auth::decide::{self, Denial, Op};
use crate::auth::tokens::TokenSet;
use crate::auth::{Actor, SharedPolicy};
use crate::error::ServiceError;
use crate::events::{audit_denied, audit_with};
use crate::metrics::OrchestratorMetrics;
use crate::settings::{Own, SERVICE};

#[derive(Clone)]
pub struct Core {
    pub pool: PgPool,
    pub rules: SharedRules,
    pub policy: SharedPolicy,
    pub tokens: Arc<TokenSet>,
    pub settings: Arc<Own>,
    pub metrics: OrchestratorMetrics,
    /// The orchestrator's own RabbitMQ user: trusted for commands when no list is set.
    pub bus_user: String,
    /// This process's instance id.
    pub instance: String,
    /// For requests to other services (the runner's `command.jenkins.changes`).
    pub bus: bus::Bus,
    /// The post-mortem writer's LLM; `None` when disabled.
    pub llm: Option<crate::postmortem::llm::Llm>,
}

impl Core {
    /// Refuses with `denial`: records `audit.denied` (best effort; the refusal stands
    /// whatever happens to the record) and returns the error to answer.
    pub async fn refuse(
        &self,
        actor: &Actor,
        attempted: &str,
        target_type: &str,
        target_id: Option<String>,
        denial: Denial,
    ) -> ServiceError {
        self.metrics
            .denied
            .with_label_values(&[attempted, actor.channel.as_str()])
            .inc();
        tracing::info!(
            principal = %actor.name,
            via = actor.via.as_deref().unwrap_or(""),
            attempted,
            clause = %denial.clause,
            "refused"
        );
        let record = audit_denied(actor, attempted, target_type, target_id, &denial);
        let written = async {
            let mut tx = self.pool.begin().await?;
            store::outbox::enqueue_messages(&mut tx, SERVICE, &[record]).await?;
            tx.commit().await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "the refusal could not be audited");
        }
        ServiceError::Denied(denial)
    }

    /// Checks `op` by role; a refusal is audited. Returns the clause that allowed it.
    pub async fn authorize(
        &self,
        actor: &Actor,
        op: Op,
        target_type: &str,
        target_id: Option<String>,
    ) -> Result<String, ServiceError> {
        match decide::authorize(actor, op) {
            Ok(clause) => Ok(clause),
            Err(d) => Err(self
                .refuse(actor, op.verb(), target_type, target_id, d)
                .await),
        }
    }

    /// Loads the rules file again and records who asked; on failure the rules in use stay.
    pub async fn reload_rules(&self, actor: &Actor) -> Result<Arc<RuleSet>, ServiceError> {
        let clause = self
            .authorize(actor, Op::ReloadRules, "rules", None)
            .await?;
        let current = self.reload_rules_locally()?;
        tracing::info!(rules = current.len(), by = %actor.name, "rules reloaded");
        let details =
            serde_json::json!({"rules": current.len(), "enabled": current.enabled_count()});
        let path = self
            .settings
            .rules
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in".into());
        let mut tx = self.pool.begin().await?;
        store::outbox::enqueue_messages(
            &mut tx,
            SERVICE,
            &[audit_with(
                actor,
                "rules.reload",
                "rules",
                Some(path),
                Some(details),
                Some(&clause),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(current)
    }

    /// Reloads this replica's rules (and policy) from their files, without auditing: the
    /// replica that took the request audits it once.
    pub fn reload_rules_locally(&self) -> Result<Arc<RuleSet>, ServiceError> {
        let path: Option<PathBuf> = self.settings.rules.path.clone();
        let set = RuleSet::load_or_builtin(path.as_deref())
            .map_err(|e| ServiceError::Unprocessable(format!("rules not reloaded: {e}")))?;
        self.policy
            .reload()
            .map_err(|e| ServiceError::Unprocessable(format!("policy not reloaded: {e}")))?;
        self.rules.replace(set);
        Ok(self.rules.current())
    }
}
