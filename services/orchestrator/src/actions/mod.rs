//! Actions: requested from REST, RPC, MCP or a rule's automatic action, approved or denied by
//! someone other than the requester, and kept in step with the runner's results.

mod results;
pub mod sweep;

use bus::OutgoingMessage;
use domain::events::{ActionApproved, ActionRef, ActionRejected, ActionRequested};
use domain::{ActionStatus, ActionType};
use serde::Deserialize;
use sqlx::PgConnection;

pub use results::{RESULTS_CONSUMER, apply_result};

use crate::core::Core;
use crate::error::ServiceError;
use crate::events::{Actor, audit, message};
use crate::repo::actions::{self as repo, ActionRow, Change, NewAction};

/// What is asked for, whoever asks.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    pub action_type: ActionType,
    pub target_job: String,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    /// Defaults to `false` for restart and `true` for rollback and stop.
    pub requires_approval: Option<bool>,
    pub reason: Option<String>,
    /// Extra parameters, e.g. `{"target_build": 41}` for a rollback.
    pub params: Option<serde_json::Value>,
}

pub fn default_requires_approval(t: ActionType) -> bool {
    !matches!(t, ActionType::Restart)
}

impl NewRequest {
    pub fn validate(&self) -> Result<(), ServiceError> {
        let job = self.target_job.trim();
        if job.is_empty() || job.len() > 512 || job.chars().any(char::is_control) {
            return Err(ServiceError::Unprocessable(
                "target_job must be 1..=512 characters without control characters".into(),
            ));
        }
        if let Some(b) = self.target_build
            && b <= 0
        {
            return Err(ServiceError::Unprocessable(format!(
                "target_build {b} must be positive"
            )));
        }
        if let Some(p) = &self.params
            && !p.is_object()
        {
            return Err(ServiceError::Unprocessable(
                "params must be a JSON object".into(),
            ));
        }
        if matches!(self.action_type, ActionType::Restart | ActionType::Stop)
            && self.target_build.is_none()
        {
            return Err(ServiceError::Unprocessable(format!(
                "a {} needs target_build",
                self.action_type
            )));
        }
        Ok(())
    }
}

/// Inserts the action and its events (`action.requested`, audit) in the caller's
/// transaction. A repeated idempotency key returns the first action and no events.
pub async fn create(
    tx: &mut PgConnection,
    req: &NewRequest,
    actor: &Actor,
    idempotency_key: Option<&str>,
) -> Result<(ActionRow, Vec<OutgoingMessage>), sqlx::Error> {
    let (row, new) = repo::insert(
        tx,
        &NewAction {
            action_type: req.action_type,
            target_job: req.target_job.trim(),
            target_build: req.target_build,
            incident_id: req.incident_id,
            requested_by: &actor.name,
            channel: actor.channel,
            requires_approval: req
                .requires_approval
                .unwrap_or_else(|| default_requires_approval(req.action_type)),
            reason: req.reason.as_deref(),
            params: req.params.clone().unwrap_or_else(|| serde_json::json!({})),
            idempotency_key,
        },
    )
    .await?;
    if !new {
        return Ok((row, Vec::new()));
    }
    let events = vec![
        message(ActionRequested {
            action: row.summary(),
        }),
        audit(
            actor,
            "action.request",
            "action",
            row.id,
            Some(serde_json::json!({"action_type": row.action_type, "target_job": row.target_job})),
        ),
    ];
    Ok((row, events))
}

pub fn action_ref(row: &ActionRow) -> ActionRef {
    ActionRef {
        action_id: row.id,
        action_type: row.action_type(),
        target_job: row.target_job.clone(),
        target_build: row.target_build,
        incident_id: row.incident_id,
    }
}

impl Core {
    pub async fn request_action(
        &self,
        req: NewRequest,
        actor: &Actor,
    ) -> Result<ActionRow, ServiceError> {
        req.validate()?;
        let mut tx = self.pool.begin().await?;
        if let Some(id) = req.incident_id
            && crate::repo::incidents::get(&mut *tx, id).await?.is_none()
        {
            return Err(ServiceError::NotFound(format!("incident {id} not found")));
        }
        let (row, events) = create(&mut tx, &req, actor, None).await?;
        store::outbox::enqueue_messages(&mut tx, crate::settings::SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(action_id = row.id, job = %row.target_job, by = %actor.name, "action requested");
        Ok(row)
    }

    pub async fn get_action(&self, id: i64) -> Result<ActionRow, ServiceError> {
        repo::get(&self.pool, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("action {id} not found")))
    }

    pub async fn approve_action(&self, id: i64, actor: &Actor) -> Result<ActionRow, ServiceError> {
        let mut tx = self.pool.begin().await?;
        let row = repo::get_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("action {id} not found")))?;
        if row.status() != ActionStatus::PendingApproval {
            return Err(ServiceError::Conflict(format!(
                "action {id} is {}, not waiting for approval",
                row.status
            )));
        }
        if row.requested_by == actor.name {
            return Err(ServiceError::Forbidden(format!(
                "{} requested action {id} and cannot approve it; someone else must",
                actor.name
            )));
        }
        let change = Change {
            approved_by: Some(&actor.name),
            ..Change::default()
        };
        let row = repo::transition(&mut tx, id, ActionStatus::Approved, change)
            .await?
            .ok_or_else(|| ServiceError::Conflict(format!("action {id} changed meanwhile")))?;
        let events = [
            message(ActionApproved {
                action: row.summary(),
                approved_by: actor.name.clone(),
                approved_at: row.approved_at.unwrap_or_else(chrono::Utc::now),
            }),
            audit(actor, "action.approve", "action", id, None),
        ];
        store::outbox::enqueue_messages(&mut tx, crate::settings::SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(action_id = id, by = %actor.name, "action approved");
        Ok(row)
    }

    pub async fn deny_action(
        &self,
        id: i64,
        actor: &Actor,
        reason: Option<String>,
    ) -> Result<ActionRow, ServiceError> {
        let mut tx = self.pool.begin().await?;
        let row = repo::get_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("action {id} not found")))?;
        if !row.status().can_transition_to(ActionStatus::Rejected) {
            return Err(ServiceError::Conflict(format!(
                "action {id} is {} and can no longer be denied",
                row.status
            )));
        }
        let reason = reason.unwrap_or_else(|| format!("denied by {}", actor.name));
        let change = Change {
            rejected_by: Some(&actor.name),
            reason: Some(&reason),
            ..Change::default()
        };
        let row = repo::transition(&mut tx, id, ActionStatus::Rejected, change)
            .await?
            .ok_or_else(|| ServiceError::Conflict(format!("action {id} changed meanwhile")))?;
        let events = [
            message(ActionRejected {
                action: action_ref(&row),
                reason: reason.clone(),
                rejected_by: actor.name.clone(),
                rejected_at: chrono::Utc::now(),
            }),
            audit(
                actor,
                "action.deny",
                "action",
                id,
                Some(serde_json::json!({"reason": reason})),
            ),
        ];
        store::outbox::enqueue_messages(&mut tx, crate::settings::SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(action_id = id, by = %actor.name, "action denied");
        Ok(row)
    }
}
