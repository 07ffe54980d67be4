//! RulesService: the rules and the policy in use, and their reloads. A reload reaches
//! every orchestrator replica: the replica that takes the request (REST or SIGHUP) checks
//! and audits it, then notifies the others through PostgreSQL (`NOTIFY`, the database every
//! replica shares); each reloads its own copy and answers, and the request reports how many
//! confirmed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth::{Actor, Op, SharedPolicy};
use crate::base::Base;
use crate::error::ServiceError;
use crate::events::audit_with;
use crate::settings::{RulesSettings, SERVICE};
use rules::{RuleSet, SharedRules};

#[derive(Clone)]
pub struct RulesService {
    base: Base,
    rules: SharedRules,
    policy: SharedPolicy,
    settings: RulesSettings,
    /// This process's instance id, named in reload requests and confirmations.
    instance: String,
}

const REQUESTS: &str = "runbooks_rules_reload";
const ACKS: &str = "runbooks_rules_reload_ack";

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    id: Uuid,
    from: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Ack {
    id: Uuid,
    instance: String,
    ok: bool,
    #[serde(default)]
    error: Option<String>,
}

impl RulesService {
    pub fn new(
        base: Base,
        rules: SharedRules,
        policy: SharedPolicy,
        settings: RulesSettings,
        instance: String,
    ) -> Self {
        RulesService {
            base,
            rules,
            policy,
            settings,
            instance,
        }
    }

    /// The rules in use.
    pub fn current(&self) -> Arc<RuleSet> {
        self.rules.current()
    }

    /// Loads the rules file again and records who asked; on failure the rules in use stay.
    pub async fn reload(&self, actor: &Actor) -> Result<Arc<RuleSet>, ServiceError> {
        let clause = self
            .base
            .authz
            .authorize(actor, Op::ReloadRules, "rules", None)
            .await?;
        let current = self.reload_locally()?;
        tracing::info!(rules = current.len(), by = %actor.name, "rules reloaded");
        let details =
            serde_json::json!({"rules": current.len(), "enabled": current.enabled_count()});
        let path = self
            .settings
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in".into());
        let mut tx = self.base.pool.begin().await?;
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
    pub fn reload_locally(&self) -> Result<Arc<RuleSet>, ServiceError> {
        let set = RuleSet::load_or_builtin(self.settings.path.as_deref())
            .map_err(|e| ServiceError::Unprocessable(format!("rules not reloaded: {e}")))?;
        self.policy
            .reload()
            .map_err(|e| ServiceError::Unprocessable(format!("policy not reloaded: {e}")))?;
        self.rules.replace(set);
        Ok(self.rules.current())
    }

    /// Runs on every replica: reloads when another replica (or this one) asks, and
    /// confirms.
    pub async fn listen(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&self.base.pool).await?;
        listener.listen(REQUESTS).await?;
        loop {
            let n = tokio::select! {
                _ = stop.cancelled() => break,
                n = listener.recv() => n,
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    // PgListener reconnects on the next recv; a reload sent meanwhile is missed
                    // and the initiator counts one replica fewer.
                    tracing::warn!(error = %e, "reload listener lost its connection");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let Ok(req) = serde_json::from_str::<Request>(n.payload()) else {
                tracing::warn!("malformed reload notification ignored");
                continue;
            };
            let result = self.reload_locally();
            let ack = Ack {
                id: req.id,
                instance: self.instance.clone(),
                ok: result.is_ok(),
                error: result.as_ref().err().map(|e| e.to_string()),
            };
            match &result {
                Ok(set) => {
                    tracing::info!(rules = set.len(), from = %req.from, "rules reloaded on request")
                }
                Err(e) => {
                    tracing::warn!(error = %e, from = %req.from, "rules reload failed, keeping the previous rules")
                }
            }
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(ACKS)
                .bind(serde_json::to_string(&ack).unwrap_or_default())
                .execute(&self.base.pool)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "reload confirmation not sent");
            }
        }
        Ok(())
    }

    /// Reloads on SIGHUP (as `system:sighup`), on every replica that answers.
    pub async fn reload_on_sighup(self, stop: CancellationToken) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hup = signal(SignalKind::hangup())?;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = hup.recv() => {
                        let actor = Actor::system("sighup");
                        match self.reload(&actor).await {
                            Ok(_) => {
                                let replicas = self.broadcast_reload().await;
                                tracing::info!(replicas, "rules reloaded on every replica that answered");
                            }
                            Err(e) => tracing::warn!(error = %e, "rules reload failed, keeping the previous rules"),
                        }
                    }
                }
            }
        }
        #[cfg(not(unix))]
        stop.cancelled().await;
        Ok(())
    }

    /// Asks every replica to reload and counts those that confirmed within
    /// `rules.reload_wait_ms` (this replica included: it answers its own request).
    pub async fn broadcast_reload(&self) -> usize {
        match self.try_broadcast_reload().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "reload could not be sent to the other replicas");
                1
            }
        }
    }

    async fn try_broadcast_reload(&self) -> Result<usize, sqlx::Error> {
        let id = Uuid::now_v7();
        let mut acks = PgListener::connect_with(&self.base.pool).await?;
        acks.listen(ACKS).await?;
        let req = Request {
            id,
            from: self.instance.clone(),
        };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(REQUESTS)
            .bind(serde_json::to_string(&req).unwrap_or_default())
            .execute(&self.base.pool)
            .await?;
        let mut confirmed = BTreeSet::new();
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(self.settings.reload_wait_ms);
        while let Ok(n) = tokio::time::timeout_at(deadline, acks.recv()).await {
            let Ok(n) = n else { break };
            if let Ok(ack) = serde_json::from_str::<Ack>(n.payload())
                && ack.id == id
                && ack.ok
            {
                confirmed.insert(ack.instance);
            }
        }
        Ok(confirmed.len())
    }
}
