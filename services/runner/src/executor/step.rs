//! What surrounds the one call that changes Jenkins: the lease is checked right before it
//! (a runner whose claim was taken over never calls Jenkins), and what Jenkins answered is
//! recorded right after it (a runner that stops can hand the action over instead of
//! leaving it to be declared lost).

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use crate::repo::ActionRepository;

/// One action's run, as the Jenkins side of the executor sees it.
pub struct Step<'a> {
    pub repo: &'a ActionRepository,
    pub id: i64,
    pub runner: &'a str,
    pub lease: Duration,
    /// Fires shortly before the shutdown grace runs out: follow no longer, hand over.
    pub deadline: &'a CancellationToken,
}

/// Whether this runner may call Jenkins for the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Held,
    /// Expired, taken over or declared lost: Jenkins must not be called.
    Lost,
    /// The database did not answer: whether it is held is unknown, so Jenkins is not called.
    Unknown,
}

impl Step<'_> {
    /// Renews the lease, which succeeds only while it is held and unexpired. Database
    /// trouble is retried for up to a third of the lease.
    pub async fn check_lease(&self) -> Lease {
        let deadline = Instant::now() + self.lease / 3;
        let mut pause = Duration::from_millis(50);
        loop {
            match self
                .repo
                .renew_lease(self.id, self.runner, self.lease)
                .await
            {
                Ok(true) => return Lease::Held,
                Ok(false) => return Lease::Lost,
                Err(e) if Instant::now() + pause < deadline => {
                    warn!(action_id = self.id, error = %e, "cannot check the lease, retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(e) => {
                    error!(action_id = self.id, error = %e, "cannot check the lease");
                    return Lease::Unknown;
                }
            }
        }
    }

    /// Marks the trigger as about to be sent. Only a `Held` answer allows the POST: an
    /// unmarked trigger lost with its runner would be reported as "nothing ran".
    pub async fn mark_trigger_sent(
        &self,
        job: &str,
        next_build: Option<i64>,
        params: &[(String, String)],
    ) -> Lease {
        let deadline = Instant::now() + self.lease / 3;
        let mut pause = Duration::from_millis(50);
        loop {
            match self
                .repo
                .mark_trigger_sent(self.id, self.runner, job, next_build, params)
                .await
            {
                Ok(true) => return Lease::Held,
                Ok(false) => return Lease::Lost,
                Err(e) if Instant::now() + pause < deadline => {
                    warn!(action_id = self.id, error = %e, "cannot mark the trigger as sent, retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(e) => {
                    error!(action_id = self.id, error = %e, "cannot mark the trigger as sent");
                    return Lease::Unknown;
                }
            }
        }
    }

    /// Stores what Jenkins answered. Retried for up to half a lease; without it a runner
    /// stopping mid-follow can only leave the action to be declared lost.
    pub async fn record_trigger(&self, queue_id: Option<i64>, job: &str) {
        let deadline = Instant::now() + self.lease / 2;
        let mut pause = Duration::from_millis(50);
        loop {
            match self
                .repo
                .record_trigger(self.id, self.runner, queue_id, job)
                .await
            {
                Ok(true) => return,
                Ok(false) => {
                    warn!(
                        action_id = self.id,
                        "the trigger could not be recorded: the action is no longer ours"
                    );
                    return;
                }
                Err(e) if Instant::now() + pause < deadline => {
                    warn!(action_id = self.id, error = %e, "cannot record the trigger, retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    error!(
                        action_id = self.id,
                        error = %e,
                        "cannot record the trigger; if this runner stops before the end, the action will be declared lost"
                    );
                    return;
                }
            }
        }
    }
}
