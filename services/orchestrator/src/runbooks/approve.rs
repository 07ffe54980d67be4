//! The `approve` step's door: a person approves the gate a run waits at. The same rules as
//! approving an action (`policy::decide::may_approve_what`): the approver role, never the
//! person (or rule) who started the run, distinct approvers. Once the step's number is
//! reached the run is woken and the conductor takes the success branch; the gate's
//! deadline is the step's stored `deadline_at` (its `on_timeout` branch).

use domain::runbooks::RunbookRun;
use runbooks::{Runbook, StepParams};

use super::RunbookService;
use crate::auth::decide;
use crate::auth::{Actor, Role, normalise};
use crate::error::ServiceError;
use crate::events::audit_with;
use crate::repo::run_approvals::{self as repo, NewApproval};
use crate::settings::SERVICE;

impl RunbookService {
    /// Records `actor`'s approval of the gate run `id` waits at.
    pub async fn approve(&self, actor: &Actor, id: i64) -> Result<RunbookRun, ServiceError> {
        let target = Some(id.to_string());
        let mut tx = self.base.pool.begin().await?;
        let run = repo::lock_run(&mut tx, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("runbook run {id} not found")))?;
        let waiting =
            || ServiceError::Conflict(format!("runbook run {id} is not waiting for an approval"));
        let step = repo::running_step(&mut tx, &run)
            .await?
            .ok_or_else(waiting)?;
        let def = run
            .definition
            .as_ref()
            .and_then(|d| Runbook::from_definition(d).ok())
            .and_then(|rb| {
                rb.steps
                    .get(run.current_step.unwrap_or(0) as usize)
                    .cloned()
            })
            .ok_or_else(waiting)?;
        let StepParams::Approve { approvals: need } = def.params else {
            return Err(waiting());
        };
        let approvers = repo::approvers(&mut tx, step.id).await?;
        if let Err(d) = decide::may_approve_what(actor, "runbook run", &run.started_by, &approvers)
        {
            drop(tx);
            return Err(self
                .base
                .authz
                .refuse(actor, "runbook.approve", "runbook_run", target, d)
                .await);
        }
        let key = normalise(&actor.name);
        let added = repo::add(
            &mut tx,
            &NewApproval {
                step_id: step.id,
                key: &key,
                approver: &actor.name,
                via: actor.via.as_deref(),
                channel: actor.channel,
            },
        )
        .await?;
        if !added {
            return Err(ServiceError::Conflict(format!(
                "{} already approved this runbook run",
                actor.name
            )));
        }
        let have = approvers.len() as u32 + 1;
        if have >= need {
            repo::wake(&mut tx, id).await?;
        }
        let clause = decide::role_clause(Role::Approver);
        let event = audit_with(
            actor,
            "runbook.approve",
            "runbook_run",
            target,
            Some(serde_json::json!({"step": def.name, "approvals": have, "required": need})),
            Some(&clause),
        );
        store::outbox::enqueue_messages(&mut tx, SERVICE, &[event]).await?;
        tx.commit().await?;
        tracing::info!(run_id = id, step = %def.name, by = %actor.name, approvals = have, required = need, "runbook approval recorded");
        self.get(actor, id).await
    }
}
