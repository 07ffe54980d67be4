//! RunbookService: multi-step runbooks started on incidents (by a rule that opened one, or
//! by a person through REST), persisted run by run and step by step, and advanced by the
//! [`conductor`]: one step transition per transaction, on the run's locked row, with every
//! timer a stored column. See docs/RUNBOOKS.md for the guarantees and how they are kept.

mod approve;
mod check;
mod conductor;
pub mod escalate;
mod steps;

use std::sync::Arc;

use domain::Channel;
use domain::runbooks::{RunbookRun, RunbookRunQuery, StartRunbook};
use runbooks::RunbookSet;
use sqlx::PgConnection;

use crate::auth::decide::Op;
use crate::auth::{Actor, SharedPolicy};
use crate::base::Base;
use crate::error::ServiceError;
use crate::events::audit_with;
use crate::repo::runbooks::{self as repo, Inserted, NewRun};
use crate::settings::RunbookSettings;
use crate::settings::SERVICE;

#[derive(Clone)]
pub struct RunbookService {
    base: Base,
    set: Arc<RunbookSet>,
    policy: SharedPolicy,
    settings: RunbookSettings,
}

/// The principal a runbook acts as.
pub fn principal(runbook: &str) -> String {
    format!("runbook:{runbook}")
}

impl RunbookService {
    pub fn new(
        base: Base,
        set: Arc<RunbookSet>,
        policy: SharedPolicy,
        settings: RunbookSettings,
    ) -> Self {
        RunbookService {
            base,
            set,
            policy,
            settings,
        }
    }

    /// The runbooks in use.
    pub fn runbooks(&self) -> &RunbookSet {
        &self.set
    }

    /// Starts `req.runbook` on incident `incident_id` as `actor` (an operator): the run is
    /// stored due now and the conductor begins its first step.
    pub async fn start(
        &self,
        actor: &Actor,
        incident_id: i64,
        req: &StartRunbook,
    ) -> Result<RunbookRun, ServiceError> {
        let clause = self
            .base
            .authz
            .authorize(
                actor,
                Op::StartRunbook,
                "incident",
                Some(incident_id.to_string()),
            )
            .await?;
        if self.set.get(&req.runbook).is_none() {
            return Err(ServiceError::Invalid {
                field: "runbook".into(),
                message: format!("no runbook named `{}`", req.runbook),
            });
        }
        let mut tx = self.base.pool.begin().await?;
        let Some(incident) = crate::repo::incidents::get(&mut *tx, incident_id).await? else {
            return Err(ServiceError::NotFound(format!(
                "incident {incident_id} not found"
            )));
        };
        if !incident.status().is_active() {
            return Err(ServiceError::Conflict(format!(
                "incident {incident_id} is resolved"
            )));
        }
        let roles: Vec<&str> = actor.roles.iter().map(|r| r.as_str()).collect();
        let context = serde_json::json!({"channel": actor.channel, "roles": roles});
        let key = format!("manual:{}", uuid::Uuid::now_v7());
        let id = insert(
            &mut tx,
            &req.runbook,
            incident_id,
            &actor.name,
            context,
            &key,
        )
        .await?;
        let event = audit_with(
            actor,
            "runbook.start",
            "runbook_run",
            Some(id.to_string()),
            Some(serde_json::json!({"runbook": req.runbook, "incident_id": incident_id})),
            Some(&clause),
        );
        store::outbox::enqueue_messages(&mut tx, SERVICE, &[event]).await?;
        tx.commit().await?;
        tracing::info!(run_id = id, runbook = %req.runbook, incident_id, by = %actor.name, "runbook run started");
        self.get(actor, id).await
    }

    pub async fn list(
        &self,
        actor: &Actor,
        q: &RunbookRunQuery,
    ) -> Result<Vec<RunbookRun>, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "runbook_run", None)
            .await?;
        Ok(repo::list(&self.base.pool, q.incident_id).await?)
    }

    pub async fn get(&self, actor: &Actor, id: i64) -> Result<RunbookRun, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "runbook_run", Some(id.to_string()))
            .await?;
        repo::get(&self.base.pool, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("runbook run {id} not found")))
    }
}

async fn insert(
    tx: &mut PgConnection,
    runbook: &str,
    incident_id: i64,
    started_by: &str,
    context: serde_json::Value,
    key: &str,
) -> Result<i64, ServiceError> {
    let p = principal(runbook);
    let n = NewRun {
        runbook,
        incident_id,
        principal: &p,
        started_by,
        context,
        start_key: key,
    };
    match repo::insert_run(tx, &n).await? {
        Inserted::New(id) | Inserted::Again(id) => Ok(id),
        Inserted::Busy(other) => Err(ServiceError::Conflict(format!(
            "incident {incident_id} already has runbook run {other} under way"
        ))),
    }
}

/// The run a rule's `[rule.runbook]` starts when it opens an incident, in the detection's
/// transaction: stored by name (the conductor binds the definition, or escalates when the
/// runbooks file has no such runbook). A redelivered batch starts nothing new.
pub async fn start_for_rule(
    tx: &mut PgConnection,
    rule: &str,
    runbook: &str,
    incident_id: i64,
) -> Result<i64, ServiceError> {
    let context = serde_json::json!({"channel": Channel::Rule});
    let key = format!("incident:{incident_id}:{rule}");
    insert(
        tx,
        runbook,
        incident_id,
        &format!("rule:{rule}"),
        context,
        &key,
    )
    .await
}
