//! Uptime history: the leader records one sample per Runbooks service every
//! `sample_interval_secs` (external targets get one per probe), compacts checks older than
//! `checks_raw_hours` into hourly sums, deletes sums older than `history_days`, and forgets
//! dead instances and long-stopped services. Uptime over a window is the share of its checks
//! that were up (or degraded).

use std::time::Duration;

use domain::health::{ServiceHealthStatus, ServiceKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::catalog::view;
use crate::core::Core;
use crate::error::MonitorError;
use crate::repo::checks::NewCheck;
use crate::repo::{catalog, checks};

/// Compaction and forgetting run this often on the leader.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

pub async fn run(
    core: Core,
    leader: watch::Receiver<bool>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut samples = tokio::time::interval(Duration::from_secs(
        core.settings.health.sample_interval_secs,
    ));
    samples.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut maintenance = tokio::time::interval(MAINTENANCE_EVERY);
    maintenance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = samples.tick() => {
                // Before one silence period has passed, statuses read from old heartbeats.
                if *leader.borrow() && core.settled() && let Err(e) = sample(&core).await {
                    tracing::warn!(error = %e, "uptime sample not recorded");
                }
            }
            _ = maintenance.tick() => {
                if *leader.borrow() && let Err(e) = maintain(&core).await {
                    tracing::warn!(error = %e, "health maintenance failed");
                }
            }
        }
    }
}

/// One check per Runbooks service with its current status (stopped services are not
/// expected to run and are not sampled).
pub async fn sample(core: &Core) -> Result<usize, MonitorError> {
    let catalog = view::load(core, None).await?;
    let rows: Vec<NewCheck> = catalog
        .services
        .iter()
        .filter(|s| s.kind == ServiceKind::Runbooks)
        .filter_map(|s| {
            let status = match s.status {
                ServiceHealthStatus::Up => "up",
                ServiceHealthStatus::Degraded => "degraded",
                ServiceHealthStatus::Down => "down",
                ServiceHealthStatus::Stopped | ServiceHealthStatus::Unknown => return None,
            };
            Some(NewCheck {
                service: s.service.clone(),
                instance_id: None,
                status,
                latency_ms: None,
                details: serde_json::json!({
                    "instances": s.instances_total,
                    "instances_up": s.instances_up,
                }),
            })
        })
        .collect();
    checks::insert_many(&core.pool, &rows).await?;
    Ok(rows.len())
}

/// Compaction, retention and forgetting.
pub async fn maintain(core: &Core) -> Result<(), MonitorError> {
    let h = &core.settings.health;
    let (compacted, dropped) =
        checks::compact(&core.pool, h.checks_raw_hours, h.history_days).await?;
    let (instances, services) = catalog::forget(
        &core.pool,
        h.forget_instance_after_secs,
        h.forget_stopped_after_hours,
    )
    .await?;
    let configured: Vec<String> = h.targets.iter().map(|t| t.name.clone()).collect();
    let targets = catalog::forget_unconfigured_targets(&core.pool, &configured).await?;
    if compacted + dropped + instances + services + targets > 0 {
        tracing::info!(
            compacted,
            hourly_dropped = dropped,
            instances_forgotten = instances,
            services_forgotten = services,
            targets_forgotten = targets,
            "health history maintained"
        );
    }
    Ok(())
}
