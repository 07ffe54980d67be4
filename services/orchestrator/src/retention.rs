//! Bounded growth: logs past their retention (unless an incident references them) and old
//! threshold hits are deleted periodically.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::core::Core;
use crate::repo::{hits, logs};

pub async fn run(core: Core, cancel: CancellationToken) {
    let every = Duration::from_secs(core.settings.retention.interval_secs.max(1));
    loop {
        if let Err(e) = sweep(&core).await {
            warn!(error = %e, "retention sweep failed");
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

pub async fn sweep(core: &Core) -> Result<(), sqlx::Error> {
    let r = &core.settings.retention;
    let (jenkins, api) = logs::delete_older_than(&core.pool, r.logs_days).await?;
    let hits = hits::delete_older_than(&core.pool, r.hits_hours).await?;
    if jenkins + api + hits > 0 {
        info!(jenkins, api, hits, "retention sweep deleted old rows");
    }
    Ok(())
}
