//! ActionRepository: the runner owns the claim and all after it on `action_executions`
//! (`running`, `completed`, `failed`, the guard's rejection, lease, result, error); the
//! orchestrator owns creation and decisions before a claim. Transitions are guarded, with events.

mod row;

use chrono::{DateTime, Utc};
use domain::action::ActionResult;
use domain::events::{ActionCompleted, ActionFailed, ActionRejected, ActionStarted};
use domain::{ActionStatus, Envelope, Event};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::time::Duration;

pub use row::Action;

use row::{ActionRow, columns};

use crate::error::RunnerError;
use crate::model::Counts;
use crate::settings::SERVICE;

/// Every claim in every replica takes this transaction-scoped advisory lock, so that
/// counting running actions and claiming one is a single step across replicas.
pub const CLAIM_LOCK: i64 = 0x7275_6e62_6f6f_6b73; // "runbooks"

/// Who rejects in `rejected_by` and `action.rejected`.
pub const REJECTED_BY_GUARD: &str = "guard";

/// The end of a claimed action.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Completed(ActionResult),
    Failed {
        /// What Jenkins did before it went wrong (a build that started but failed).
        result: Option<ActionResult>,
        reason: String,
        /// `JenkinsError::kind()`, `build_failed`...
        kind: String,
    },
}

/// A successful claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub started_at: DateTime<Utc>,
    pub lease_expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct ActionRepository {
    pool: PgPool,
}

fn statuses(next: ActionStatus) -> Vec<&'static str> {
    ActionStatus::predecessors(next)
        .into_iter()
        .map(ActionStatus::as_str)
        .collect()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl ActionRepository {
    pub fn new(pool: PgPool) -> Self {
        ActionRepository { pool }
    }

    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, RunnerError> {
        Ok(self.pool.begin().await?)
    }

    pub async fn get(&self, id: i64) -> Result<Option<Action>, RunnerError> {
        let row: Option<ActionRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM action_executions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Action::try_from).transpose()
    }

    /// Serialises claims across replicas until the transaction ends.
    pub async fn lock_claims(&self, tx: &mut PgConnection) -> Result<(), RunnerError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CLAIM_LOCK)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Actions running anywhere, and actions on `job` started within `window_mins`.
    pub async fn counts(
        &self,
        tx: &mut PgConnection,
        job: &str,
        window_mins: i32,
    ) -> Result<Counts, RunnerError> {
        let (running, recent_on_job): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'running'),
                    count(*) FILTER (WHERE target_job = $1
                                       AND started_at >= now() - make_interval(mins => $2))
             FROM action_executions
             WHERE status = 'running'
                OR (target_job = $1 AND started_at >= now() - make_interval(mins => $2))",
        )
        .bind(job)
        .bind(window_mins)
        .fetch_one(tx)
        .await?;
        Ok(Counts {
            running,
            recent_on_job,
        })
    }

    /// `requested|approved → running`, with a lease, and `action.started`. `None` when the
    /// row had already moved on (another runner, a person): nothing may run then.
    pub async fn claim(
        &self,
        tx: &mut PgConnection,
        action: &Action,
        runner: &str,
        lease: Duration,
        dry_run: bool,
        correlation: Option<&str>,
    ) -> Result<Option<Claimed>, RunnerError> {
        let claimed: Option<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "UPDATE action_executions
             SET status = 'running', claimed_by = $2,
                 lease_expires_at = now() + make_interval(secs => $3),
                 started_at = now(), dry_run = $4, updated_at = now()
             WHERE id = $1 AND status = ANY($5)
             RETURNING started_at, lease_expires_at",
        )
        .bind(action.id)
        .bind(runner)
        .bind(secs(lease))
        .bind(dry_run)
        .bind(statuses(ActionStatus::Running))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((started_at, lease_expires_at)) = claimed else {
            return Ok(None);
        };
        let event = Event::ActionStarted(ActionStarted {
            action: action.reference(),
            runner: runner.to_string(),
            started_at,
            lease_expires_at,
            dry_run,
        });
        emit(tx, event, correlation).await?;
        Ok(Some(Claimed {
            started_at,
            lease_expires_at,
        }))
    }

    /// `requested|pending_approval|approved → rejected` by the guard, and `action.rejected`.
    /// The guard's reason goes to `rejection_reason`; `reason` stays the requester's.
    /// `false` when the row had already moved on.
    pub async fn reject(
        &self,
        tx: &mut PgConnection,
        action: &Action,
        reason: &str,
        correlation: Option<&str>,
    ) -> Result<bool, RunnerError> {
        let rejected_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "UPDATE action_executions
             SET status = 'rejected', rejected_by = $2, rejection_reason = $3,
                 completed_at = now(), updated_at = now()
             WHERE id = $1 AND status = ANY($4)
             RETURNING updated_at",
        )
        .bind(action.id)
        .bind(REJECTED_BY_GUARD)
        .bind(reason)
        .bind(statuses(ActionStatus::Rejected))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(rejected_at) = rejected_at else {
            return Ok(false);
        };
        let event = Event::ActionRejected(ActionRejected {
            action: action.reference(),
            reason: reason.to_string(),
            rejected_by: REJECTED_BY_GUARD.into(),
            rejected_at,
        });
        emit(tx, event, correlation).await?;
        Ok(true)
    }

    /// Extends the lease of an action this runner holds; `false` when it no longer holds
    /// it: the lease expired (another runner may be taking it over), was handed over, or
    /// the action was declared lost. An expired lease is never extended.
    pub async fn renew_lease(
        &self,
        id: i64,
        runner: &str,
        lease: Duration,
    ) -> Result<bool, RunnerError> {
        let renewed = sqlx::query(
            "UPDATE action_executions
             SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
             WHERE id = $1 AND status = 'running' AND claimed_by = $2 AND lease_expires_at > now()",
        )
        .bind(id)
        .bind(runner)
        .bind(secs(lease))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(renewed == 1)
    }

    /// `running → completed|failed` for the runner holding the claim, with its event.
    /// `false` when this runner no longer holds it.
    pub async fn finish(
        &self,
        tx: &mut PgConnection,
        action: &Action,
        runner: &str,
        finish: &Finish,
        correlation: Option<&str>,
    ) -> Result<bool, RunnerError> {
        let (status, result, error, kind) = match finish {
            Finish::Completed(r) => (ActionStatus::Completed, Some(r), None, None),
            Finish::Failed {
                result,
                reason,
                kind,
            } => (
                ActionStatus::Failed,
                result.as_ref(),
                Some(reason.as_str()),
                Some(kind.as_str()),
            ),
        };
        let finished_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "UPDATE action_executions
             SET status = $3, result = $4, error = $5, error_kind = $6,
                 completed_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'running' AND claimed_by = $2
             RETURNING completed_at",
        )
        .bind(action.id)
        .bind(runner)
        .bind(status.as_str())
        .bind(result.map(Json))
        .bind(error)
        .bind(kind)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(at) = finished_at else {
            return Ok(false);
        };
        let event = match finish {
            Finish::Completed(result) => Event::ActionCompleted(ActionCompleted {
                action: action.reference(),
                result: result.clone(),
                completed_at: at,
            }),
            Finish::Failed { reason, kind, .. } => Event::ActionFailed(ActionFailed {
                action: action.reference(),
                reason: reason.clone(),
                error_kind: Some(kind.clone()),
                failed_at: at,
            }),
        };
        emit(tx, event, correlation).await?;
        Ok(true)
    }

    /// Records the Jenkins trigger of a running action this runner holds, as soon as
    /// Jenkins answered: from now on the action can be followed by another runner if this
    /// one stops. `queue_id` is `None` for a stop (nothing to follow).
    pub async fn record_trigger(
        &self,
        id: i64,
        runner: &str,
        queue_id: Option<i64>,
        job: &str,
    ) -> Result<bool, RunnerError> {
        let recorded = sqlx::query(
            "UPDATE action_executions
             SET jenkins_queue_id = $3, jenkins_job = $4, triggered_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'running' AND claimed_by = $2",
        )
        .bind(id)
        .bind(runner)
        .bind(queue_id)
        .bind(job)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(recorded == 1)
    }

    /// Marks the Jenkins trigger of a running action this runner holds as about to be sent,
    /// right before its POST: if the runner is lost before Jenkins' answer is recorded, the
    /// reaper knows Jenkins may have acted and asks it instead of declaring the action lost.
    /// `false` when the action is no longer this runner's (then nothing may be sent).
    pub async fn mark_trigger_sent(
        &self,
        id: i64,
        runner: &str,
        job: &str,
        next_build: Option<i64>,
        params: &[(String, String)],
    ) -> Result<bool, RunnerError> {
        let marked = sqlx::query(
            "UPDATE action_executions
             SET trigger_sent_at = now(), jenkins_job = $3, trigger_next_build = $4,
                 trigger_params = $5, updated_at = now()
             WHERE id = $1 AND status = 'running' AND claimed_by = $2 AND lease_expires_at > now()",
        )
        .bind(id)
        .bind(runner)
        .bind(job)
        .bind(next_build.filter(|n| *n > 0))
        .bind(Json(params))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(marked == 1)
    }

    /// Hands a running action with a recorded trigger over at shutdown: its lease ends now,
    /// so the next reaper round (this runner restarted, or another replica) resumes
    /// following it. `false` when there was nothing to hand over.
    pub async fn release(&self, id: i64, runner: &str) -> Result<bool, RunnerError> {
        let released = sqlx::query(
            "UPDATE action_executions
             SET lease_expires_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'running' AND claimed_by = $2
               AND triggered_at IS NOT NULL",
        )
        .bind(id)
        .bind(runner)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(released == 1)
    }

    /// Takes over up to `limit` running actions whose lease expired after their trigger was
    /// recorded, or marked as sent: they become this runner's, with a fresh lease, to be
    /// followed to their end (or, when only sent, looked for in Jenkins first).
    pub async fn resume_expired(
        &self,
        limit: i64,
        runner: &str,
        lease: Duration,
    ) -> Result<Vec<Resumable>, RunnerError> {
        let rows: Vec<ResumableRow> = sqlx::query_as(concat!(
            "WITH orphan AS (
                 SELECT id AS orphan_id FROM action_executions
                 WHERE status = 'running' AND lease_expires_at < now()
                   AND (triggered_at IS NOT NULL OR trigger_sent_at IS NOT NULL)
                 ORDER BY lease_expires_at
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE action_executions
             SET claimed_by = $2, lease_expires_at = now() + make_interval(secs => $3),
                 updated_at = now()
             FROM orphan WHERE id = orphan.orphan_id
             RETURNING ",
            columns!(),
            ", jenkins_queue_id, jenkins_job, started_at, triggered_at IS NOT NULL AS triggered,
             trigger_next_build, trigger_params"
        ))
        .bind(limit)
        .bind(runner)
        .bind(secs(lease))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Resumable {
                    action: Action::try_from(r.row)?,
                    queue_id: r.jenkins_queue_id,
                    job: r.jenkins_job,
                    started_at: r.started_at,
                    in_doubt: (!r.triggered).then(|| InDoubt {
                        next_build: r.trigger_next_build,
                        params: r.trigger_params.map(|p| p.0).unwrap_or_default(),
                    }),
                })
            })
            .collect()
    }

    /// Marks up to `limit` running actions whose lease expired before their Jenkins trigger
    /// was even sent as failed with `reason`, and enqueues their `action.failed`. (Whether
    /// Jenkins acted is unknown for them; the ones with a recorded trigger are resumed
    /// instead, see [`ActionRepository::resume_expired`].) Replicas reaping at once skip
    /// each other's rows.
    pub async fn reap_expired(
        &self,
        tx: &mut PgConnection,
        limit: i64,
        reason: &str,
        kind: &str,
    ) -> Result<Vec<Action>, RunnerError> {
        let lost: Vec<LostRow> = sqlx::query_as(concat!(
            "WITH lost AS (
                 SELECT id AS lost_id FROM action_executions
                 WHERE status = 'running' AND lease_expires_at < now() AND triggered_at IS NULL
                   AND trigger_sent_at IS NULL
                 ORDER BY lease_expires_at
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE action_executions
             SET status = 'failed', error = $2, error_kind = $3, completed_at = now(),
                 updated_at = now()
             FROM lost WHERE id = lost.lost_id
             RETURNING ",
            columns!(),
            ", completed_at"
        ))
        .bind(limit)
        .bind(reason)
        .bind(kind)
        .fetch_all(&mut *tx)
        .await?;
        let mut actions = Vec::with_capacity(lost.len());
        for LostRow { row, completed_at } in lost {
            let action = Action::try_from(row)?;
            let event = Event::ActionFailed(ActionFailed {
                action: action.reference(),
                reason: reason.to_string(),
                error_kind: Some(kind.to_string()),
                failed_at: completed_at,
            });
            emit(tx, event, None).await?;
            actions.push(action);
        }
        Ok(actions)
    }
}

/// A running action whose runner stopped after triggering Jenkins, now this runner's.
#[derive(Debug, Clone, PartialEq)]
pub struct Resumable {
    pub action: Action,
    /// The queue item to follow; `None` for a stop (it had nothing to follow).
    pub queue_id: Option<i64>,
    /// The job that was triggered (the rollback job for a rollback).
    pub job: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    /// `Some` when the trigger was sent but Jenkins' answer never recorded: whether Jenkins
    /// acted must be found out from Jenkins.
    pub in_doubt: Option<InDoubt>,
}

/// What was about to be sent to Jenkins when the runner was lost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InDoubt {
    /// The triggered job's `nextBuildNumber` right before the POST.
    pub next_build: Option<i64>,
    pub params: Vec<(String, String)>,
}

#[derive(sqlx::FromRow)]
struct ResumableRow {
    #[sqlx(flatten)]
    row: ActionRow,
    jenkins_queue_id: Option<i64>,
    jenkins_job: Option<String>,
    started_at: Option<DateTime<Utc>>,
    triggered: bool,
    trigger_next_build: Option<i64>,
    trigger_params: Option<Json<Vec<(String, String)>>>,
}

#[derive(sqlx::FromRow)]
struct LostRow {
    #[sqlx(flatten)]
    row: ActionRow,
    completed_at: DateTime<Utc>,
}

/// Writes `event` to the outbox in the caller's transaction.
async fn emit(
    tx: &mut PgConnection,
    event: Event,
    correlation: Option<&str>,
) -> Result<(), RunnerError> {
    let mut env = Envelope::new(SERVICE, event);
    if let Some(c) = correlation {
        env = env.correlated(c);
    }
    store::outbox::enqueue(tx, SERVICE, &env).await?;
    Ok(())
}
