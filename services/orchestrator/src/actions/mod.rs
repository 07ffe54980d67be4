//! Actions: requested from REST, RPC, MCP or a rule's automatic action — each request judged
//! by the one policy — approved by enough distinct approvers other than the requester, or
//! denied, and kept in step with the runner's results.

mod results;
pub mod sweep;

use bus::OutgoingMessage;
use domain::events::{ActionApproved, ActionRef, ActionRejected, ActionRequested};
use domain::{ActionStatus, ActionType};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

pub use results::{RESULTS_CONSUMER, apply_result};

use crate::auth::decide::{self, Op, Planned};
use crate::auth::{Actor, normalise};
use crate::core::Core;
use crate::error::ServiceError;
use crate::events::{audit_with, message};
use crate::repo::actions::{self as repo, ActionRow, Change, NewAction};

/// What is asked for, whoever asks.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    pub action_type: ActionType,
    pub target_job: String,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    /// Ask for an approval the policy does not require (it can never lower the policy's).
    pub requires_approval: Option<bool>,
    pub reason: Option<String>,
    /// Extra parameters, e.g. `{"target_build": 41}` for a rollback.
    pub params: Option<serde_json::Value>,
}

impl NewRequest {
    pub fn validate(&self) -> Result<(), ServiceError> {
        let job = self.target_job.trim();
        if job.is_empty() || job.chars().count() > 512 || job.chars().any(char::is_control) {
            return Err(ServiceError::Invalid {
                field: "target_job".into(),
                message: "target_job must be 1..=512 characters without control characters".into(),
            });
        }
        if let Some(b) = self.target_build
            && b <= 0
        {
            return Err(ServiceError::Invalid {
                field: "target_build".into(),
                message: format!("target_build {b} must be positive"),
            });
        }
        if let Some(p) = &self.params
            && !p.is_object()
        {
            return Err(ServiceError::Invalid {
                field: "params".into(),
                message: "params must be a JSON object".into(),
            });
        }
        if let Some(r) = &self.reason
            && (r.chars().count() > 2000 || r.contains('\0'))
        {
            return Err(ServiceError::Invalid {
                field: "reason".into(),
                message: "reason must be at most 2000 characters without NUL".into(),
            });
        }
        if matches!(self.action_type, ActionType::Restart | ActionType::Stop)
            && self.target_build.is_none()
        {
            return Err(ServiceError::Invalid {
                field: "target_build".into(),
                message: format!("a {} needs target_build", self.action_type),
            });
        }
        Ok(())
    }

    /// What identifies this request behind an idempotency key: the same key with another
    /// request is refused rather than silently answered with the first one.
    pub fn fingerprint(&self, actor: &Actor) -> String {
        let canonical = serde_json::json!([
            normalise(&actor.name),
            self.action_type,
            self.target_job.trim(),
            self.target_build,
            self.incident_id,
            self.requires_approval,
            self.reason,
            self.params,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// A request's idempotency key as stored: scoped by its door (`api:<principal>:<key>`,
/// `rpc:<message id>`, `incident:<id>:<rule>`).
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    /// An `Idempotency-Key` header: 1..=200 visible ASCII characters, scoped to the caller.
    pub fn from_header(actor: &Actor, key: &str) -> Result<Self, ServiceError> {
        let ok = !key.is_empty() && key.len() <= 200 && key.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(ServiceError::Invalid {
                field: "Idempotency-Key".into(),
                message: "the Idempotency-Key header must be 1..=200 visible ASCII characters"
                    .into(),
            });
        }
        Ok(IdempotencyKey(format!(
            "api:{}:{key}",
            normalise(&actor.name)
        )))
    }

    /// A `command.actions.request` on the bus: its message id, so a redelivery (or a
    /// caller's retry of the same message) creates nothing new.
    pub fn from_message(id: uuid::Uuid) -> Self {
        IdempotencyKey(format!("rpc:{id}"))
    }
}

/// The outcome of a request: the action, and whether this call created it.
#[derive(Debug)]
pub struct Requested {
    pub row: ActionRow,
    pub created: bool,
}

/// Inserts the action the policy allowed and its events (`action.requested`, audit) in the
/// caller's transaction. A repeated idempotency key returns the first action and no events;
/// with a different request it is refused.
pub async fn create(
    tx: &mut PgConnection,
    req: &NewRequest,
    actor: &Actor,
    planned: &Planned,
    key: Option<&IdempotencyKey>,
) -> Result<(Requested, Vec<OutgoingMessage>), ServiceError> {
    let fingerprint = key.map(|_| req.fingerprint(actor));
    let inserted = repo::insert(
        tx,
        &NewAction {
            action_type: req.action_type,
            target_job: req.target_job.trim(),
            target_build: req.target_build,
            incident_id: req.incident_id,
            requested_by: &actor.name,
            channel: actor.channel,
            requested_via: actor.via.as_deref(),
            approvals_required: planned.approvals,
            policy_clause: &planned.clause,
            reason: req.reason.as_deref(),
            params: req.params.clone().unwrap_or_else(|| serde_json::json!({})),
            idempotency_key: key.map(|k| k.0.as_str()),
            idempotency_fingerprint: fingerprint.as_deref(),
        },
    )
    .await?;
    if !inserted.new {
        if inserted.fingerprint.is_some() && inserted.fingerprint != fingerprint {
            return Err(ServiceError::Unprocessable(
                "this Idempotency-Key was already used for a different request".into(),
            ));
        }
        return Ok((
            Requested {
                row: inserted.row,
                created: false,
            },
            Vec::new(),
        ));
    }
    let row = inserted.row;
    let events = vec![
        message(ActionRequested {
            action: row.summary(),
        }),
        audit_with(
            actor,
            "action.request",
            "action",
            Some(row.id.to_string()),
            Some(serde_json::json!({
                "action_type": row.action_type,
                "target_job": row.target_job,
                "target_build": row.target_build,
                "approvals_required": planned.approvals,
            })),
            Some(&planned.clause),
        ),
    ];
    Ok((Requested { row, created: true }, events))
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
    /// Requests an action as `actor`, if the policy allows it.
    pub async fn request_action(
        &self,
        req: NewRequest,
        actor: &Actor,
        key: Option<IdempotencyKey>,
    ) -> Result<Requested, ServiceError> {
        req.validate()?;
        let policy = self.policy.current();
        let planned = match decide::plan_request(
            &policy,
            actor,
            req.action_type,
            req.target_job.trim(),
            req.requires_approval,
        ) {
            Ok(p) => p,
            Err(d) => {
                return Err(self
                    .refuse(
                        actor,
                        "action.request",
                        "job",
                        Some(req.target_job.clone()),
                        d,
                    )
                    .await);
            }
        };
        let mut tx = self.pool.begin().await?;
        if let Some(id) = req.incident_id
            && crate::repo::incidents::get(&mut *tx, id).await?.is_none()
        {
            return Err(ServiceError::NotFound(format!("incident {id} not found")));
        }
        let (requested, events) = create(&mut tx, &req, actor, &planned, key.as_ref()).await?;
        store::outbox::enqueue_messages(&mut tx, crate::settings::SERVICE, &events).await?;
        tx.commit().await?;
        if requested.created {
            self.metrics
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

    pub async fn get_action(&self, actor: &Actor, id: i64) -> Result<ActionRow, ServiceError> {
        self.authorize(actor, Op::Read, "action", Some(id.to_string()))
            .await?;
        repo::get(&self.pool, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("action {id} not found")))
    }

    /// Who approved an action so far.
    pub async fn action_approvers(&self, id: i64) -> Result<Vec<String>, ServiceError> {
        Ok(repo::approvers(&self.pool, id).await?)
    }

    /// Records `actor`'s approval; the action moves to `approved` (and the runner hears
    /// of it) once the policy's number of distinct approvers is reached.
    pub async fn approve_action(&self, id: i64, actor: &Actor) -> Result<ActionRow, ServiceError> {
        let target = Some(id.to_string());
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
        let approvers = repo::approvers(&mut *tx, id).await?;
        if let Err(d) = decide::may_approve(actor, &row.requested_by, &approvers) {
            drop(tx);
            return Err(self
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
            let change = Change {
                approved_by: Some(&actor.name),
                ..Change::default()
            };
            let row = repo::transition(&mut tx, id, ActionStatus::Approved, change)
                .await?
                .ok_or_else(|| ServiceError::Conflict(format!("action {id} changed meanwhile")))?;
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
        store::outbox::enqueue_messages(&mut tx, crate::settings::SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(action_id = id, by = %actor.name, approvals = have, required = need, "action approval recorded");
        Ok(row)
    }

    pub async fn deny_action(
        &self,
        id: i64,
        actor: &Actor,
        reason: Option<String>,
    ) -> Result<ActionRow, ServiceError> {
        let clause = self
            .authorize(actor, Op::Deny, "action", Some(id.to_string()))
            .await?;
        if let Some(r) = &reason
            && (r.chars().count() > 2000 || r.contains('\0'))
        {
            return Err(ServiceError::Invalid {
                field: "reason".into(),
                message: "reason must be at most 2000 characters without NUL".into(),
            });
        }
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
            rejection_reason: Some(&reason),
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
            audit_with(
                actor,
                "action.deny",
                "action",
                Some(id.to_string()),
                Some(serde_json::json!({"reason": reason})),
                Some(&clause),
            ),
        ];
        store::outbox::enqueue_messages(&mut tx, crate::settings::SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(action_id = id, by = %actor.name, "action denied");
        Ok(row)
    }
}
