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
    /// Distinct approvers the policy requires before the runner may act.
    pub approvals_required: i32,
    /// The policy clause that allowed the request.
    pub policy_clause: Option<String>,
    /// The trusted service that relayed the request for `requested_by` (`amqp:chatops`).
    pub requested_via: Option<String>,
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

    /// Approvals needed; rows from before the policy asked one when `requires_approval`.
    pub fn required_approvals(&self) -> u32 {
        let n = self.approvals_required.max(0) as u32;
        if self.requires_approval { n.max(1) } else { n }
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
            approvals_required: self.required_approvals(),
            requested_via: self.requested_via.clone(),
            params: (self.params != serde_json::json!({})).then(|| self.params.clone()),
            reason: self.reason.clone(),
            created_at: self.created_at,
        }
    }
}

const COLUMNS: &str = "id, action_type, status, target_job, target_build, incident_id, requested_by, channel,
    requires_approval, approvals_required, policy_clause, requested_via, approved_by, approved_at, rejected_by, reason,
    rejection_reason, params, dry_run, claimed_by, result, error, error_kind, created_at, updated_at, started_at,
    completed_at";

pub struct NewAction<'a> {
    pub action_type: ActionType,
    pub target_job: &'a str,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    pub requested_by: &'a str,
    pub channel: Channel,
    pub requested_via: Option<&'a str>,
    pub approvals_required: u32,
    pub policy_clause: &'a str,
    pub reason: Option<&'a str>,
    pub params: serde_json::Value,
    /// Repeated requests with the same key return the first action instead of a new one.
    pub idempotency_key: Option<&'a str>,
    /// What the key's first request was; a different request under the same key is refused.
    pub idempotency_fingerprint: Option<&'a str>,
}

/// What [`insert`] found.
pub struct Inserted {
    pub row: ActionRow,
    /// False when an idempotency key returned an earlier action.
    pub new: bool,
    /// The fingerprint stored with the key (compare it with the request's).
    pub fingerprint: Option<String>,
}

/// Inserts an action (`pending_approval` when it needs approvals, else `requested`).
/// An idempotency key already used returns the earlier action instead.
pub async fn insert(tx: &mut PgConnection, a: &NewAction<'_>) -> Result<Inserted, sqlx::Error> {
    let status = if a.approvals_required > 0 {
        ActionStatus::PendingApproval
    } else {
        ActionStatus::Requested
    };
    let sql = format!(
        "INSERT INTO action_executions (action_type, status, target_job, target_build, incident_id, requested_by,
                                        channel, requires_approval, reason, params, idempotency_key,
                                        approvals_required, policy_clause, requested_via, idempotency_fingerprint)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
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
        .bind(a.approvals_required > 0)
        .bind(a.reason)
        .bind(&a.params)
        .bind(a.idempotency_key)
        .bind(a.approvals_required as i32)
        .bind(a.policy_clause)
        .bind(a.requested_via)
        .bind(a.idempotency_fingerprint)
        .fetch_optional(&mut *tx)
        .await?;
    match inserted {
        Some(row) => Ok(Inserted {
            row,
            new: true,
            fingerprint: a.idempotency_fingerprint.map(str::to_string),
        }),
        None => {
            let sql = format!(
                "SELECT {COLUMNS}, idempotency_fingerprint AS fp FROM action_executions WHERE idempotency_key = $1"
            );
            let r = sqlx::query(&sql)
                .bind(a.idempotency_key)
                .fetch_one(&mut *tx)
                .await?;
            use sqlx::Row;
            Ok(Inserted {
                fingerprint: r.try_get("fp")?,
                row: ActionRow::from_row(&r)?,
                new: false,
            })
        }
    }
}

/// One person's approval of an action; false when that person had already approved it.
pub async fn add_approval(
    tx: &mut PgConnection,
    action_id: i64,
    approver: &str,
    display_name: &str,
    via: Option<&str>,
    channel: Channel,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO action_approvals (action_id, approver, display_name, via, channel)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(action_id)
    .bind(approver)
    .bind(display_name)
    .bind(via)
    .bind(channel.as_str())
    .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Who approved an action so far, in order.
pub async fn approvers(
    db: impl sqlx::PgExecutor<'_>,
    action_id: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT display_name FROM action_approvals WHERE action_id = $1 ORDER BY approved_at, approver",
    )
    .bind(action_id)
    .fetch_all(db)
    .await
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
             rejection_reason = COALESCE($6, rejection_reason),
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
        .bind(change.rejection_reason)
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
    /// Why it was rejected (a person's denial, the guard); `reason` stays the requester's.
    pub rejection_reason: Option<&'a str>,
    pub result: Option<&'a serde_json::Value>,
    pub error: Option<&'a str>,
    pub dry_run: Option<bool>,
    pub claimed_by: Option<&'a str>,
}
