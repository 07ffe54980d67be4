//! ActionRequestRepository: the orchestrator's statements on `action_executions`.
//!
//! One owner per transition. The orchestrator creates actions and decides them before any
//! runner has them: `requested` or `pending_approval` on creation, `pending_approval →
//! approved` (approvals), `→ rejected` by a person's denial or the expiry of an unclaimed
//! action, and the re-publication time (`requeued_at`). Those transitions set `status`,
//! `approved_by`/`approved_at`, `rejected_by`, `rejection_reason`, `completed_at` (of a
//! rejection) and `updated_at`. Everything from the claim on belongs to the runner
//! (`services/runner/src/repo`): `running`, `completed`, `failed`, the guard's rejection, the
//! lease, `claimed_by`, `dry_run`, `result`, `error`, `error_kind` and the Jenkins
//! columns. This side only reads those.

use domain::commands::Action;
use domain::{ActionStatus, ActionType, Channel};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::col;

/// An `action_executions` row as the domain type.
fn action(r: PgRow) -> Result<Action, sqlx::Error> {
    Ok(Action {
        id: col(&r, "id")?,
        action_type: col(&r, "action_type")?,
        status: col(&r, "status")?,
        target_job: col(&r, "target_job")?,
        target_build: col(&r, "target_build")?,
        incident_id: col(&r, "incident_id")?,
        requested_by: col(&r, "requested_by")?,
        channel: col(&r, "channel")?,
        requires_approval: col(&r, "requires_approval")?,
        approvals_required: col(&r, "approvals_required")?,
        policy_clause: col(&r, "policy_clause")?,
        requested_via: col(&r, "requested_via")?,
        approved_by: col(&r, "approved_by")?,
        approved_at: col(&r, "approved_at")?,
        approvals: col::<sqlx::types::Json<Vec<domain::commands::Approval>>>(&r, "approvals")?.0,
        rejected_by: col(&r, "rejected_by")?,
        reason: col(&r, "reason")?,
        rejection_reason: col(&r, "rejection_reason")?,
        params: col(&r, "params")?,
        dry_run: col(&r, "dry_run")?,
        claimed_by: col(&r, "claimed_by")?,
        result: col(&r, "result")?,
        error: col(&r, "error")?,
        error_kind: col(&r, "error_kind")?,
        created_at: col(&r, "created_at")?,
        updated_at: col(&r, "updated_at")?,
        started_at: col(&r, "started_at")?,
        completed_at: col(&r, "completed_at")?,
    })
}

const COLUMNS: &str = "id, action_type, status, target_job, target_build, incident_id, requested_by, channel,
    requires_approval, approvals_required, policy_clause, requested_via, approved_by, approved_at, rejected_by, reason,
    rejection_reason, params, dry_run, claimed_by, result, error, error_kind, created_at, updated_at, started_at,
    completed_at,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('by', p.display_name, 'at', p.approved_at,
                                                  'channel', p.channel, 'via', p.via)
                               ORDER BY p.approved_at, p.approver), '[]'::jsonb)
       FROM action_approvals p WHERE p.action_id = action_executions.id) AS approvals";

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
    pub row: Action,
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
    let inserted: Option<Action> = sqlx::query(&sql)
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
        .try_map(action)
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
            Ok(Inserted {
                fingerprint: r.try_get("fp")?,
                row: action(r)?,
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

pub async fn get(db: impl sqlx::PgExecutor<'_>, id: i64) -> Result<Option<Action>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM action_executions WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .try_map(action)
        .fetch_optional(db)
        .await
}

/// Locks the row for a decision in this transaction.
pub async fn get_for_update(tx: &mut PgConnection, id: i64) -> Result<Option<Action>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM action_executions WHERE id = $1 FOR UPDATE");
    sqlx::query(&sql)
        .bind(id)
        .try_map(action)
        .fetch_optional(tx)
        .await
}

pub async fn for_incident(
    db: impl sqlx::PgExecutor<'_>,
    incident_id: i64,
) -> Result<Vec<Action>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM action_executions WHERE incident_id = $1 ORDER BY id");
    sqlx::query(&sql)
        .bind(incident_id)
        .try_map(action)
        .fetch_all(db)
        .await
}

/// The states a row must be in to move to `next` (`domain::ActionStatus`'s table).
fn predecessors(next: ActionStatus) -> Vec<&'static str> {
    ActionStatus::predecessors(next)
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// `pending_approval → approved`, recording the approver who completed the count. `None`
/// when the row had moved on.
pub async fn approve(
    tx: &mut PgConnection,
    id: i64,
    by: &str,
) -> Result<Option<Action>, sqlx::Error> {
    let sql = format!(
        "UPDATE action_executions SET status = 'approved', approved_by = $2, approved_at = now(),
             updated_at = now()
         WHERE id = $1 AND status = ANY($3)
         RETURNING {COLUMNS}"
    );
    sqlx::query(&sql)
        .bind(id)
        .bind(by)
        .bind(predecessors(ActionStatus::Approved))
        .try_map(action)
        .fetch_optional(tx)
        .await
}

/// `requested | pending_approval | approved → rejected` by a person's denial, before any
/// runner claimed it. `None` when the row had moved on.
pub async fn deny(
    tx: &mut PgConnection,
    id: i64,
    by: &str,
    reason: &str,
) -> Result<Option<Action>, sqlx::Error> {
    let sql = format!(
        "UPDATE action_executions SET status = 'rejected', rejected_by = $2, rejection_reason = $3,
             completed_at = now(), updated_at = now()
         WHERE id = $1 AND status = ANY($4)
         RETURNING {COLUMNS}"
    );
    sqlx::query(&sql)
        .bind(id)
        .bind(by)
        .bind(reason)
        .bind(predecessors(ActionStatus::Rejected))
        .try_map(action)
        .fetch_optional(tx)
        .await
}

/// When a row started waiting for a runner.
const WAITING_SINCE: &str =
    "CASE WHEN status = 'approved' THEN COALESCE(approved_at, created_at) ELSE created_at END";

/// Rejects (as `by`, with `reason`) up to `limit` rows still unclaimed after `secs`,
/// skipping rows another sweep holds; their ids.
pub async fn expire_unclaimed(
    tx: &mut PgConnection,
    secs: u64,
    limit: i64,
    by: &str,
    reason: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "WITH due AS (
             SELECT id FROM action_executions
             WHERE status IN ('requested', 'approved')
               AND {WAITING_SINCE} < now() - make_interval(secs => $1)
             ORDER BY id LIMIT $2
             FOR UPDATE SKIP LOCKED
         )
         UPDATE action_executions a
         SET status = 'rejected', rejected_by = $3, rejection_reason = $4,
             completed_at = now(), updated_at = now()
         FROM due WHERE a.id = due.id
         RETURNING a.id"
    ))
    .bind(secs as f64)
    .bind(limit)
    .bind(by)
    .bind(reason)
    .fetch_all(tx)
    .await
}

/// Marks up to `limit` rows unclaimed for `secs` (since they started waiting or were last
/// re-published) as re-published now, skipping rows another sweep holds; their ids.
pub async fn requeue_unclaimed(
    tx: &mut PgConnection,
    secs: u64,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "WITH due AS (
             SELECT id FROM action_executions
             WHERE status IN ('requested', 'approved')
               AND COALESCE(requeued_at, {WAITING_SINCE}) < now() - make_interval(secs => $1)
             ORDER BY id LIMIT $2
             FOR UPDATE SKIP LOCKED
         )
         UPDATE action_executions a SET requeued_at = now()
         FROM due WHERE a.id = due.id
         RETURNING a.id"
    ))
    .bind(secs as f64)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// One page of actions matching `q`, the newest first, and how many match in all.
pub async fn list(
    pool: &sqlx::PgPool,
    q: &domain::commands::ActionQuery,
) -> Result<domain::commands::ActionPage, sqlx::Error> {
    use sqlx::{Postgres, QueryBuilder};
    let statuses: Option<Vec<&'static str>> = q
        .statuses
        .as_ref()
        .map(|s| s.iter().map(|s| s.as_str()).collect());
    let filters = |qb: &mut QueryBuilder<Postgres>| {
        qb.push(" WHERE true");
        if let Some(s) = &statuses {
            qb.push(" AND status = ANY(").push_bind(s.clone()).push(")");
        }
        if let Some(job) = &q.job {
            qb.push(" AND target_job = ").push_bind(job.clone());
        }
        if let Some(id) = q.incident {
            qb.push(" AND incident_id = ").push_bind(id);
        }
        if let Some(by) = &q.requested_by {
            qb.push(" AND requested_by = ").push_bind(by.clone());
        }
        if let Some(since) = q.since {
            qb.push(" AND created_at >= ").push_bind(since);
        }
    };
    let mut count: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT count(*) FROM action_executions");
    filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM action_executions"));
    filters(&mut qb);
    qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(q.limit)
        .push(" OFFSET ")
        .push_bind(q.offset);
    let items = qb.build().try_map(action).fetch_all(pool).await?;
    Ok(domain::commands::ActionPage {
        items,
        total,
        limit: q.limit,
        offset: q.offset,
    })
}
