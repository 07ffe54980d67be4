//! The catalog as people and tools read it: every service with its status, instances,
//! uptime and degraded dependencies. Computed from the database, so every monitor replica
//! answers the same.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use domain::health::{HealthStatusReport, ServiceHealthStatus, ServiceHealthSummary, ServiceKind};
use serde::Serialize;

use crate::core::Core;
use crate::error::MonitorError;
use crate::repo::catalog::{InstanceRow, ServiceRow};
use crate::repo::checks::{Counts, WindowCounts};
use crate::repo::{catalog, checks};

#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub instance_id: String,
    pub host: Option<String>,
    pub version: Option<String>,
    /// up, degraded or down.
    pub status: &'static str,
    pub ready: bool,
    pub degraded: Vec<String>,
    pub checks: serde_json::Value,
    pub interval_secs: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
}

/// Percentage of checks up per window; `null` without checks.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Uptime {
    #[serde(rename = "1h")]
    pub h1: Option<f64>,
    #[serde(rename = "24h")]
    pub h24: Option<f64>,
    #[serde(rename = "7d")]
    pub d7: Option<f64>,
}

impl From<WindowCounts> for Uptime {
    fn from(w: WindowCounts) -> Self {
        Uptime {
            h1: w.h1.percent(),
            h24: w.h24.percent(),
            d7: w.d7.percent(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub service: String,
    pub kind: ServiceKind,
    pub status: ServiceHealthStatus,
    /// When the service last went up, down or stopped.
    pub since: DateTime<Utc>,
    pub first_seen_at: DateTime<Utc>,
    /// Last heartbeat, or last successful probe.
    pub last_seen_at: Option<DateTime<Utc>>,
    pub instances_total: u32,
    pub instances_up: u32,
    pub versions: Vec<String>,
    /// External dependencies its live instances report failing.
    pub degraded: Vec<String>,
    /// Live instances whose own infrastructure (database, broker) fails.
    pub not_ready: Vec<String>,
    pub uptime_percent: Uptime,
    pub instances: Vec<InstanceView>,
    /// External targets: failures in a row and the last probe's result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeView>,
    #[serde(skip)]
    pub counts_24h: Counts,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeView {
    pub consecutive_failures: i32,
    pub last_check: Option<serde_json::Value>,
}

impl ServiceView {
    pub fn summary(&self) -> ServiceHealthSummary {
        ServiceHealthSummary {
            service: self.service.clone(),
            kind: self.kind,
            status: self.status,
            instances: self.instances_total,
            instances_up: self.instances_up,
            last_seen_at: self.last_seen_at,
            uptime_percent_24h: self.uptime_percent.h24,
            degraded: self.degraded.clone(),
        }
    }
}

/// The whole catalog at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    pub checked_at: DateTime<Utc>,
    pub services: Vec<ServiceView>,
}

impl Catalog {
    pub fn healthy(&self) -> u32 {
        self.services
            .iter()
            .filter(|s| s.status.is_healthy())
            .count() as u32
    }

    /// Services monitored; stopped ones (left cleanly) are not expected to run.
    pub fn total(&self) -> u32 {
        self.services
            .iter()
            .filter(|s| s.status != ServiceHealthStatus::Stopped)
            .count() as u32
    }

    /// Share of every service's checks that were up over 24 h.
    pub fn uptime_percent_24h(&self) -> Option<f64> {
        let sum = self
            .services
            .iter()
            .fold(Counts::default(), |acc, s| Counts {
                up: acc.up + s.counts_24h.up,
                total: acc.total + s.counts_24h.total,
            });
        sum.percent()
    }

    pub fn get(&self, service: &str) -> Option<&ServiceView> {
        self.services.iter().find(|s| s.service == service)
    }

    pub fn report(&self) -> HealthStatusReport {
        HealthStatusReport {
            healthy_services: self.healthy(),
            total_services: self.total(),
            checked_at: self.checked_at,
            services: self.services.iter().map(ServiceView::summary).collect(),
        }
    }
}

/// Reads the catalog, or one service of it.
pub async fn load(core: &Core, only: Option<&str>) -> Result<Catalog, MonitorError> {
    let down_after = core.down_after_secs();
    let rows = match only {
        Some(name) => catalog::service(&core.pool, name)
            .await?
            .into_iter()
            .collect(),
        None => catalog::services(&core.pool).await?,
    };
    let mut by_service: HashMap<String, Vec<InstanceRow>> = HashMap::new();
    for i in catalog::instances(&core.pool, down_after, only).await? {
        by_service.entry(i.service.clone()).or_default().push(i);
    }
    let windows = checks::windows(&core.pool).await?;
    let services = rows
        .into_iter()
        .map(|row| {
            let instances = by_service.remove(&row.service).unwrap_or_default();
            let counts = windows.get(&row.service).copied().unwrap_or_default();
            build(row, instances, counts)
        })
        .collect();
    Ok(Catalog {
        checked_at: Utc::now(),
        services,
    })
}

fn instance_degraded(i: &InstanceRow) -> bool {
    i.status == "degraded" || !i.ready || !i.degraded.is_empty()
}

/// The status of a service from its recorded state and its instances.
pub fn status_of(kind: ServiceKind, state: &str, instances: &[InstanceRow]) -> ServiceHealthStatus {
    use ServiceHealthStatus::*;
    if kind == ServiceKind::External {
        return match state {
            "up" => Up,
            "down" => Down,
            _ => Unknown,
        };
    }
    let alive: Vec<&InstanceRow> = instances.iter().filter(|i| i.alive).collect();
    match state {
        "down" if alive.is_empty() => Down,
        "stopped" if alive.is_empty() => Stopped,
        "unknown" if alive.is_empty() => Unknown,
        // Marked up but nobody heartbeats: the sweep announces it within a round.
        _ if alive.is_empty() => Down,
        _ if alive.iter().any(|i| instance_degraded(i)) => Degraded,
        _ => Up,
    }
}

fn build(row: ServiceRow, instances: Vec<InstanceRow>, counts: WindowCounts) -> ServiceView {
    let kind = row.kind();
    let status = status_of(kind, &row.state, &instances);
    let alive: Vec<&InstanceRow> = instances.iter().filter(|i| i.alive).collect();
    let degraded: BTreeSet<String> = alive
        .iter()
        .flat_map(|i| i.degraded.iter().cloned())
        .collect();
    let versions: BTreeSet<String> = alive.iter().filter_map(|i| i.version.clone()).collect();
    let not_ready = alive
        .iter()
        .filter(|i| !i.ready)
        .map(|i| i.instance_id.clone())
        .collect();
    let (instances_total, instances_up, probe) = match kind {
        ServiceKind::External => (
            1,
            u32::from(status == ServiceHealthStatus::Up),
            Some(ProbeView {
                consecutive_failures: row.consecutive_failures,
                last_check: row.last_check.clone(),
            }),
        ),
        ServiceKind::Runbooks => (instances.len() as u32, alive.len() as u32, None),
    };
    let instances = instances
        .iter()
        .map(|i| InstanceView {
            instance_id: i.instance_id.clone(),
            host: i.host.clone(),
            version: i.version.clone(),
            status: match (i.alive, instance_degraded(i)) {
                (false, _) => "down",
                (true, true) => "degraded",
                (true, false) => "up",
            },
            ready: i.ready,
            degraded: i.degraded.clone(),
            checks: i.checks.clone(),
            interval_secs: i.interval_secs,
            started_at: i.started_at,
            first_seen_at: i.first_seen_at,
            last_heartbeat_at: i.last_heartbeat_at,
        })
        .collect();
    ServiceView {
        service: row.service,
        kind,
        status,
        since: row.changed_at,
        first_seen_at: row.first_seen_at,
        last_seen_at: row.last_seen_at,
        instances_total,
        instances_up,
        versions: versions.into_iter().collect(),
        degraded: degraded.into_iter().collect(),
        not_ready,
        uptime_percent: counts.into(),
        instances,
        probe,
        counts_24h: counts.h24,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(alive: bool, status: &str, ready: bool, degraded: &[&str]) -> InstanceRow {
        InstanceRow {
            service: "s".into(),
            instance_id: "s-1".into(),
            host: None,
            version: None,
            status: status.into(),
            ready,
            degraded: degraded.iter().map(|s| s.to_string()).collect(),
            checks: serde_json::json!({}),
            interval_secs: 1,
            started_at: None,
            first_seen_at: Utc::now(),
            last_heartbeat_at: Utc::now(),
            alive,
        }
    }

    #[test]
    fn status_follows_state_and_live_instances() {
        use ServiceHealthStatus::*;
        let rb = ServiceKind::Runbooks;
        assert_eq!(status_of(rb, "up", &[inst(true, "up", true, &[])]), Up);
        assert_eq!(
            status_of(rb, "up", &[inst(true, "up", true, &["jenkins"])]),
            Degraded
        );
        assert_eq!(
            status_of(rb, "up", &[inst(true, "up", false, &[])]),
            Degraded
        );
        assert_eq!(status_of(rb, "up", &[inst(false, "up", true, &[])]), Down);
        assert_eq!(status_of(rb, "down", &[]), Down);
        assert_eq!(status_of(rb, "stopped", &[]), Stopped);
        assert_eq!(
            status_of(rb, "stopped", &[inst(true, "up", true, &[])]),
            Up,
            "a heartbeat beats the recorded state"
        );
        let ext = ServiceKind::External;
        assert_eq!(status_of(ext, "unknown", &[]), Unknown);
        assert_eq!(status_of(ext, "down", &[]), Down);
    }
}
