//! No action stays unclaimed for ever. A request can miss every runner: its event was
//! dead-lettered during an outage, no runner was running, a broker lost it. Periodically,
//! rows still `requested` or `approved`:
//!
//! - waiting longer than `action_sweep.republish_after_secs` (since they were created or
//!   approved, or last re-published) get their `action.requested` / `action.approved`
//!   published again through the outbox; the runner's claim is a guarded transition, so a
//!   duplicate delivery never runs an action twice;
//! - waiting longer than `action_sweep.expire_after_secs` are `rejected` by `system` with
//!   `rejection_reason` "expired: not claimed within …" and an `action.rejected`, which
//!   updates their incident like any rejection.
//!
//! Any number of replicas may sweep at once: rows are taken with `FOR UPDATE SKIP LOCKED`
//! and the re-publication time is recorded in the same transaction as its event.

use std::time::Duration;

use bus::OutgoingMessage;
use domain::ActionStatus;
use domain::events::{ActionApproved, ActionRejected, ActionRequested};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::action_ref;
use crate::core::Core;
use crate::error::ServiceError;
use crate::events::{Actor, audit, message};
use crate::repo::actions::{self as repo, ActionRow};
use crate::settings::SERVICE;

/// Who rejects expired actions (`rejected_by`, `action.rejected`).
pub const REJECTED_BY: &str = "system";

/// Set on a re-published request, for consumers that notify people and would rather not
/// announce the same request twice.
pub const REPUBLISHED_HEADER: &str = "x-runbooks-republished";

/// Rows handled per transaction.
const BATCH: i64 = 100;

/// When a row started waiting for a runner.
const WAITING_SINCE: &str =
    "CASE WHEN status = 'approved' THEN COALESCE(approved_at, created_at) ELSE created_at END";

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub republished: usize,
    pub expired: usize,
}

pub async fn run(core: Core, cancel: CancellationToken) {
    let every = Duration::from_secs(core.settings.action_sweep.interval_secs.max(1));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        match sweep_once(&core).await {
            Ok(r) if r == SweepReport::default() => {}
            Ok(r) => info!(
                republished = r.republished,
                expired = r.expired,
                "unclaimed actions swept"
            ),
            Err(e) => warn!(error = %e, "action sweep failed"),
        }
    }
}

/// Expires, then re-publishes, every due row.
pub async fn sweep_once(core: &Core) -> Result<SweepReport, ServiceError> {
    let mut report = SweepReport::default();
    loop {
        let n = expire_batch(core).await?;
        report.expired += n;
        if (n as i64) < BATCH {
            break;
        }
    }
    loop {
        let n = republish_batch(core).await?;
        report.republished += n;
        if (n as i64) < BATCH {
            break;
        }
    }
    Ok(report)
}

async fn expire_batch(core: &Core) -> Result<usize, ServiceError> {
    let s = &core.settings.action_sweep;
    let reason = format!(
        "expired: not claimed within {}",
        human(Duration::from_secs(s.expire_after_secs))
    );
    let mut tx = core.pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(&format!(
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
    .bind(s.expire_after_secs as f64)
    .bind(BATCH)
    .bind(REJECTED_BY)
    .bind(&reason)
    .fetch_all(&mut *tx)
    .await?;
    let actor = Actor::system("action-sweep");
    let mut events = Vec::with_capacity(ids.len() * 2);
    for id in &ids {
        let row = get(&mut tx, *id).await?;
        warn!(action_id = id, job = %row.target_job, reason, "action expired unclaimed");
        events.push(message(ActionRejected {
            action: action_ref(&row),
            reason: reason.clone(),
            rejected_by: REJECTED_BY.into(),
            rejected_at: row.updated_at,
        }));
        events.push(audit(
            &actor,
            "action.expire",
            "action",
            id,
            Some(serde_json::json!({"reason": reason})),
        ));
    }
    store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
    tx.commit().await?;
    Ok(ids.len())
}

async fn republish_batch(core: &Core) -> Result<usize, ServiceError> {
    let s = &core.settings.action_sweep;
    let mut tx = core.pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(&format!(
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
    .bind(s.republish_after_secs as f64)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let mut events = Vec::with_capacity(ids.len());
    for id in &ids {
        let row = get(&mut tx, *id).await?;
        info!(action_id = id, status = %row.status, "unclaimed action, request published again");
        events.push(request_again(&row));
    }
    store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
    tx.commit().await?;
    Ok(ids.len())
}

/// The event a runner acts on for `row`, marked as a re-publication.
fn request_again(row: &ActionRow) -> OutgoingMessage {
    let mut msg = if row.status() == ActionStatus::Approved {
        message(ActionApproved {
            action: row.summary(),
            approved_by: row.approved_by.clone().unwrap_or_default(),
            approved_at: row.approved_at.unwrap_or(row.updated_at),
        })
    } else {
        message(ActionRequested {
            action: row.summary(),
        })
    };
    msg.headers
        .insert(REPUBLISHED_HEADER.into(), "unclaimed".into());
    msg
}

async fn get(tx: &mut PgConnection, id: i64) -> Result<ActionRow, ServiceError> {
    repo::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("action {id} vanished during the sweep")))
}

/// `90 s`, `5 min`, `2 h`: the expiry as people configure it.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_read_as_configured() {
        assert_eq!(human(Duration::from_secs(3600)), "1 h");
        assert_eq!(human(Duration::from_secs(300)), "5 min");
        assert_eq!(human(Duration::from_secs(90)), "90 s");
    }
}
