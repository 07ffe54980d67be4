//! RunbookPageRepository: `runbook_pages` (the orchestrator owns it), the pages escalations
//! send. A page is claimed for a call in its own committed statement before the call and
//! finished after it, the claim/lease discipline of actions.

use chrono::{DateTime, Utc};
use domain::runbooks::RunbookPage;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};

use super::col;

/// A page as the pager sends it.
#[derive(Debug, Clone)]
pub struct PageRow {
    pub id: i64,
    pub run_id: i64,
    pub step_id: Option<i64>,
    pub target: String,
    pub event_action: String,
    pub severity: String,
    pub dedup_key: String,
    pub payload: serde_json::Value,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl PageRow {
    pub fn view(self) -> RunbookPage {
        RunbookPage {
            target: self.target,
            event_action: self.event_action,
            severity: self.severity,
            dedup_key: self.dedup_key,
            status: self.status,
            attempts: self.attempts,
            last_error: self.last_error,
            sent_at: self.sent_at,
        }
    }
}

fn page_row(r: PgRow) -> Result<PageRow, sqlx::Error> {
    Ok(PageRow {
        id: col(&r, "id")?,
        run_id: col(&r, "run_id")?,
        step_id: col(&r, "step_id")?,
        target: col(&r, "target")?,
        event_action: col(&r, "event_action")?,
        severity: col(&r, "severity")?,
        dedup_key: col(&r, "dedup_key")?,
        payload: col(&r, "payload")?,
        status: col(&r, "status")?,
        attempts: col(&r, "attempts")?,
        last_error: col(&r, "last_error")?,
        sent_at: col(&r, "sent_at")?,
    })
}

pub struct NewPage<'a> {
    pub run_id: i64,
    pub step_id: Option<i64>,
    pub target: &'a str,
    pub severity: &'a str,
    pub dedup_key: &'a str,
    pub payload: &'a serde_json::Value,
}

/// A `trigger` page, once per dedup key and target (a repeated transition adds nothing).
pub async fn insert_trigger(tx: &mut PgConnection, n: &NewPage<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO runbook_pages (run_id, step_id, target, event_action, severity, dedup_key, payload)
         VALUES ($1, $2, $3, 'trigger', $4, $5, $6)
         ON CONFLICT (dedup_key, target, event_action) DO NOTHING",
    )
    .bind(n.run_id)
    .bind(n.step_id)
    .bind(n.target)
    .bind(n.severity)
    .bind(n.dedup_key)
    .bind(n.payload)
    .execute(tx)
    .await?;
    Ok(())
}

/// The pages of one escalate step.
pub async fn of_step(tx: &mut PgConnection, step_id: i64) -> Result<Vec<PageRow>, sqlx::Error> {
    sqlx::query("SELECT * FROM runbook_pages WHERE step_id = $1 ORDER BY id")
        .bind(step_id)
        .try_map(page_row)
        .fetch_all(tx)
        .await
}

/// The pages of a run, as REST shows them.
pub async fn of_run(pool: &PgPool, run_id: i64) -> Result<Vec<RunbookPage>, sqlx::Error> {
    sqlx::query("SELECT * FROM runbook_pages WHERE run_id = $1 ORDER BY id")
        .bind(run_id)
        .try_map(page_row)
        .fetch_all(pool)
        .await
        .map(|rows| rows.into_iter().map(PageRow::view).collect())
}

/// A `resolve` page for every PagerDuty page sent whose incident has since been resolved.
pub async fn queue_resolves(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO runbook_pages (run_id, step_id, target, event_action, severity, dedup_key, payload)
         SELECT p.run_id, p.step_id, p.target, 'resolve', p.severity, p.dedup_key, '{}'::jsonb
         FROM runbook_pages p
         JOIN runbook_runs r ON r.id = p.run_id
         JOIN incidents i ON i.id = r.incident_id
         WHERE p.target = 'pagerduty' AND p.event_action = 'trigger' AND p.status = 'sent'
           AND i.status = 'resolved'
         ON CONFLICT (dedup_key, target, event_action) DO NOTHING",
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}

/// Claims the page due the longest (pending and due, or sending with its lease run out) for
/// one call: committed before the call, so a second pass leaves it alone for `lease_secs`.
pub async fn claim(pool: &PgPool, lease_secs: u64) -> Result<Option<PageRow>, sqlx::Error> {
    sqlx::query(
        "UPDATE runbook_pages SET status = 'sending', attempts = attempts + 1,
             lease_expires_at = now() + make_interval(secs => $1),
             next_attempt_at = now() + make_interval(secs => $1)
         WHERE id = (SELECT id FROM runbook_pages
                     WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
                     ORDER BY next_attempt_at, id LIMIT 1
                     FOR UPDATE SKIP LOCKED)
         RETURNING *",
    )
    .bind(lease_secs as f64)
    .try_map(page_row)
    .fetch_optional(pool)
    .await
}

/// How a call ended.
pub enum Finish<'a> {
    Sent(&'a serde_json::Value),
    /// Try again after `secs`.
    Retry {
        error: &'a str,
        secs: f64,
    },
    Failed(&'a str),
}

/// Records the call's outcome for the claim `attempts` made, and wakes the run. A claim
/// taken over meanwhile (lease ran out) is left to its new holder.
pub async fn finish(pool: &PgPool, page: &PageRow, how: Finish<'_>) -> Result<bool, sqlx::Error> {
    let (status, error, response, secs) = match how {
        Finish::Sent(r) => ("sent", None, Some(r), 0.0),
        Finish::Retry { error, secs } => ("pending", Some(error), None, secs),
        Finish::Failed(e) => ("failed", Some(e), None, 0.0),
    };
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE runbook_pages SET status = $3, last_error = $4, response = $5,
             lease_expires_at = NULL,
             next_attempt_at = now() + make_interval(secs => $6),
             sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END
         WHERE id = $1 AND attempts = $2 AND status = 'sending'",
    )
    .bind(page.id)
    .bind(page.attempts)
    .bind(status)
    .bind(error)
    .bind(response)
    .bind(secs)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if done && status != "pending" {
        sqlx::query(
            "UPDATE runbook_runs SET next_wake_at = now() WHERE id = $1 AND status = 'running'",
        )
        .bind(page.run_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(done)
}
