//! How the conductor decides a step under way has ended: an action's result, a
//! verification's evidence or deadline, an approval gate's approvers, an escalation's pages.
//! Everything here runs in the conductor's transaction on the run's locked row.

use bus::OutgoingMessage;
use chrono::Utc;
use domain::ActionStatus;
use domain::events::ActionRejected;
use runbooks::{Outcome, Step, StepParams, VerifyCondition};
use serde_json::json;
use sqlx::PgConnection;

use crate::auth::Actor;
use crate::error::ServiceError;
use crate::events::{audit_with, message};
use crate::repo::runbooks::{self as repo, RunRow, StepRow};
use crate::repo::{actions as action_repo, incidents, pages, run_approvals as approvals_repo};

pub(super) enum Checked {
    Waiting {
        wake_in_secs: f64,
    },
    Done {
        outcome: Outcome,
        details: serde_json::Value,
        events: Vec<OutgoingMessage>,
    },
}

fn done(outcome: Outcome, details: serde_json::Value) -> Checked {
    Checked::Done {
        outcome,
        details,
        events: Vec::new(),
    }
}

/// Whether a step under way has ended, and how.
pub(super) async fn check(
    tx: &mut PgConnection,
    run: &RunRow,
    actor: &Actor,
    def: &Step,
    step: &StepRow,
    ctx: &mut serde_json::Value,
) -> Result<Checked, ServiceError> {
    let now = Utc::now();
    let overdue = step.deadline_at.is_some_and(|d| now >= d);
    let until_deadline = step
        .deadline_at
        .map(|d| (d - now).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(f64::MAX);
    let waiting = Checked::Waiting {
        wake_in_secs: until_deadline,
    };
    match &def.params {
        _ if def.kind.is_action() => {
            let Some(id) = step.action_id else {
                return Ok(done(
                    Outcome::Failed,
                    json!({"error": "the step requested no action"}),
                ));
            };
            let a = action_repo::get(&mut *tx, id)
                .await?
                .ok_or_else(|| ServiceError::Internal(format!("action {id} vanished")))?;
            match a.status() {
                ActionStatus::Completed if a.dry_run == Some(true) => Ok(done(
                    Outcome::Failed,
                    json!({"action_status": "completed", "dry_run": true,
                           "error": "dry run: Jenkins was not called"}),
                )),
                ActionStatus::Completed => Ok(done(
                    Outcome::Succeeded,
                    json!({"action_status": "completed", "result": a.result}),
                )),
                ActionStatus::Failed | ActionStatus::Rejected => Ok(done(
                    Outcome::Failed,
                    json!({"action_status": a.status, "error": a.error.or(a.rejection_reason)}),
                )),
                _ if overdue => {
                    // Not claimed yet: withdraw it so it cannot run after the step gave up.
                    let reason = format!("runbook step {} timed out", def.name);
                    let mut events = Vec::new();
                    if let Some(r) = action_repo::deny(tx, id, &run.principal, &reason).await? {
                        events.push(message(ActionRejected {
                            action: r.reference(),
                            reason: reason.clone(),
                            rejected_by: run.principal.clone(),
                            rejected_at: now,
                        }));
                    }
                    Ok(Checked::Done {
                        outcome: Outcome::TimedOut,
                        details: json!({"action_status": a.status, "withdrawn": !events.is_empty()}),
                        events,
                    })
                }
                _ => Ok(waiting),
            }
        }
        StepParams::Verify(cond) => {
            let incident = incidents::get(&mut *tx, run.incident_id)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("incident {}", run.incident_id)))?;
            let passed = |ctx: &mut serde_json::Value, what: serde_json::Value| {
                ctx["verified"] = json!({"step": def.name, "seq": step.seq, "evidence": what});
            };
            match cond {
                VerifyCondition::NextBuildSuccess => {
                    let Some(job) = incident.job_name.as_deref() else {
                        return Ok(done(
                            Outcome::Failed,
                            json!({"error": "the incident names no Jenkins job"}),
                        ));
                    };
                    let baseline = ctx["baseline_build"]
                        .as_i64()
                        .or(incident.build_number)
                        .unwrap_or(0);
                    match repo::first_finished_after(tx, job, baseline).await? {
                        Some((build, result)) if result == "SUCCESS" => {
                            let ev = json!({"job": job, "build": build, "result": result, "after": baseline});
                            passed(ctx, ev.clone());
                            Ok(done(Outcome::Succeeded, ev))
                        }
                        Some((build, result)) => Ok(done(
                            Outcome::Failed,
                            json!({"job": job, "build": build, "result": result, "after": baseline}),
                        )),
                        None if overdue => Ok(done(
                            Outcome::TimedOut,
                            json!({"job": job, "after": baseline, "error": "no build finished before the deadline"}),
                        )),
                        None => Ok(waiting),
                    }
                }
                VerifyCondition::NoNewOccurrences { window_secs } => {
                    if incident.last_seen_at > step.started_at {
                        return Ok(done(
                            Outcome::Failed,
                            json!({"last_seen_at": incident.last_seen_at, "error": "the incident's rule matched again"}),
                        ));
                    }
                    let quiet_until =
                        step.started_at + chrono::Duration::seconds(*window_secs as i64);
                    if now >= quiet_until {
                        let ev = json!({"quiet_secs": window_secs, "last_seen_at": incident.last_seen_at});
                        passed(ctx, ev.clone());
                        return Ok(done(Outcome::Succeeded, ev));
                    }
                    if overdue {
                        return Ok(done(
                            Outcome::TimedOut,
                            json!({"error": "the window did not pass before the deadline"}),
                        ));
                    }
                    let left = (quiet_until - now).num_milliseconds().max(0) as f64 / 1000.0;
                    Ok(Checked::Waiting {
                        wake_in_secs: left.min(until_deadline),
                    })
                }
            }
        }
        StepParams::Escalate { .. } => {
            let sent = pages::of_step(tx, step.id).await?;
            if sent
                .iter()
                .any(|p| matches!(p.status.as_str(), "pending" | "sending"))
            {
                return Ok(waiting);
            }
            // Who was paged, as the receivers answered; one page reached is enough.
            let reached = sent.iter().filter(|p| p.status == "sent").count();
            let outcome = if reached > 0 {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            };
            let list: Vec<_> = sent
                .into_iter()
                .map(|p| json!({"target": p.target, "status": p.status, "attempts": p.attempts,
                                 "dedup_key": p.dedup_key, "error": p.last_error, "sent_at": p.sent_at}))
                .collect();
            let details = json!({"pages": list});
            let ev = audit_with(
                actor,
                "runbook.paged",
                "incident",
                Some(run.incident_id.to_string()),
                Some(json!({"run_id": run.id, "step": def.name, "pages": details["pages"]})),
                None,
            );
            Ok(Checked::Done {
                outcome,
                details,
                events: vec![ev],
            })
        }
        StepParams::Approve { approvals } => {
            let who = approvals_repo::approvers(&mut *tx, step.id).await?;
            if who.len() as u32 >= *approvals {
                Ok(done(
                    Outcome::Succeeded,
                    json!({"approved_by": who, "approvals_required": approvals}),
                ))
            } else if overdue {
                Ok(done(
                    Outcome::TimedOut,
                    json!({"approved_by": who, "approvals_required": approvals,
                           "error": "not enough approvals before the deadline"}),
                ))
            } else {
                Ok(waiting)
            }
        }
        StepParams::Wait { .. } if overdue => Ok(done(Outcome::Succeeded, json!({}))),
        _ => Ok(waiting),
    }
}
