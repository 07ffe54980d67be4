//! Polling: a queue item until it starts a build, a build until it finishes.

use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;

use super::client::{JenkinsClient, check_build};
use super::error::JenkinsError;
use super::job::JobName;
use super::model::{BuildResult, QueueItemJson};

impl JenkinsClient {
    /// Polls `/queue/item/<id>/api/json` until the item names its build.
    /// Returns the build number and URL.
    pub async fn follow_queue(&self, queue_id: i64) -> Result<(i64, Option<String>), JenkinsError> {
        let deadline = Instant::now() + self.settings().queue_timeout();
        let path = format!("/queue/item/{queue_id}/api/json");
        loop {
            let item: QueueItemJson = self
                .http()
                .get_json("queue", &path, &[], || format!("queue item {queue_id}"))
                .await?;
            if item.cancelled {
                return Err(JenkinsError::QueueCancelled { queue_id });
            }
            if let Some(executable) = item.executable {
                if executable.number <= 0 {
                    return Err(JenkinsError::Protocol {
                        operation: "queue",
                        detail: format!("queue item names build {}", executable.number),
                    });
                }
                return Ok((executable.number, executable.url));
            }
            debug!(queue_id, "queue item still waiting");
            if !sleep_until_next_poll(self.settings().poll_interval(), deadline).await {
                return Err(JenkinsError::QueueTimeout { queue_id });
            }
        }
    }

    /// Polls build `number` of `job` until it is no longer building and
    /// returns its result, bounded by `wait_timeout_secs`.
    pub async fn wait_for_build(
        &self,
        job: &JobName,
        number: i64,
    ) -> Result<BuildResult, JenkinsError> {
        check_build(number)?;
        let deadline = Instant::now() + self.settings().wait_timeout();
        loop {
            let build = self.get_build(job, number).await?;
            // Jenkins may briefly report a finished build without a result
            // while it records it; keep polling until the result is there.
            if !build.building
                && let Some(result) = build.result.as_deref()
            {
                debug!(job = %job, build = number, result, "build finished");
                return Ok(BuildResult::parse(result));
            }
            if !sleep_until_next_poll(self.settings().poll_interval(), deadline).await {
                return Err(JenkinsError::Timeout {
                    operation: "wait_for_build",
                });
            }
        }
    }
}

/// Sleeps one poll interval, cut short at the deadline so that one last poll
/// happens there. Returns false once the deadline has passed.
async fn sleep_until_next_poll(interval: Duration, deadline: Instant) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    tokio::time::sleep(interval.min(deadline - now)).await;
    true
}
