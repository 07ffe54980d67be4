//! ActionRequestRepository: the orchestrator creates actions, approves or denies them, and
//! keeps their status in step with the runner's results.

use chrono::{DateTime, Utc};
use domain::action::ActionSummary;
use domain::{ActionStatus, ActionType, Channel};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow, Serialize, schemars::JsonSchema)]
pub struct ActionRow {
    pub id: i64,
    pub action_type: String,
    pub status: String,
    pub target_job: String,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    pub requested_by: String,
    pub channel: String,
    pub requires_approval: bool,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub rejected_by: Option<String>,
    pub reason: Option<String>,
    /// Why the guard (or the expiry sweep) rejected it; `reason` stays the requester's.
    pub rejection_reason: Option<String>,
    pub params: serde_json::Value,
    pub dry_run: Option<bool>,
    pub claimed_by: Option<String>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    /// The class of a failure (`jenkins_5xx`, `runner_lost`, `build_failed`...).
    pub error_kind: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl ActionRow {
    // CHECK constraints guarantee these columns hold the enums' words.
    pub fn status(&self) -> ActionStatus {
        self.status.parse().unwrap_or(ActionStatus::Requested)
    }

    pub fn action_type(&self) -> ActionType {
        self.action_type.parse().unwrap_or(ActionType::Restart)
    }

    pub fn summary(&self) -> ActionSummary {
        ActionSummary {
            id: self.id,
            action_type: self.action_type(),
            status: self.status(),
            target_job: self.target_job.clone(),
            target_build: self.target_build,
            incident_id: self.incident_id,
            requested_by: self.requested_by.clone(),
            channel: self.channel.parse().unwrap_or(Channel::Api),
            requires_approval: self.requires_approval,
            params: (self.params != serde_json::json!({})).then(|| self.params.clone()),
            reason: self.reason.clone(),
            created_at: self.created_at,
        }
    }
}

const COLUMNS: &str = "id, action_type, status, target_job, target_build, incident_id, requested_by, channel,
    requires_approval, approved_by, approved_at, rejected_by, reason, rejection_reason, params, dry_run, claimed_by,
    result, error, error_kind, created_at, updated_at, started_at, completed_at";

pub struct NewAction<'a> {
    pub action_type: ActionType,
    pub target_job: &'a str,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    pub requested_by: &'a str,
    pub channel: Channel,
    pub requires_approval: bool,
    pub reason: Option<&'a str>,
    pub params: serde_json::Value,
    /// Repeated requests with the same key return the first action instead of a new one.
    pub idempotency_key: Option<&'a str>,
}

/// Inserts an action (`pending_approval` when it needs approval, else `requested`).
/// Returns the row and whether it is new (an idempotency key may return an older one).
pub async fn insert(
    tx: &mut PgConnection,
    a: &NewAction<'_>,
) -> Result<(ActionRow, bool), sqlx::Error> {
    let status = if a.requires_approval {
        ActionStatus::PendingApproval
    } else {
        ActionStatus::Requested
    };
    let sql = format!(
        "INSERT INTO action_executions (action_type, status, target_job, target_build, incident_id, requested_by,
                                        channel, requires_approval, reason, params, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING {COLUMNS}"
    );
    let inserted: Option<ActionRow> = sqlx::query_as(&sql)
        .bind(a.action_type.as_str())
        .bind(status.as_str())
        .bind(a.target_job)
        .bind(a.target_build)
        .bind(a.incident_id)
        .bind(a.requested_by)
        .bind(a.channel.as_str())
        .bind(a.requires_approval)
        .bind(a.reason)
        .bind(&a.params)
        .bind(a.idempotency_key)
        .fetch_optional(&mut *tx)
        .await?;
    match inserted {
        Some(row) => Ok((row, true)),
        None => {
            let sql = format!("SELECT {COLUMNS} FROM action_executions WHERE idempotency_key = $1");
            let row = sqlx::query_as(&sql)
                .bind(a.idempotency_key)
                .fetch_one(&mut *tx)
                .await?;
            Ok((row, false))
        }
    }
}

pub async fn get(db: impl sqlx::PgExecutor<'_>, id: i64) -> Result<Option<ActionRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM action_executions WHERE id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// Locks the row for a decision in this transaction.
pub async fn get_for_update(
    tx: &mut PgConnection,
    id: i64,
) -> Result<Option<ActionRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM action_executions WHERE id = $1 FOR UPDATE");
    sqlx::query_as(&sql).bind(id).fetch_optional(tx).await
}

pub async fn for_incident(
    db: impl sqlx::PgExecutor<'_>,
    incident_id: i64,
) -> Result<Vec<ActionRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM action_executions WHERE incident_id = $1 ORDER BY id");
    sqlx::query_as(&sql).bind(incident_id).fetch_all(db).await
}

/// A guarded transition: applies only when the row is in a state that may move to `next`
/// (per `domain::ActionStatus::can_transition_to`). `None` when it was not.
pub async fn transition(
    tx: &mut PgConnection,
    id: i64,
    next: ActionStatus,
    change: Change<'_>,
) -> Result<Option<ActionRow>, sqlx::Error> {
    let from: Vec<&str> = ActionStatus::predecessors(next)
        .iter()
        .map(|s| s.as_str())
        .collect();
    let sql = format!(
        "UPDATE action_executions SET status = $2, updated_at = now(),
             approved_by = COALESCE($4, approved_by),
             approved_at = CASE WHEN $4::text IS NOT NULL THEN now() ELSE approved_at END,
             rejected_by = COALESCE($5, rejected_by),
             reason = COALESCE($6, reason),
             result = COALESCE($7, result),
             error = COALESCE($8, error),
             dry_run = COALESCE($9, dry_run),
             claimed_by = COALESCE($10, claimed_by),
             lease_expires_at = CASE WHEN $2 = 'running' THEN COALESCE(lease_expires_at, now() + interval '5 minutes')
                                     ELSE lease_expires_at END,
             started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, now()) ELSE started_at END,
             completed_at = CASE WHEN $2 IN ('completed', 'failed', 'rejected') THEN now() ELSE completed_at END
         WHERE id = $1 AND status = ANY($3)
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(next.as_str())
        .bind(&from)
        .bind(change.approved_by)
        .bind(change.rejected_by)
        .bind(change.reason)
        .bind(change.result)
        .bind(change.error)
        .bind(change.dry_run)
        .bind(change.claimed_by)
        .fetch_optional(tx)
        .await
}

/// The columns a transition may set besides the status.
#[derive(Debug, Default, Clone, Copy)]
pub struct Change<'a> {
    pub approved_by: Option<&'a str>,
    pub rejected_by: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub result: Option<&'a serde_json::Value>,
    pub error: Option<&'a str>,
    pub dry_run: Option<bool>,
    pub claimed_by: Option<&'a str>,
}
