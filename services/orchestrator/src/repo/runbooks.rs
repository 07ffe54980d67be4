//! RunbookRunRepository: the orchestrator's statements on `runbook_runs` and
//! `runbook_steps` (it owns both), and the reads of ingested Jenkins logs that runbook
//! verifications are decided on.
//!
//! The conductor holds a run's row (`FOR UPDATE SKIP LOCKED`) for the whole of one step
//! transition: every write below runs in that transaction.

use chrono::{DateTime, Utc};
use domain::runbooks::{RunbookRun, RunbookStep};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::col;

/// A run as the conductor needs it.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: i64,
    pub runbook: String,
    pub definition: Option<serde_json::Value>,
    pub incident_id: i64,
    pub principal: String,
    pub started_by: String,
    pub current_step: Option<i32>,
    pub current_seq: Option<i32>,
    pub context: serde_json::Value,
    pub transitions: i32,
}

pub(super) fn run_row(r: PgRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        id: col(&r, "id")?,
        runbook: col(&r, "runbook")?,
        definition: col(&r, "definition")?,
        incident_id: col(&r, "incident_id")?,
        principal: col(&r, "principal")?,
        started_by: col(&r, "started_by")?,
        current_step: col(&r, "current_step")?,
        current_seq: col(&r, "current_seq")?,
        context: col(&r, "context")?,
        transitions: col(&r, "transitions")?,
    })
}

/// A step row as the conductor needs it.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub id: i64,
    pub seq: i32,
    pub step: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub action_id: Option<i64>,
    pub details: serde_json::Value,
}

fn step_row(r: PgRow) -> Result<StepRow, sqlx::Error> {
    Ok(StepRow {
        id: col(&r, "id")?,
        seq: col(&r, "seq")?,
        step: col(&r, "step")?,
        status: col(&r, "status")?,
        started_at: col(&r, "started_at")?,
        deadline_at: col(&r, "deadline_at")?,
        action_id: col(&r, "action_id")?,
        details: col(&r, "details")?,
    })
}

pub struct NewRun<'a> {
    pub runbook: &'a str,
    pub incident_id: i64,
    pub principal: &'a str,
    pub started_by: &'a str,
    pub context: serde_json::Value,
    pub start_key: &'a str,
}

/// What [`insert_run`] did.
pub enum Inserted {
    New(i64),
    /// The start key was used before: that run.
    Again(i64),
    /// The incident already has a running run.
    Busy(i64),
}

/// Creates a run due now, with no step begun yet (the conductor begins the first).
pub async fn insert_run(tx: &mut PgConnection, n: &NewRun<'_>) -> Result<Inserted, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO runbook_runs (runbook, incident_id, principal, started_by, status, current_step,
                                   current_seq, next_wake_at, context, start_key)
         VALUES ($1, $2, $3, $4, 'running', 0, 0, now(), $5, $6)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(n.runbook)
    .bind(n.incident_id)
    .bind(n.principal)
    .bind(n.started_by)
    .bind(&n.context)
    .bind(n.start_key)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = id {
        return Ok(Inserted::New(id));
    }
    let again: Option<i64> = sqlx::query_scalar("SELECT id FROM runbook_runs WHERE start_key = $1")
        .bind(n.start_key)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(id) = again {
        return Ok(Inserted::Again(id));
    }
    let busy: i64 = sqlx::query_scalar(
        "SELECT id FROM runbook_runs WHERE incident_id = $1 AND status = 'running'",
    )
    .bind(n.incident_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Inserted::Busy(busy))
}

/// The running run that is due the longest, locked for this transaction; runs another
/// conductor holds are skipped.
pub async fn claim_due(tx: &mut PgConnection) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query(
        "SELECT * FROM runbook_runs
         WHERE status = 'running' AND next_wake_at <= now()
         ORDER BY next_wake_at, id LIMIT 1
         FOR UPDATE SKIP LOCKED",
    )
    .try_map(run_row)
    .fetch_optional(tx)
    .await
}

/// Stores the runbook the run follows from now on.
pub async fn bind_definition(
    tx: &mut PgConnection,
    id: i64,
    version: i32,
    definition: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE runbook_runs SET runbook_version = $2, definition = $3, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(version)
    .bind(definition)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn step(
    tx: &mut PgConnection,
    run_id: i64,
    seq: i32,
) -> Result<Option<StepRow>, sqlx::Error> {
    sqlx::query("SELECT * FROM runbook_steps WHERE run_id = $1 AND seq = $2")
        .bind(run_id)
        .bind(seq)
        .try_map(step_row)
        .fetch_optional(tx)
        .await
}

pub struct NewStep<'a> {
    pub run_id: i64,
    pub seq: i32,
    pub step: &'a str,
    pub kind: &'a str,
    pub deadline_secs: Option<u64>,
}

pub async fn insert_step(tx: &mut PgConnection, n: &NewStep<'_>) -> Result<StepRow, sqlx::Error> {
    sqlx::query(
        "INSERT INTO runbook_steps (run_id, seq, step, kind, status, deadline_at)
         VALUES ($1, $2, $3, $4, 'running',
                 CASE WHEN $5::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $5::float8) END)
         RETURNING *",
    )
    .bind(n.run_id)
    .bind(n.seq)
    .bind(n.step)
    .bind(n.kind)
    .bind(n.deadline_secs.map(|s| s as f64))
    .try_map(step_row)
    .fetch_one(tx)
    .await
}

/// Records what a step decided (who acted, the clause) and the action it requested.
pub async fn record_decision(
    tx: &mut PgConnection,
    step_id: i64,
    action_id: Option<i64>,
    decision: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE runbook_steps SET action_id = $2, decision = $3 WHERE id = $1")
        .bind(step_id)
        .bind(action_id)
        .bind(decision)
        .execute(tx)
        .await?;
    Ok(())
}

/// `running → succeeded | failed | timed_out`, merging `details`.
pub async fn finish_step(
    tx: &mut PgConnection,
    step_id: i64,
    status: &str,
    details: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE runbook_steps SET status = $2, finished_at = now(), details = details || $3
         WHERE id = $1 AND status = 'running'",
    )
    .bind(step_id)
    .bind(status)
    .bind(details)
    .execute(tx)
    .await?;
    Ok(())
}

/// Moves the run on: its step, the step's row, when to look again, what it carries.
pub async fn update_run(
    tx: &mut PgConnection,
    id: i64,
    current_step: i32,
    current_seq: i32,
    wake_in_secs: f64,
    context: &serde_json::Value,
    transitions: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE runbook_runs SET current_step = $2, current_seq = $3,
             next_wake_at = now() + make_interval(secs => $4), context = $5, transitions = $6,
             updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(current_step)
    .bind(current_seq)
    .bind(wake_in_secs)
    .bind(context)
    .bind(transitions)
    .execute(tx)
    .await?;
    Ok(())
}

/// Sets only when the run is looked at next (a step still waiting).
pub async fn snooze(tx: &mut PgConnection, id: i64, secs: f64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE runbook_runs SET next_wake_at = now() + make_interval(secs => $2) WHERE id = $1",
    )
    .bind(id)
    .bind(secs)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn finish_run(
    tx: &mut PgConnection,
    id: i64,
    status: &str,
    outcome: &str,
    context: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE runbook_runs SET status = $2, outcome = $3, context = $4, next_wake_at = NULL,
             finished_at = now(), updated_at = now()
         WHERE id = $1 AND status = 'running'",
    )
    .bind(id)
    .bind(status)
    .bind(outcome)
    .bind(context)
    .execute(tx)
    .await?;
    Ok(())
}

fn run_view(r: PgRow) -> Result<RunbookRun, sqlx::Error> {
    let definition: Option<serde_json::Value> = col(&r, "definition")?;
    let index: Option<i32> = col(&r, "current_step")?;
    let current_step = definition
        .as_ref()
        .zip(index)
        .and_then(|(d, i)| d["steps"][i as usize]["name"].as_str().map(str::to_string));
    Ok(RunbookRun {
        id: col(&r, "id")?,
        runbook: col(&r, "runbook")?,
        runbook_version: col(&r, "runbook_version")?,
        incident_id: col(&r, "incident_id")?,
        principal: col(&r, "principal")?,
        started_by: col(&r, "started_by")?,
        status: col(&r, "status")?,
        current_step,
        next_wake_at: col(&r, "next_wake_at")?,
        outcome: col(&r, "outcome")?,
        created_at: col(&r, "created_at")?,
        updated_at: col(&r, "updated_at")?,
        finished_at: col(&r, "finished_at")?,
        steps: Vec::new(),
        pages: Vec::new(),
    })
}

fn step_view(r: PgRow) -> Result<RunbookStep, sqlx::Error> {
    Ok(RunbookStep {
        seq: col(&r, "seq")?,
        step: col(&r, "step")?,
        kind: col(&r, "kind")?,
        status: col(&r, "status")?,
        started_at: col(&r, "started_at")?,
        finished_at: col(&r, "finished_at")?,
        deadline_at: col(&r, "deadline_at")?,
        action_id: col(&r, "action_id")?,
        decision: col(&r, "decision")?,
        details: col(&r, "details")?,
    })
}

pub async fn list(
    db: impl sqlx::PgExecutor<'_>,
    incident_id: Option<i64>,
) -> Result<Vec<RunbookRun>, sqlx::Error> {
    sqlx::query(
        "SELECT * FROM runbook_runs WHERE ($1::int8 IS NULL OR incident_id = $1)
         ORDER BY id DESC LIMIT 200",
    )
    .bind(incident_id)
    .try_map(run_view)
    .fetch_all(db)
    .await
}

pub async fn get(pool: &sqlx::PgPool, id: i64) -> Result<Option<RunbookRun>, sqlx::Error> {
    let Some(mut run) = sqlx::query("SELECT * FROM runbook_runs WHERE id = $1")
        .bind(id)
        .try_map(run_view)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    run.steps = sqlx::query("SELECT * FROM runbook_steps WHERE run_id = $1 ORDER BY seq")
        .bind(id)
        .try_map(step_view)
        .fetch_all(pool)
        .await?;
    run.pages = super::pages::of_run(pool, id).await?;
    Ok(Some(run))
}

/// Whether an action was requested by a runbook step (its result then moves the run, not
/// the incident).
pub async fn is_step_action(
    db: impl sqlx::PgExecutor<'_>,
    action_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM runbook_steps WHERE action_id = $1)")
        .bind(action_id)
        .fetch_one(db)
        .await
}

// ------------------------------------------------------------ what verifications read

/// How a Jenkins build ended, as its ingested log lines say.
const FINISHED: &str = "CASE
    WHEN message LIKE '%Finished: SUCCESS%' OR message LIKE '%BUILD SUCCESS%' THEN 'SUCCESS'
    WHEN message LIKE '%Finished: FAILURE%' OR message LIKE '%BUILD FAILED%' THEN 'FAILURE'
    WHEN message LIKE '%Finished: ABORTED%' THEN 'ABORTED'
    WHEN message LIKE '%Finished: UNSTABLE%' THEN 'UNSTABLE'
    END";

/// The highest build number of `job` in the ingested logs.
pub async fn latest_build(tx: &mut PgConnection, job: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(build_number) FROM logs_jenkins WHERE job_name = $1")
        .bind(job)
        .fetch_one(tx)
        .await
}

/// The first build of `job` after `after` that finished, and how.
pub async fn first_finished_after(
    tx: &mut PgConnection,
    job: &str,
    after: i64,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let sql = format!(
        "SELECT build_number, result FROM (
             SELECT build_number, {FINISHED} AS result FROM logs_jenkins
             WHERE job_name = $1 AND build_number > $2
         ) f WHERE result IS NOT NULL ORDER BY build_number LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(job)
        .bind(after)
        .fetch_optional(tx)
        .await?;
    row.map(|r| Ok((r.try_get("build_number")?, r.try_get("result")?)))
        .transpose()
}

/// The job's last build that finished `SUCCESS`, as the ingested logs say.
pub async fn last_success(tx: &mut PgConnection, job: &str) -> Result<Option<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT max(build_number) FROM logs_jenkins WHERE job_name = $1 AND ({FINISHED}) = 'SUCCESS'"
    );
    sqlx::query_scalar(&sql).bind(job).fetch_one(tx).await
}

/// Wakes the run whose step waits for this action (an action result arrived).
pub async fn wake_for_action(tx: &mut PgConnection, action_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE runbook_runs r SET next_wake_at = now()
         FROM runbook_steps s
         WHERE s.action_id = $1 AND s.run_id = r.id AND s.status = 'running' AND r.status = 'running'",
    )
    .bind(action_id)
    .execute(tx)
    .await?;
    Ok(())
}
