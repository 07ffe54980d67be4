//! Creating an action, whoever asks: the row the policy allowed and its events, in the
//! caller's transaction, and the idempotency keys that make a repeated request create
//! nothing.

use bus::OutgoingMessage;
use domain::commands::{Action, ActionRequest};
use domain::events::ActionRequested;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::auth::decide::Planned;
use crate::auth::{Actor, normalise};
use crate::error::ServiceError;
use crate::events::{audit_with, message};
use crate::repo::actions::{self as repo, NewAction};

/// What identifies a request behind an idempotency key: the same key with another request
/// is refused rather than silently answered with the first one.
pub fn fingerprint(req: &ActionRequest, actor: &Actor) -> String {
    let canonical = serde_json::json!([
        normalise(&actor.name),
        req.action_type,
        req.target_job.trim(),
        req.target_build,
        req.incident_id,
        req.requires_approval,
        req.reason,
        req.params,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
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
    pub row: Action,
    pub created: bool,
}

/// Inserts the action the policy allowed and its events (`action.requested`, audit) in the
/// caller's transaction. A repeated idempotency key returns the first action and no events;
/// with a different request it is refused.
pub async fn create(
    tx: &mut PgConnection,
    req: &ActionRequest,
    actor: &Actor,
    planned: &Planned,
    key: Option<&IdempotencyKey>,
) -> Result<(Requested, Vec<OutgoingMessage>), ServiceError> {
    let fingerprint = key.map(|_| fingerprint(req, actor));
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
