//! Bounded growth: logs past their retention (unless an incident references them) and old
//! threshold hits are deleted periodically.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::repo::{hits, logs};
use crate::settings::RetentionSettings;

pub async fn run(pool: PgPool, settings: RetentionSettings, cancel: CancellationToken) {
    let every = Duration::from_secs(settings.interval_secs.max(1));
    loop {
        if let Err(e) = sweep(&pool, &settings).await {
            warn!(error = %e, "retention sweep failed");
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

pub async fn sweep(pool: &PgPool, r: &RetentionSettings) -> Result<(), sqlx::Error> {
    let (jenkins, api) = logs::delete_older_than(pool, r.logs_days).await?;
    let hits = hits::delete_older_than(pool, r.hits_hours).await?;
    if jenkins + api + hits > 0 {
        info!(jenkins, api, hits, "retention sweep deleted old rows");
    }
    Ok(())
}
