//! RunbookApprovalRepository: `runbook_step_approvals` (the orchestrator owns it), who
//! approved a run's `approve` step, and the run's row locked for an approval.

use domain::Channel;
use sqlx::PgConnection;

use super::runbooks::{RunRow, StepRow};

/// The run's row, locked until the transaction ends (waits for a conductor holding it).
pub async fn lock_run(tx: &mut PgConnection, id: i64) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query("SELECT * FROM runbook_runs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .try_map(super::runbooks::run_row)
        .fetch_optional(tx)
        .await
}

/// The run's current step row, when it is running.
pub async fn running_step(
    tx: &mut PgConnection,
    run: &RunRow,
) -> Result<Option<StepRow>, sqlx::Error> {
    let Some(seq) = run.current_seq.filter(|s| *s > 0) else {
        return Ok(None);
    };
    let step = super::runbooks::step(tx, run.id, seq).await?;
    Ok(step.filter(|s| s.status == "running"))
}

/// Who approved the step so far, in order.
pub async fn approvers(tx: &mut PgConnection, step_id: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT approver FROM runbook_step_approvals WHERE step_id = $1 ORDER BY approved_at, approver_key",
    )
    .bind(step_id)
    .fetch_all(tx)
    .await
}

pub struct NewApproval<'a> {
    pub step_id: i64,
    pub key: &'a str,
    pub approver: &'a str,
    pub via: Option<&'a str>,
    pub channel: Channel,
}

/// Records an approval; false when this approver already approved the step.
pub async fn add(tx: &mut PgConnection, a: &NewApproval<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO runbook_step_approvals (step_id, approver_key, approver, via, channel)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(a.step_id)
    .bind(a.key)
    .bind(a.approver)
    .bind(a.via)
    .bind(a.channel.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The conductor looks at the run now (its gate may be open).
pub async fn wake(tx: &mut PgConnection, run_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE runbook_runs SET next_wake_at = now() WHERE id = $1 AND status = 'running'",
    )
    .bind(run_id)
    .execute(tx)
    .await?;
    Ok(())
}
