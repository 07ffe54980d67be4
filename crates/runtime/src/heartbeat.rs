use std::time::Duration;

use bus::Bus;
use chrono::{DateTime, Utc};
use domain::Envelope;
use domain::health::{Heartbeat, ServiceStatus};
use telemetry::{Metrics, Readiness, ReadyCheck};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Publishes `health.heartbeat.<service>` every interval with the service's own dependency
/// checks, and a last one saying `stopping` on shutdown.
#[derive(Clone)]
pub struct Heartbeater {
    pub bus: Bus,
    pub service: String,
    pub instance_id: String,
    pub started_at: DateTime<Utc>,
    pub interval: Duration,
    pub checks: Vec<ReadyCheck>,
    pub metrics: Metrics,
}

impl Heartbeater {
    pub async fn beat(&self, stopping: bool) -> Result<(), bus::BusError> {
        let r = Readiness::evaluate(&self.checks).await;
        r.record(&self.metrics, &self.checks);
        let status = if stopping {
            ServiceStatus::Stopping
        } else if r.ready && r.degraded.is_empty() {
            ServiceStatus::Up
        } else {
            ServiceStatus::Degraded
        };
        let hb = Heartbeat {
            service: self.service.clone(),
            instance_id: self.instance_id.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            host: crate::hostname(),
            started_at: self.started_at,
            status,
            checks: r.checks,
            ready: r.ready,
            degraded: r.degraded,
            interval_secs: self.interval.as_secs().max(1),
        };
        self.bus
            .publish(&Envelope::new(self.service.clone(), hb))
            .await
    }

    pub async fn run(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {
                    match self.beat(false).await {
                        Ok(()) => debug!("heartbeat sent"),
                        // The broker being away is exactly what heartbeats report; keep going.
                        Err(e) => warn!(error = %e, "heartbeat not sent"),
                    }
                }
            }
        }
    }
}
