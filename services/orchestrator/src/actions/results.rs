//! The runner's results (`action.started|completed|failed|rejected`) move the incidents they
//! concern: a completed action resolves its incident (the seed's resolve-by-job), a dry run,
//! a failed or a rejected one updates it.
//!
//! The action row is the runner's from its claim on (see `repo::actions`): the runner
//! commits each transition and its event in one outbox transaction, so the row is final
//! before the event is published, and this consumer only reads it.

use bus::{HandlerError, Message};
use domain::commands::Action;
use domain::events::{IncidentUpdated, UpdateReason};
use domain::{ActionStatus, Event, ResolutionMethod};
use tracing::{debug, info, warn};

use super::ActionService;
use crate::error::ServiceError;
use crate::events::{incident_resolved, message};
use crate::repo::actions as repo;
use crate::repo::incidents;
use crate::settings::SERVICE;

/// The inbox name of this consumer.
pub const RESULTS_CONSUMER: &str = "orchestrator.action-results";

/// What a result means for the incident.
enum Outcome {
    /// `action.started`: nothing for the incident.
    Started,
    Completed {
        dry_run: bool,
    },
    Failed(String),
    Rejected(String),
}

impl ActionService {
    /// Applies one result event. Idempotent (the inbox drops a redelivery; resolutions are
    /// guarded) and tolerant of order: a late `started` changes nothing, and a result for an
    /// incident already resolved resolves nothing.
    pub async fn apply_result(&self, msg: Message<Event>) -> Result<(), HandlerError> {
        Ok(self.apply(&msg).await?)
    }

    async fn apply(&self, msg: &Message<Event>) -> Result<(), ServiceError> {
        let (action, outcome, expected) = match &msg.envelope.payload {
            Event::ActionStarted(e) => (&e.action, Outcome::Started, None),
            Event::ActionCompleted(e) => (
                &e.action,
                Outcome::Completed {
                    dry_run: e.result.dry_run,
                },
                Some(ActionStatus::Completed),
            ),
            Event::ActionFailed(e) => (
                &e.action,
                Outcome::Failed(e.reason.clone()),
                Some(ActionStatus::Failed),
            ),
            Event::ActionRejected(e) => (
                &e.action,
                Outcome::Rejected(e.reason.clone()),
                Some(ActionStatus::Rejected),
            ),
            other => {
                return Err(ServiceError::BadRequest(format!(
                    "`{}` is not an action result",
                    other.kind()
                )));
            }
        };
        let mut tx = self.base.pool.begin().await?;
        if !store::inbox::first_time(&mut tx, RESULTS_CONSUMER, msg.envelope.id).await? {
            debug!(message_id = %msg.envelope.id, "result already applied");
            return Ok(());
        }
        let Some(row) = repo::get(&mut *tx, action.action_id).await? else {
            return Err(ServiceError::NotFound(format!(
                "result for unknown action {}",
                action.action_id
            )));
        };
        if let Some(want) = expected
            && row.status() != want
        {
            // The runner commits the row with its event; a row that disagrees was changed
            // since (or by hand). The event still says what happened on Jenkins.
            warn!(action_id = row.id, row = %row.status, event = %want, "an action result disagrees with its row");
        }
        let incident_id = row.incident_id.or(action.incident_id);
        let events = match outcome {
            Outcome::Started => Vec::new(),
            Outcome::Completed { dry_run: true } => {
                self.base
                    .metrics
                    .actions_dry_run
                    .with_label_values(&[row.action_type.as_str()])
                    .inc();
                let detail = format!(
                    "dry run: would have run {} on {}{}; Jenkins was not called and the incident stays open",
                    row.action_type,
                    row.target_job,
                    row.target_build
                        .map(|b| format!(" #{b}"))
                        .unwrap_or_default()
                );
                self.update(&mut tx, &row, incident_id, UpdateReason::DryRun, detail)
                    .await?
            }
            // A runbook's action does not resolve: its run verifies the recovery first.
            Outcome::Completed { dry_run: false }
                if crate::repo::runbooks::is_step_action(&mut *tx, row.id).await? =>
            {
                Vec::new()
            }
            Outcome::Completed { dry_run: false } => {
                self.resolve_by(&mut tx, &row, incident_id).await?
            }
            Outcome::Failed(reason) => {
                self.update(
                    &mut tx,
                    &row,
                    incident_id,
                    UpdateReason::ActionFailed,
                    reason,
                )
                .await?
            }
            Outcome::Rejected(reason) => {
                self.update(
                    &mut tx,
                    &row,
                    incident_id,
                    UpdateReason::ActionRejected,
                    reason,
                )
                .await?
            }
        };
        crate::repo::runbooks::wake_for_action(&mut tx, row.id).await?;
        store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Resolves the action's incident (by id, else every open one of its job).
    async fn resolve_by(
        &self,
        tx: &mut sqlx::PgConnection,
        row: &Action,
        incident_id: Option<i64>,
    ) -> Result<Vec<bus::OutgoingMessage>, ServiceError> {
        let which = match incident_id {
            Some(id) => incidents::Open::Id(id),
            None => incidents::Open::Job(&row.target_job),
        };
        let resolution = incidents::Resolution {
            by: "runner",
            method: ResolutionMethod::AutomatedAction,
            note: Some("corrective action completed"),
        };
        let resolved = incidents::resolve(tx, which, resolution).await?;
        Ok(resolved
            .iter()
            .map(|inc| {
                self.base.metrics.resolved(inc);
                info!(
                    incident_id = inc.id,
                    action_id = row.id,
                    mttr_seconds = inc.mttr_seconds.unwrap_or_default(),
                    "incident resolved by action"
                );
                incident_resolved(inc, Some(row.id))
            })
            .collect())
    }

    /// `incident.updated` for the action's incident, while it is still active.
    async fn update(
        &self,
        tx: &mut sqlx::PgConnection,
        row: &Action,
        incident_id: Option<i64>,
        reason: UpdateReason,
        detail: String,
    ) -> Result<Vec<bus::OutgoingMessage>, ServiceError> {
        let Some(id) = incident_id else {
            return Ok(Vec::new());
        };
        let Some(inc) = incidents::get(&mut *tx, id).await? else {
            return Ok(Vec::new());
        };
        if !inc.status().is_active() {
            return Ok(Vec::new());
        }
        if reason == UpdateReason::DryRun {
            info!(
                incident_id = id,
                action_id = row.id,
                "dry run completed, incident stays open"
            );
        }
        Ok(vec![message(IncidentUpdated {
            incident: inc.summary(),
            reason,
            action_id: Some(row.id),
            detail: Some(detail),
        })])
    }
}
