//! Rules (and policy) reloads reach every orchestrator replica: the replica that takes the
//! request (REST or SIGHUP) checks and audits it, then notifies the others through
//! PostgreSQL (`NOTIFY`, the database every replica shares); each reloads its own copy and
//! answers, and the request reports how many confirmed.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::core::Core;

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

/// Runs on every replica: reloads when another replica (or this one) asks, and confirms.
pub async fn listen(core: Core, instance: String, stop: CancellationToken) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(&core.pool).await?;
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
        let result = core.reload_rules_locally();
        let ack = Ack {
            id: req.id,
            instance: instance.clone(),
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
            .execute(&core.pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "reload confirmation not sent");
        }
    }
    Ok(())
}

impl Core {
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
        let mut acks = PgListener::connect_with(&self.pool).await?;
        acks.listen(ACKS).await?;
        let req = Request {
            id,
            from: self.instance.clone(),
        };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(REQUESTS)
            .bind(serde_json::to_string(&req).unwrap_or_default())
            .execute(&self.pool)
            .await?;
        let mut confirmed = BTreeSet::new();
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(self.settings.rules.reload_wait_ms);
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
