//! The lease reaper: an action still `running` after its lease expired lost its runner (it
//! crashed or was killed mid-action). It is marked failed with "runner lost" and never run
//! again automatically: whether Jenkins acted is unknown, and a person should look.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::error::RunnerError;
use crate::metrics::RunnerMetrics;
use crate::repo::ActionRepository;

pub const LOST_REASON: &str = "runner lost";
pub const LOST_KIND: &str = "runner_lost";

/// Rows marked per transaction.
const BATCH: i64 = 100;

pub struct LeaseReaper {
    repo: ActionRepository,
    metrics: RunnerMetrics,
    interval: Duration,
}

impl LeaseReaper {
    pub fn new(repo: ActionRepository, metrics: RunnerMetrics, interval: Duration) -> Self {
        LeaseReaper {
            repo,
            metrics,
            interval,
        }
    }

    /// Marks every expired action lost; returns how many.
    pub async fn reap_once(&self) -> Result<usize, RunnerError> {
        let mut total = 0;
        loop {
            let mut tx = self.repo.begin().await?;
            let lost = self
                .repo
                .reap_expired(&mut tx, BATCH, LOST_REASON, LOST_KIND)
                .await?;
            tx.commit().await?;
            for a in &lost {
                warn!(
                    action_id = a.id,
                    job = %a.target_job,
                    runner = a.claimed_by.as_deref().unwrap_or(""),
                    "lease expired: action marked failed, runner lost"
                );
                self.metrics
                    .actions
                    .with_label_values(&[a.action_type.as_str(), "failed"])
                    .inc();
            }
            self.metrics
                .lost
                .with_label_values::<&str>(&[])
                .inc_by(lost.len() as u64);
            total += lost.len();
            if (lost.len() as i64) < BATCH {
                return Ok(total);
            }
        }
    }

    /// Reaps at start-up, then every interval, until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => match self.reap_once().await {
                    Ok(0) => {}
                    Ok(n) => info!(lost = n, "expired leases reaped"),
                    Err(e) => warn!(error = %e, "lease reaping failed"),
                },
            }
        }
    }
}
