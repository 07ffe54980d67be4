//! The one place a service (or a door) says no: checks an operation against the actor's
//! roles, and records every refusal as `audit.denied` (counted in `denied_total`). Audit
//! records that stand alone (a refusal, an MCP call) are written here too, best effort.

use bus::OutgoingMessage;
use sqlx::PgPool;

use crate::auth::Actor;
use crate::auth::decide::{self, Denial, Op};
use crate::error::ServiceError;
use crate::events::audit_denied;
use crate::metrics::OrchestratorMetrics;
use crate::settings::SERVICE;

#[derive(Clone)]
pub struct Authorizer {
    pool: PgPool,
    metrics: OrchestratorMetrics,
}

impl Authorizer {
    pub fn new(pool: PgPool, metrics: OrchestratorMetrics) -> Self {
        Authorizer { pool, metrics }
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
        self.record(record, "refusal").await;
        ServiceError::Denied(denial)
    }

    /// Writes one audit record in a transaction of its own. Best effort: a failure is
    /// logged (naming `what` was not audited) and the answer stands; changes are audited in
    /// their own transaction, never here.
    pub async fn record(&self, record: OutgoingMessage, what: &str) {
        let written = async {
            let mut tx = self.pool.begin().await?;
            store::outbox::enqueue_messages(&mut tx, SERVICE, &[record]).await?;
            tx.commit().await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, what, "an audit record could not be written");
        }
    }
}
