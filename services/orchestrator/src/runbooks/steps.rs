//! What each kind of step does when it begins (how it ends is `check`'s). Everything here
//! runs in the conductor's transaction on the run's locked row.

use bus::OutgoingMessage;
use domain::commands::ActionRequest;
use domain::{ActionType, ResolutionMethod};
use runbooks::{Kind, Outcome, RollbackTo, Step, StepParams};
use serde_json::json;
use sqlx::PgConnection;

use super::conductor::escalation;
use super::escalate;
use crate::actions::{self, IdempotencyKey};
use crate::auth::{Actor, Policy, decide};
use crate::base::Base;
use crate::error::ServiceError;
use crate::events::{audit_denied, incident_resolved};
use crate::repo::incidents;
use crate::repo::runbooks::{self as repo, NewStep, RunRow, StepRow};
use crate::settings::EscalationSettings;

pub(super) struct Begun {
    pub events: Vec<OutgoingMessage>,
    /// When to look at the run again (0: the step already ended).
    pub wake_in_secs: f64,
}

/// Inserts the step's row and does what the step does at once: requests its action,
/// resolves, escalates. Steps that end at once are finished here.
#[allow(clippy::too_many_arguments)]
pub(super) async fn begin(
    tx: &mut PgConnection,
    base: &Base,
    esc: &EscalationSettings,
    policy: &Policy,
    run: &RunRow,
    actor: &Actor,
    def: &Step,
    seq: i32,
    ctx: &mut serde_json::Value,
) -> Result<Begun, ServiceError> {
    let deadline = match &def.params {
        StepParams::Wait { duration_secs } => Some(*duration_secs),
        _ => def.timeout_secs,
    };
    let row = repo::insert_step(
        tx,
        &NewStep {
            run_id: run.id,
            seq,
            step: &def.name,
            kind: def.kind.as_str(),
            deadline_secs: deadline,
        },
    )
    .await?;
    let started = match def.kind {
        k if k.is_action() => request_action(tx, policy, run, actor, def, &row, ctx).await?,
        Kind::Resolve => resolve(tx, base, run, def, ctx).await?,
        Kind::Escalate => {
            let text = match &def.params {
                StepParams::Escalate { message: Some(m) } => m.clone(),
                _ => format!("runbook {} escalated at step {}", run.runbook, def.name),
            };
            let ev = escalation(actor, run, Some(&def.name), &text);
            let (targets, severity) =
                escalate::queue(tx, esc, run, Some((row.id, &def.name)), &text).await?;
            let details = json!({"message": text, "severity": severity, "paging": targets});
            if targets.is_empty() {
                // Nothing to send: the audit event is the whole escalation.
                let mut d = details;
                d["note"] = format!("no pager is configured for severity {severity}").into();
                Started::ended(Outcome::Succeeded, d, vec![ev])
            } else {
                repo::record_decision(tx, row.id, None, &details).await?;
                Started::waiting(vec![ev])
            }
        }
        _ => Started::waiting(Vec::new()),
    };
    if let Some((outcome, details)) = &started.ended {
        repo::finish_step(tx, row.id, outcome.as_str(), details).await?;
    }
    // Steps still under way are looked at right away, then polled (or woken by a result).
    Ok(Begun {
        events: started.events,
        wake_in_secs: 0.0,
    })
}

/// What beginning a step did.
struct Started {
    ended: Option<(Outcome, serde_json::Value)>,
    events: Vec<OutgoingMessage>,
}

impl Started {
    fn ended(o: Outcome, details: serde_json::Value, events: Vec<OutgoingMessage>) -> Self {
        Started {
            ended: Some((o, details)),
            events,
        }
    }

    fn waiting(events: Vec<OutgoingMessage>) -> Self {
        Started {
            ended: None,
            events,
        }
    }
}

async fn request_action(
    tx: &mut PgConnection,
    policy: &Policy,
    run: &RunRow,
    actor: &Actor,
    def: &Step,
    row: &StepRow,
    ctx: &mut serde_json::Value,
) -> Result<Started, ServiceError> {
    let incident = incidents::get(&mut *tx, run.incident_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("incident {}", run.incident_id)))?;
    let Some(job) = incident.job_name.clone() else {
        return Ok(Started::ended(
            Outcome::Failed,
            json!({"error": "the incident names no Jenkins job to act on"}),
            Vec::new(),
        ));
    };
    let (action_type, build, asked) = match &def.params {
        StepParams::Action { requires_approval } => {
            let t = if def.kind == Kind::Stop {
                ActionType::Stop
            } else {
                ActionType::Restart
            };
            (t, incident.build_number, *requires_approval)
        }
        StepParams::Rollback {
            to,
            requires_approval,
        } => {
            let build = match to {
                RollbackTo::Build(n) => Some(*n),
                RollbackTo::LastSuccess => repo::last_success(tx, &job).await?,
            };
            let Some(build) = build else {
                return Ok(Started::ended(
                    Outcome::Failed,
                    json!({"error": format!("no successful build of {job} is known to roll back to")}),
                    Vec::new(),
                ));
            };
            (ActionType::Rollback, Some(build), *requires_approval)
        }
        _ => return Err(ServiceError::Internal("not an action step".into())),
    };
    // What "the next build" means for the verifications that follow this action.
    let latest = repo::latest_build(tx, &job).await?;
    let baseline = latest.max(incident.build_number).unwrap_or(0);
    ctx["baseline_build"] = baseline.into();
    let req = ActionRequest {
        target_build: build,
        incident_id: Some(incident.id),
        requires_approval: asked,
        reason: Some(format!(
            "runbook {} step {} (run {})",
            run.runbook, def.name, run.id
        )),
        ..ActionRequest::new(action_type, job.clone())
    };
    match decide::plan_request(policy, actor, action_type, &job, asked) {
        Err(denial) => {
            let ev = audit_denied(actor, "action.request", "job", Some(job.clone()), &denial);
            let details = json!({"refused": denial.message, "clause": denial.clause});
            repo::record_decision(tx, row.id, None, &details).await?;
            Ok(Started::ended(Outcome::Failed, details, vec![ev]))
        }
        Ok(planned) => {
            // The key makes the step's action exist once whatever retries the transition.
            let key = IdempotencyKey(format!("runbook:{}:{}", run.id, row.seq));
            let (created, events) = actions::create(tx, &req, actor, &planned, Some(&key)).await?;
            let decision = json!({
                "actor": actor.authenticated(),
                "on_behalf_of": actor.on_behalf_of(),
                "clause": planned.clause,
                "approvals_required": planned.approvals,
                "action_type": action_type,
                "target_job": job,
                "target_build": build,
            });
            repo::record_decision(tx, row.id, Some(created.row.id), &decision).await?;
            Ok(Started::waiting(events))
        }
    }
}

/// Closes the incident as the runbook, only after a verify step of this run passed.
async fn resolve(
    tx: &mut PgConnection,
    base: &Base,
    run: &RunRow,
    def: &Step,
    ctx: &serde_json::Value,
) -> Result<Started, ServiceError> {
    if ctx.get("verified").is_none() {
        return Ok(Started::ended(
            Outcome::Failed,
            json!({"error": "no verify step of this run has passed; the incident stays open"}),
            Vec::new(),
        ));
    }
    let note = match &def.params {
        StepParams::Resolve { note: Some(n) } => {
            format!("verified by runbook {}: {n}", run.runbook)
        }
        _ => format!("verified by runbook {}", run.runbook),
    };
    let resolution = incidents::Resolution {
        by: &run.principal,
        method: ResolutionMethod::AutomatedAction,
        note: Some(&note),
    };
    let rows = incidents::resolve(tx, incidents::Open::Id(run.incident_id), resolution).await?;
    let Some(inc) = rows.first() else {
        let now = incidents::get(&mut *tx, run.incident_id).await?;
        let by = now.and_then(|i| i.resolved_by);
        return Ok(Started::ended(
            Outcome::Succeeded,
            json!({"already_resolved_by": by, "verified": ctx["verified"]}),
            Vec::new(),
        ));
    };
    base.metrics.resolved(inc);
    tracing::info!(
        incident_id = inc.id,
        run_id = run.id,
        mttr_seconds = inc.mttr_seconds.unwrap_or_default(),
        "incident resolved by runbook after verification"
    );
    Ok(Started::ended(
        Outcome::Succeeded,
        json!({"resolved": true, "mttr_seconds": inc.mttr_seconds, "verified": ctx["verified"]}),
        vec![incident_resolved(inc, None)],
    ))
}
