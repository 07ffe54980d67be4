//! The sweep every monitor runs: silent instances are marked down, and a service left with
//! no live instance goes down, decided under its row lock so that with any number of
//! monitors exactly one announces it.

use std::time::Duration;

use chrono::Utc;
use domain::health::ServiceKind;
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::error::MonitorError;
use crate::repo::catalog;

pub async fn run(core: Core, stop: CancellationToken) -> anyhow::Result<()> {
    // After a restart (of every monitor, say) the heartbeats recorded are old while the
    // services are fine: give them one silence period to beat again before judging, or a
    // monitor outage would end with a false alarm for every service.
    let period = Duration::from_millis(core.settings.health.sweep_interval_ms);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {
                if !core.settled() {
                    continue;
                }
                // The database being away is reported by /ready; keep sweeping.
                if let Err(e) = sweep(&core).await {
                    tracing::warn!(error = %e, "health sweep failed");
                }
            }
        }
    }
}

/// One round; returns the services this monitor announced down.
pub async fn sweep(core: &Core) -> Result<Vec<String>, MonitorError> {
    let down_after = core.down_after_secs();
    catalog::mark_silent(&core.pool, down_after).await?;
    let mut downed = Vec::new();
    for service in catalog::silent_services(&core.pool, down_after).await? {
        if decide(core, &service).await? {
            downed.push(service);
        }
    }
    Ok(downed)
}

/// Re-checks one candidate under its lock: another monitor may have decided already, or a
/// heartbeat may have arrived since the candidates were listed.
async fn decide(core: &Core, service: &str) -> Result<bool, MonitorError> {
    let mut tx = core.pool.begin().await?;
    let Some(svc) = catalog::lock_existing(&mut tx, service).await? else {
        return Ok(false);
    };
    if svc.kind() != ServiceKind::Runbooks || svc.state != "up" {
        return Ok(false);
    }
    let counts = catalog::counts(&mut tx, service, core.down_after_secs()).await?;
    if counts.alive > 0 {
        return Ok(false);
    }
    if counts.dead == 0 {
        // Only goodbyes left (a farewell raced with this sweep): a clean stop.
        catalog::set_state(&mut tx, service, "stopped", false).await?;
        tx.commit().await?;
        return Ok(false);
    }
    let silent_for = counts
        .last_dead_heartbeat
        .map(|t| (Utc::now() - t).num_seconds().max(0))
        .unwrap_or_default();
    let reason = match &counts.dead_instance {
        Some(instance) => format!("no heartbeat from {instance} for {silent_for} s"),
        None => format!(
            "no heartbeat from any of its {} instances for {silent_for} s",
            counts.dead
        ),
    };
    catalog::set_state(&mut tx, service, "down", true).await?;
    super::announce(
        &mut tx,
        true,
        service,
        counts.dead_instance.clone(),
        reason.clone(),
        counts.last_dead_heartbeat,
    )
    .await?;
    tx.commit().await?;
    core.metrics.transitions.with_label_values(&["down"]).inc();
    tracing::warn!(service, reason, "service down");
    Ok(true)
}
