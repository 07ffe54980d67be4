//! The paced sender: takes a channel with due work (one sender per channel across all
//! replicas, by lease), sends its oldest change, and sets when the channel may be used
//! again: the pacing interval after a success, `Retry-After` after a 429, a growing backoff
//! after a 5xx or network error. Messages are never dropped for Slack being away.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::metrics::NotifyMetrics;
use super::repo;
use crate::settings::NotifySettings;
use crate::slack::{Content, Sink, SlackError};

#[derive(Clone)]
pub struct Sender {
    pub pool: PgPool,
    pub sink: Sink,
    pub cfg: NotifySettings,
    pub instance: String,
    pub wake: Arc<Notify>,
    pub lease: Duration,
    pub metrics: NotifyMetrics,
}

impl Sender {
    fn interval(&self) -> Duration {
        if self.sink.is_console() {
            Duration::ZERO
        } else {
            Duration::from_millis(self.cfg.min_interval_ms)
        }
    }

    fn backoff(&self, failures: i32) -> Duration {
        let base = self.cfg.retry_base_ms.max(1) as f64;
        let capped = (base * 2f64.powi(failures.clamp(0, 20))).min(self.cfg.retry_max_ms as f64);
        // Full jitter in the upper half: replicas do not retry in lockstep.
        let ms = rand::rng().random_range(capped / 2.0..=capped.max(1.0));
        Duration::from_millis(ms as u64)
    }

    /// Sends until `cancel`; a send in flight finishes first.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let poll = Duration::from_millis(self.cfg.poll_interval_ms.max(10));
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let worked = match self.step().await {
                Ok(w) => w,
                Err(e) => {
                    warn!(error = %e, "slack sender: database error, retrying");
                    false
                }
            };
            if worked {
                continue;
            }
            let sleep = match repo::next_due(&self.pool).await {
                Ok(Some(at)) => (at - chrono::Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_millis(5), poll),
                _ => poll,
            };
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Sends one message of one due channel; `false` when there was nothing to do.
    pub async fn step(&self) -> Result<bool, sqlx::Error> {
        let Some(channel) = repo::claim_channel(&self.pool, &self.instance, self.lease).await?
        else {
            return Ok(false);
        };
        let Some(p) = repo::next_pending(&self.pool, &channel).await? else {
            // Only work that waits on something else: look again a little later.
            repo::release_channel(
                &self.pool,
                &channel,
                Duration::from_millis(self.cfg.poll_interval_ms),
                None,
            )
            .await?;
            return Ok(false);
        };
        let content = Content {
            text: p.text.clone(),
            blocks: p.blocks.clone(),
        };
        let result = match (&p.ts, &p.channel_id) {
            (Some(ts), Some(cid)) => self.sink.update(cid, ts, &content).await.map(|_| None),
            _ => self
                .sink
                .post(&channel, p.thread_ts.as_deref(), &content)
                .await
                .map(Some),
        };
        let method = if p.ts.is_some() { "update" } else { "post" };
        match result {
            Ok(posted) => {
                if let Some(posted) = posted {
                    repo::mark_posted(&self.pool, &p, &posted.ts, &posted.channel_id).await?;
                } else {
                    repo::mark_updated(&self.pool, &p.key, p.version).await?;
                }
                self.metrics.sent(method, "ok");
                debug!(channel, key = %p.key, kind = %p.kind, method, "slack message sent");
                repo::release_channel(&self.pool, &channel, self.interval(), None).await?;
            }
            Err(SlackError::RateLimited(wait)) => {
                self.metrics.sent(method, "rate_limited");
                info!(
                    channel,
                    retry_after_ms = wait.as_millis() as u64,
                    "slack rate limit, waiting"
                );
                repo::release_channel(&self.pool, &channel, wait.max(self.interval()), None)
                    .await?;
            }
            Err(e @ (SlackError::Unavailable(_) | SlackError::Blocked(_))) => {
                let failures = repo::channel_failures(&self.pool, &channel).await?;
                let wait = match e {
                    SlackError::Blocked(_) => Duration::from_millis(self.cfg.retry_max_ms),
                    _ => self.backoff(failures),
                };
                self.metrics.sent(method, "retry");
                let reason = e.to_string();
                warn!(channel, key = %p.key, error = %reason, retry_in_ms = wait.as_millis() as u64,
                      "slack message not sent, will retry");
                repo::mark_attempt(&self.pool, &p.key, &reason).await?;
                repo::release_channel(&self.pool, &channel, wait, Some(&reason)).await?;
            }
            Err(e @ SlackError::Rejected(_)) => {
                self.metrics.sent(method, "rejected");
                error!(channel, key = %p.key, error = %e, "slack rejected a message, giving it up");
                repo::mark_failed(&self.pool, &p.key, &e.to_string()).await?;
                repo::release_channel(&self.pool, &channel, self.interval(), None).await?;
            }
        }
        Ok(true)
    }
}
