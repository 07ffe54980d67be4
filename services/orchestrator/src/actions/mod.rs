//! ActionService: actions requested from REST, RPC, MCP or a rule's automatic action — each
//! request judged by the one policy — approved by enough distinct approvers other than the
//! requester, or denied; unclaimed ones swept ([`sweep`]); the runner's results move their
//! incidents ([`results`]). Which service writes which transition of `action_executions` is
//! said in `repo::actions`.

mod create;
mod results;
pub mod sweep;

use domain::ActionStatus;
use domain::commands::{Action, ActionRequest, DenyAction};
use domain::events::{ActionApproved, ActionRejected};

pub use create::{IdempotencyKey, Requested, create, fingerprint};
pub use results::RESULTS_CONSUMER;

use crate::auth::decide::{self, Op};
use crate::auth::{Actor, SharedPolicy, normalise};
use crate::base::Base;
use crate::error::ServiceError;
use crate::events::{audit_with, message};
use crate::repo::actions as repo;
use crate::settings::{ActionSweepSettings, SERVICE};

#[derive(Clone)]
pub struct ActionService {
    base: Base,
    policy: SharedPolicy,
    sweep: ActionSweepSettings,
}

fn not_found(id: i64) -> ServiceError {
    ServiceError::NotFound(format!("action {id} not found"))
}

fn changed(id: i64) -> ServiceError {
    ServiceError::Conflict(format!("action {id} changed meanwhile"))
}

impl ActionService {
    pub fn new(base: Base, policy: SharedPolicy, sweep: ActionSweepSettings) -> Self {
        ActionService {
            base,
            policy,
            sweep,
        }
    }

    /// Requests an action as `actor`, if the policy allows it.
    pub async fn request(
        &self,
        actor: &Actor,
        req: &ActionRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<Requested, ServiceError> {
        req.check()?;
        let policy = self.policy.current();
        let job = req.target_job.trim();
        let planned =
            match decide::plan_request(&policy, actor, req.action_type, job, req.requires_approval)
            {
                Ok(p) => p,
                Err(d) => {
                    let target = Some(req.target_job.clone());
                    return Err(self
                        .base
                        .authz
                        .refuse(actor, "action.request", "job", target, d)
                        .await);
                }
            };
        let mut tx = self.base.pool.begin().await?;
        if let Some(id) = req.incident_id {
            let Some(incident) = crate::repo::incidents::get(&mut *tx, id).await? else {
                return Err(ServiceError::NotFound(format!("incident {id} not found")));
            };
            // An action is attached to the incident of the job it acts on: the incident's
            // timeline, recovery and post-mortem would otherwise report another job's action.
            if let Some(incident_job) = &incident.job_name
                && incident_job.trim() != job
            {
                return Err(ServiceError::Invalid {
                    field: "incident_id".into(),
                    message: format!(
                        "incident {id} is about job {incident_job}, not {job}: attach the action to an incident of its job"
                    ),
                });
            }
        }
        let (requested, events) = create(&mut tx, req, actor, &planned, key.as_ref()).await?;
        store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
        tx.commit().await?;
        if requested.created {
            self.base
                .metrics
                .actions_requested
                .with_label_values(&[req.action_type.as_str(), actor.channel.as_str()])
                .inc();
            tracing::info!(
                action_id = requested.row.id,
                job = %requested.row.target_job,
                by = %actor.name,
                clause = %planned.clause,
                approvals = planned.approvals,
                "action requested"
            );
        }
        Ok(requested)
    }

    pub async fn get(&self, actor: &Actor, id: i64) -> Result<Action, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "action", Some(id.to_string()))
            .await?;
        repo::get(&self.base.pool, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Actions matching `f` (the approval queue is `status=pending_approval`).
    pub async fn list(
        &self,
        actor: &Actor,
        f: &domain::commands::ActionFilter,
    ) -> Result<domain::commands::ActionPage, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "actions", None)
            .await?;
        Ok(repo::list(&self.base.pool, &f.check()?).await?)
    }

    /// Who approved an action so far.
    pub async fn approvers(&self, id: i64) -> Result<Vec<String>, ServiceError> {
        Ok(repo::approvers(&self.base.pool, id).await?)
    }

    /// Records `actor`'s approval; the action moves to `approved` (and the runner hears
    /// of it) once the policy's number of distinct approvers is reached.
    pub async fn approve(&self, actor: &Actor, id: i64) -> Result<Action, ServiceError> {
        let target = Some(id.to_string());
        let mut tx = self.base.pool.begin().await?;
        let row = repo::get_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if row.status() != ActionStatus::PendingApproval {
            return Err(ServiceError::Conflict(format!(
                "action {id} is {}, not waiting for approval",
                row.status
            )));
        }
        let approvers = repo::approvers(&mut *tx, id).await?;
        if let Err(d) = decide::may_approve(actor, &row.requested_by, &approvers) {
            drop(tx);
            return Err(self
                .base
                .authz
                .refuse(actor, Op::Approve.verb(), "action", target, d)
                .await);
        }
        repo::add_approval(
            &mut tx,
            id,
            &normalise(&actor.name),
            &actor.name,
            actor.via.as_deref(),
            actor.channel,
        )
        .await?;
        let have = approvers.len() as u32 + 1;
        let need = row.required_approvals().max(1);
        let clause = decide::role_clause(crate::auth::Role::Approver);
        let details = serde_json::json!({"approvals": have, "required": need});
        let mut events = vec![audit_with(
            actor,
            "action.approve",
            "action",
            target,
            Some(details),
            Some(&clause),
        )];
        let row = if have >= need {
            let row = repo::approve(&mut tx, id, &actor.name)
                .await?
                .ok_or_else(|| changed(id))?;
            events.insert(
                0,
                message(ActionApproved {
                    action: row.summary(),
                    approved_by: actor.name.clone(),
                    approved_at: row.approved_at.unwrap_or_else(chrono::Utc::now),
                }),
            );
            row
        } else {
            row
        };
        store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(action_id = id, by = %actor.name, approvals = have, required = need, "action approval recorded");
        Ok(row)
    }

    pub async fn deny(&self, actor: &Actor, req: &DenyAction) -> Result<Action, ServiceError> {
        let id = req.id;
        let clause = self
            .base
            .authz
            .authorize(actor, Op::Deny, "action", Some(id.to_string()))
            .await?;
        req.check()?;
        let mut tx = self.base.pool.begin().await?;
        let row = repo::get_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if !row.status().can_transition_to(ActionStatus::Rejected) {
            return Err(ServiceError::Conflict(format!(
                "action {id} is {} and can no longer be denied",
                row.status
            )));
        }
        let reason = req
            .reason
            .clone()
            .unwrap_or_else(|| format!("denied by {}", actor.name));
        let row = repo::deny(&mut tx, id, &actor.name, &reason)
            .await?
            .ok_or_else(|| changed(id))?;
        let events = [
            message(ActionRejected {
                action: row.reference(),
                reason: reason.clone(),
                rejected_by: actor.name.clone(),
                rejected_at: chrono::Utc::now(),
            }),
            audit_with(
                actor,
                "action.deny",
                "action",
                Some(id.to_string()),
                Some(serde_json::json!({"reason": reason})),
                Some(&clause),
            ),
        ];
        store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(action_id = id, by = %actor.name, "action denied");
        Ok(row)
    }
}
