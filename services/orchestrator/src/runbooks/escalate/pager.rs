//! The pager: sends stored pages, one claimed call at a time (see the module's docs).

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::{CallOutcome, pagerduty, webhook};
use crate::error::ServiceError;
use crate::repo::pages::{self, Finish, PageRow};
use crate::settings::EscalationSettings;

/// Pages sent by one pass at most before it sleeps again.
const BATCH: usize = 50;

#[derive(Clone)]
pub struct Pager {
    pool: PgPool,
    cfg: EscalationSettings,
    http: reqwest::Client,
}

impl Pager {
    pub fn new(pool: PgPool, cfg: EscalationSettings) -> Result<Self, reqwest::Error> {
        // reqwest is built without a default crypto provider; a second install is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Pager { pool, cfg, http })
    }

    pub async fn run(self, stop: CancellationToken) {
        let poll = Duration::from_millis(self.cfg.poll_ms);
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "pager pass failed; retrying");
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// One pass: resolves for incidents resolved since, then due pages. Pages sent.
    pub async fn tick(&self) -> Result<usize, ServiceError> {
        let queued = pages::queue_resolves(&self.pool).await?;
        if queued > 0 {
            tracing::info!(
                pages = queued,
                "pagerduty resolves queued for resolved incidents"
            );
        }
        let mut n = 0;
        while n < BATCH {
            let Some(page) = pages::claim(&self.pool, self.cfg.lease_secs).await? else {
                break;
            };
            let outcome = self.call(&page).await;
            self.record(&page, outcome).await?;
            n += 1;
        }
        Ok(n)
    }

    async fn call(&self, page: &PageRow) -> CallOutcome {
        let Ok(severity) = page.severity.parse() else {
            return CallOutcome::Refused(format!("unknown severity `{}`", page.severity));
        };
        let target = self.cfg.target(severity);
        match page.target.as_str() {
            "pagerduty" => match target.pagerduty() {
                Some(key) => pagerduty::send(&self.http, &self.cfg.pagerduty_url, page, key).await,
                None => CallOutcome::Refused(format!(
                    "runbooks.escalation.{}.pagerduty_routing_key is no longer configured",
                    page.severity
                )),
            },
            "webhook" => match target.webhook() {
                Some((url, secret)) => webhook::send(&self.http, url, secret, page).await,
                None => CallOutcome::Refused(format!(
                    "runbooks.escalation.{}.webhook_url is no longer configured",
                    page.severity
                )),
            },
            other => CallOutcome::Refused(format!("unknown page target `{other}`")),
        }
    }

    async fn record(&self, page: &PageRow, outcome: CallOutcome) -> Result<(), ServiceError> {
        let (id, run, target, action) = (
            page.id,
            page.run_id,
            page.target.as_str(),
            page.event_action.as_str(),
        );
        let attempts = page.attempts;
        let kept = match &outcome {
            CallOutcome::Sent(answer) => {
                tracing::info!(
                    page_id = id,
                    run_id = run,
                    target,
                    event_action = action,
                    attempts,
                    "page sent"
                );
                pages::finish(&self.pool, page, Finish::Sent(answer)).await?
            }
            CallOutcome::Retry(e) if (attempts as u32) < self.cfg.max_attempts => {
                let secs = self.backoff_secs(attempts);
                tracing::warn!(page_id = id, run_id = run, target, attempts, error = %e, retry_in_secs = secs, "page not sent; retrying");
                pages::finish(&self.pool, page, Finish::Retry { error: e, secs }).await?
            }
            CallOutcome::Retry(e) | CallOutcome::Refused(e) => {
                tracing::error!(page_id = id, run_id = run, target, attempts, error = %e, "page failed; given up");
                pages::finish(&self.pool, page, Finish::Failed(e)).await?
            }
        };
        if !kept {
            tracing::warn!(
                page_id = id,
                "page claim was taken over meanwhile; outcome left to it"
            );
        }
        Ok(())
    }

    fn backoff_secs(&self, attempts: i32) -> f64 {
        let exp = (attempts.max(1) - 1).min(16) as u32;
        let ms = self
            .cfg
            .retry_base_ms
            .saturating_mul(1u64 << exp)
            .min(60_000);
        ms as f64 / 1000.0
    }
}
