//! The lease reaper: an action still `running` after its lease expired lost its runner (it
//! crashed, was killed mid-action, or stopped and handed it over).
//!
//! - If its Jenkins trigger was recorded, Jenkins' side is known: the reaper takes the
//!   action over and follows the queue item to the end, as its runner would have.
//! - Otherwise it is marked failed with "runner lost" and never run again automatically:
//!   whether Jenkins acted is unknown, and a person should look.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::error::RunnerError;
use crate::executor::ActionExecutor;
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
    executor: ActionExecutor,
    /// Actions taken over, followed until they end (or are handed over again at shutdown).
    resumed: JoinSet<()>,
}

impl LeaseReaper {
    pub fn new(
        repo: ActionRepository,
        metrics: RunnerMetrics,
        interval: Duration,
        executor: ActionExecutor,
    ) -> Self {
        LeaseReaper {
            repo,
            metrics,
            interval,
            executor,
            resumed: JoinSet::new(),
        }
    }

    /// Takes over every triggered action whose lease expired and follows each in the
    /// background; returns how many.
    pub async fn resume_once(&mut self) -> Result<usize, RunnerError> {
        let mut total = 0;
        loop {
            let taken = self.executor.take_over_expired(BATCH).await?;
            let n = taken.len();
            for r in taken {
                info!(
                    action_id = r.action.id,
                    queue_id = ?r.queue_id,
                    "taking over a triggered action whose runner stopped"
                );
                let executor = self.executor.clone();
                self.resumed.spawn(async move {
                    executor.resume(r).await;
                });
            }
            total += n;
            if (n as i64) < BATCH {
                return Ok(total);
            }
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

    /// Reaps and takes over at start-up, then every interval, until `cancel`; then lets
    /// the actions it took over finish or hand themselves over.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {
                    match self.reap_once().await {
                        Ok(0) => {}
                        Ok(n) => info!(lost = n, "expired leases reaped"),
                        Err(e) => warn!(error = %e, "lease reaping failed"),
                    }
                    match self.resume_once().await {
                        Ok(0) => {}
                        Ok(n) => info!(resumed = n, "triggered actions taken over"),
                        Err(e) => warn!(error = %e, "taking over triggered actions failed"),
                    }
                    while self.resumed.try_join_next().is_some() {}
                }
            }
        }
        if !self.resumed.is_empty() {
            info!(
                in_flight = self.resumed.len(),
                "draining actions taken over"
            );
        }
        while self.resumed.join_next().await.is_some() {}
    }
}
