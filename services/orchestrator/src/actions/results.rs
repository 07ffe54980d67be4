//! The runner's results (`action.started|completed|failed|rejected`) keep the action rows in
//! step and move the incidents they concern: a completed action resolves its incident (the
//! seed's resolve-by-job), a failed or rejected one updates it.

use bus::{HandlerError, Message};
use domain::events::{IncidentResolved, IncidentUpdated, UpdateReason};
use domain::{ActionStatus, Event, ResolutionMethod};
use sqlx::PgConnection;
use tracing::{debug, info};

use crate::core::Core;
use crate::error::ServiceError;
use crate::events::message;
use crate::repo::actions::{self as repo, Change};
use crate::repo::incidents;
use crate::settings::SERVICE;

/// The inbox name of this consumer.
pub const RESULTS_CONSUMER: &str = "orchestrator.action-results";

/// Applies one result event. Idempotent (the inbox drops a redelivery; row transitions are
/// guarded) and tolerant of order: a result for an action that already finished changes
/// nothing, and a `completed` that overtook its `started` still lands.
pub async fn apply_result(core: &Core, msg: Message<Event>) -> Result<(), HandlerError> {
    Ok(apply(core, &msg).await?)
}

async fn apply(core: &Core, msg: &Message<Event>) -> Result<(), ServiceError> {
    let mut tx = core.pool.begin().await?;
    if !store::inbox::first_time(&mut tx, RESULTS_CONSUMER, msg.envelope.id).await? {
        debug!(message_id = %msg.envelope.id, "result already applied");
        return Ok(());
    }
    let (action, next, change, detail) = match &msg.envelope.payload {
        Event::ActionStarted(e) => (
            &e.action,
            ActionStatus::Running,
            Change {
                claimed_by: Some(&e.runner),
                dry_run: Some(e.dry_run),
                ..Change::default()
            },
            None,
        ),
        Event::ActionCompleted(e) => (
            &e.action,
            ActionStatus::Completed,
            Change {
                dry_run: Some(e.result.dry_run),
                ..Change::default()
            },
            None,
        ),
        Event::ActionFailed(e) => (
            &e.action,
            ActionStatus::Failed,
            Change {
                error: Some(&e.reason),
                ..Change::default()
            },
            Some(e.reason.clone()),
        ),
        Event::ActionRejected(e) => (
            &e.action,
            ActionStatus::Rejected,
            Change {
                rejection_reason: Some(&e.reason),
                rejected_by: Some(&e.rejected_by),
                ..Change::default()
            },
            Some(e.reason.clone()),
        ),
        other => {
            return Err(ServiceError::BadRequest(format!(
                "`{}` is not an action result",
                other.kind()
            )));
        }
    };
    let result_json = match &msg.envelope.payload {
        Event::ActionCompleted(e) => Some(serde_json::to_value(&e.result).unwrap_or_default()),
        _ => None,
    };
    let change = Change {
        result: result_json.as_ref(),
        ..change
    };
    let Some(row) = repo::get_for_update(&mut tx, action.action_id).await? else {
        return Err(ServiceError::NotFound(format!(
            "result for unknown action {}",
            action.action_id
        )));
    };
    step(&mut tx, row.id, row.status(), next, change).await?;

    let mut events = Vec::new();
    let incident_id = row.incident_id.or(action.incident_id);
    let dry_run = matches!(&msg.envelope.payload, Event::ActionCompleted(e) if e.result.dry_run);
    match next {
        // Jenkins was never called: the incident stays open and says what would have run.
        ActionStatus::Completed if dry_run => {
            core.metrics
                .actions_dry_run
                .with_label_values(&[row.action_type.as_str()])
                .inc();
            if let Some(id) = incident_id
                && let Some(inc) = incidents::get(&mut *tx, id).await?
                && inc.status().is_active()
            {
                let build = row
                    .target_build
                    .map(|b| format!(" #{b}"))
                    .unwrap_or_default();
                info!(
                    incident_id = id,
                    action_id = row.id,
                    "dry run completed, incident stays open"
                );
                events.push(message(IncidentUpdated {
                    incident: inc.summary(),
                    reason: UpdateReason::DryRun,
                    action_id: Some(row.id),
                    detail: Some(format!(
                        "dry run: would have run {} on {}{build}; Jenkins was not called and the incident stays open",
                        row.action_type, row.target_job
                    )),
                }));
            }
        }
        ActionStatus::Completed => {
            let which = match incident_id {
                Some(id) => incidents::Open::Id(id),
                None => incidents::Open::Job(&row.target_job),
            };
            let resolution = incidents::Resolution {
                by: "runner",
                method: ResolutionMethod::AutomatedAction,
                note: Some("corrective action completed"),
            };
            let resolved = incidents::resolve(&mut tx, which, resolution).await?;
            for inc in resolved {
                let mttr = inc.mttr_seconds.unwrap_or_default();
                core.metrics.observe_resolution(&inc.severity, mttr);
                core.metrics
                    .incidents_resolved
                    .with_label_values(&["automated_action"])
                    .inc();
                info!(
                    incident_id = inc.id,
                    action_id = row.id,
                    mttr_seconds = mttr,
                    "incident resolved by action"
                );
                events.push(message(IncidentResolved {
                    resolved_by: "runner".into(),
                    resolved_at: inc.resolved_at.unwrap_or_else(chrono::Utc::now),
                    resolution_method: ResolutionMethod::AutomatedAction,
                    mttr_seconds: mttr,
                    action_id: Some(row.id),
                    incident: inc.summary(),
                }));
            }
        }
        ActionStatus::Failed | ActionStatus::Rejected => {
            if let Some(id) = incident_id
                && let Some(inc) = incidents::get(&mut *tx, id).await?
                && inc.status().is_active()
            {
                let reason = if next == ActionStatus::Failed {
                    UpdateReason::ActionFailed
                } else {
                    UpdateReason::ActionRejected
                };
                events.push(message(IncidentUpdated {
                    incident: inc.summary(),
                    reason,
                    action_id: Some(row.id),
                    detail,
                }));
            }
        }
        _ => {}
    }
    store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves the row to `next` unless it already finished. A terminal result for an action that
/// never showed `running` here (its `started` is late or was another runner's) passes
/// through `running` so the state machine holds.
async fn step(
    tx: &mut PgConnection,
    id: i64,
    current: ActionStatus,
    next: ActionStatus,
    change: Change<'_>,
) -> Result<(), sqlx::Error> {
    if current.is_terminal() || current == next {
        return Ok(());
    }
    if matches!(next, ActionStatus::Completed | ActionStatus::Failed)
        && current != ActionStatus::Running
    {
        repo::transition(
            tx,
            id,
            ActionStatus::Running,
            Change {
                claimed_by: change.claimed_by.or(Some("unknown")),
                ..Change::default()
            },
        )
        .await?;
    }
    repo::transition(tx, id, next, change).await?;
    Ok(())
}
