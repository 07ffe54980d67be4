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
use domain::commands::Action;
use domain::events::{ActionApproved, ActionRejected, ActionRequested};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::ActionService;
use crate::error::ServiceError;
use crate::events::{Actor, audit, message};
use crate::repo::actions as repo;
use crate::settings::SERVICE;

/// Who rejects expired actions (`rejected_by`, `action.rejected`).
pub const REJECTED_BY: &str = "system";

/// Set on a re-published request, for consumers that notify people and would rather not
/// announce the same request twice.
pub const REPUBLISHED_HEADER: &str = "x-runbooks-republished";

/// Rows handled per transaction.
const BATCH: i64 = 100;

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub republished: usize,
    pub expired: usize,
}

impl ActionService {
    /// Sweeps every `action_sweep.interval_secs` until `cancel`.
    pub async fn run_sweeps(self, cancel: CancellationToken) {
        let every = Duration::from_secs(self.sweep.interval_secs.max(1));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            match self.sweep_once().await {
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
    pub async fn sweep_once(&self) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        loop {
            let n = self.expire_batch().await?;
            report.expired += n;
            if (n as i64) < BATCH {
                break;
            }
        }
        loop {
            let n = self.republish_batch().await?;
            report.republished += n;
            if (n as i64) < BATCH {
                break;
            }
        }
        Ok(report)
    }

    async fn expire_batch(&self) -> Result<usize, ServiceError> {
        let s = &self.sweep;
        let reason = format!(
            "expired: not claimed within {}",
            human(Duration::from_secs(s.expire_after_secs))
        );
        let mut tx = self.base.pool.begin().await?;
        let ids = repo::expire_unclaimed(&mut tx, s.expire_after_secs, BATCH, REJECTED_BY, &reason)
            .await?;
        let actor = Actor::system("action-sweep");
        let mut events = Vec::with_capacity(ids.len() * 2);
        for id in &ids {
            let row = get(&mut tx, *id).await?;
            warn!(action_id = id, job = %row.target_job, reason, "action expired unclaimed");
            events.push(message(ActionRejected {
                action: row.reference(),
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

    async fn republish_batch(&self) -> Result<usize, ServiceError> {
        let mut tx = self.base.pool.begin().await?;
        let ids = repo::requeue_unclaimed(&mut tx, self.sweep.republish_after_secs, BATCH).await?;
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
}

/// The event a runner acts on for `row`, marked as a re-publication.
fn request_again(row: &Action) -> OutgoingMessage {
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

async fn get(tx: &mut PgConnection, id: i64) -> Result<Action, ServiceError> {
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
