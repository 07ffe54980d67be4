//! `GET /check-services` (seed 001): checks everything now (a sweep for silent instances,
//! every external target probed) and answers with a report. When something is down it also
//! publishes an alert (`health.service.down`) that chatops posts, at most once per service
//! per `alert_cooldown_secs`: a transition counts as an alert, so an outage announced a
//! moment ago is not announced twice.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use domain::health::{ServiceHealthStatus, ServiceKind};
use serde::Serialize;

use super::error::ApiError;
use crate::catalog::{self, view};
use crate::core::Core;
use crate::error::MonitorError;
use crate::probes::{self, ProbeResult};
use crate::repo::catalog as repo;

#[derive(Debug, Serialize)]
pub struct CheckedService {
    pub service: String,
    pub kind: ServiceKind,
    pub status: ServiceHealthStatus,
    pub instances: u32,
    pub instances_up: u32,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub degraded: Vec<String>,
    /// This round's probe (external targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeResult>,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub checked_at: DateTime<Utc>,
    /// Nothing is down.
    pub healthy: bool,
    pub healthy_services: u32,
    pub total_services: u32,
    pub unhealthy: Vec<String>,
    /// Services a `health.service.down` alert was published for by this round.
    pub alerts_published: Vec<String>,
    pub services: Vec<CheckedService>,
}

pub async fn check_services(State(core): State<Core>) -> Result<Json<CheckReport>, ApiError> {
    let _one_at_a_time = core.check_lock.lock().await;
    if core.settled() {
        catalog::sweep::sweep(&core).await?;
    }
    let mut probed: HashMap<String, ProbeResult> =
        probes::probe_all(&core).await.into_iter().collect();
    let cat = view::load(&core, None).await?;
    let unhealthy: Vec<String> = cat
        .services
        .iter()
        .filter(|s| s.status == ServiceHealthStatus::Down)
        .map(|s| s.service.clone())
        .collect();
    let mut alerts_published = Vec::new();
    for service in &unhealthy {
        if alert(&core, service).await? {
            alerts_published.push(service.clone());
        }
    }
    let services = cat
        .services
        .iter()
        .map(|s| CheckedService {
            service: s.service.clone(),
            kind: s.kind,
            status: s.status,
            instances: s.instances_total,
            instances_up: s.instances_up,
            last_seen_at: s.last_seen_at,
            degraded: s.degraded.clone(),
            probe: probed.remove(&s.service),
        })
        .collect();
    Ok(Json(CheckReport {
        checked_at: cat.checked_at,
        healthy: unhealthy.is_empty(),
        healthy_services: cat.healthy(),
        total_services: cat.total(),
        unhealthy,
        alerts_published,
        services,
    }))
}

/// Publishes a reminder for a service still down, unless one (or the transition) went out
/// within the cooldown. Decided under the row lock, so replicas agree.
async fn alert(core: &Core, service: &str) -> Result<bool, MonitorError> {
    let cooldown = Duration::seconds(core.settings.health.alert_cooldown_secs as i64);
    let mut tx = core.pool.begin().await?;
    let Some(svc) = repo::lock_existing(&mut tx, service).await? else {
        return Ok(false);
    };
    if svc.state != "down" || svc.last_alert_at.is_some_and(|t| Utc::now() - t < cooldown) {
        return Ok(false);
    }
    repo::set_state(&mut tx, service, "down", true).await?;
    catalog::announce(
        &mut tx,
        true,
        service,
        None,
        format!(
            "still down at an on-demand check (down since {})",
            svc.changed_at.to_rfc3339()
        ),
        svc.last_seen_at,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
