//! Bounded growth: logs past their retention (unless an incident references them) and old
//! threshold hits are deleted periodically.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::repo::{hits, logs};
use crate::settings::RetentionSettings;

#[derive(Clone)]
pub struct RetentionService {
    pool: PgPool,
    settings: RetentionSettings,
}

impl RetentionService {
    pub fn new(pool: PgPool, settings: RetentionSettings) -> Self {
        RetentionService { pool, settings }
    }

    /// Sweeps every `retention.interval_secs` until `cancel`; a failed sweep is retried at
    /// the next one.
    pub async fn run(self, cancel: CancellationToken) {
        let every = Duration::from_secs(self.settings.interval_secs.max(1));
        loop {
            if let Err(e) = self.sweep().await {
                warn!(error = %e, "retention sweep failed");
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    pub async fn sweep(&self) -> Result<(), sqlx::Error> {
        let r = &self.settings;
        let (jenkins, api) = logs::delete_older_than(&self.pool, r.logs_days).await?;
        let hits = hits::delete_older_than(&self.pool, r.hits_hours).await?;
        if jenkins + api + hits > 0 {
            info!(jenkins, api, hits, "retention sweep deleted old rows");
        }
        Ok(())
    }
}
