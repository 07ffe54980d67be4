//! Heartbeats from `health-monitor.heartbeats`: register or refresh the instance, bring a
//! down service back up, and take a farewell (clean SIGTERM) without an alarm.

use bus::{HandlerError, Message};
use chrono::{DateTime, Utc};
use domain::health::{Heartbeat, ServiceKind, ServiceStatus};

use crate::core::Core;
use crate::error::MonitorError;
use crate::repo::catalog;
use crate::target::valid_service_name;

/// What a heartbeat did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Instance registered or refreshed.
    Beat,
    /// Older than a heartbeat already applied, or after the instance's farewell.
    Stale,
    /// The instance left cleanly.
    Farewell,
}

pub async fn handle(core: &Core, msg: Message<Heartbeat>) -> Result<(), HandlerError> {
    let hb = &msg.envelope.payload;
    if !valid_service_name(&hb.service) {
        return Err(HandlerError::reject(format!(
            "invalid service name `{}` (1-64 letters, digits, `-`, `_`, `.`)",
            hb.service.chars().take(80).collect::<String>()
        )));
    }
    if hb.instance_id.is_empty() || hb.instance_id.len() > 200 {
        return Err(HandlerError::reject("instance_id must be 1-200 bytes"));
    }
    let expected = domain::names::heartbeat_key(&hb.service);
    if msg.routing_key != expected {
        return Err(HandlerError::reject(format!(
            "routing key `{}` does not match the service `{}`",
            msg.routing_key, hb.service
        )));
    }
    match apply(core, hb, msg.envelope.occurred_at).await {
        Ok(applied) => {
            let outcome = match applied {
                Applied::Beat => "applied",
                Applied::Stale => "stale",
                Applied::Farewell => "farewell",
            };
            core.metrics.heartbeats.with_label_values(&[outcome]).inc();
            Ok(())
        }
        Err(e) => Err(e.into_handler_error()),
    }
}

/// Applies one heartbeat in one transaction under the service's row lock.
pub async fn apply(
    core: &Core,
    hb: &Heartbeat,
    sent_at: DateTime<Utc>,
) -> Result<Applied, MonitorError> {
    let mut tx = core.pool.begin().await?;
    let (svc, _) = catalog::lock_service(&mut tx, &hb.service, ServiceKind::Runbooks).await?;
    if svc.kind() == ServiceKind::External {
        return Err(MonitorError::BadRequest(format!(
            "`{}` is an external target probed over HTTP, not a heartbeating service",
            hb.service
        )));
    }
    if hb.status == ServiceStatus::Stopping {
        catalog::farewell(&mut tx, hb, sent_at).await?;
        let counts = catalog::counts(&mut tx, &hb.service, core.down_after_secs()).await?;
        // The last live instance left cleanly: a stop, not an outage. A service already
        // down whose every instance has now said goodbye was decommissioned: stopped too.
        let last = counts.alive == 0
            && (matches!(svc.state.as_str(), "up" | "unknown") || counts.dead == 0);
        if last {
            catalog::set_state(&mut tx, &hb.service, "stopped", false).await?;
        }
        tx.commit().await?;
        tracing::info!(service = %hb.service, instance = %hb.instance_id, "instance left cleanly");
        return Ok(Applied::Farewell);
    }
    if !catalog::upsert_instance(&mut tx, hb, sent_at).await? {
        tx.commit().await?;
        return Ok(Applied::Stale);
    }
    catalog::touch_seen(&mut tx, &hb.service).await?;
    match svc.state.as_str() {
        "up" => {}
        "down" => {
            catalog::set_state(&mut tx, &hb.service, "up", false).await?;
            super::announce(
                &mut tx,
                false,
                &hb.service,
                Some(hb.instance_id.clone()),
                format!("instance {} heartbeats again", hb.instance_id),
                svc.last_seen_at,
            )
            .await?;
            core.metrics.transitions.with_label_values(&["up"]).inc();
            tracing::info!(service = %hb.service, instance = %hb.instance_id, "service up again");
        }
        _ => {
            // New, or back from a clean stop: not a recovery, nothing to announce.
            catalog::set_state(&mut tx, &hb.service, "up", false).await?;
            tracing::info!(service = %hb.service, instance = %hb.instance_id, version = %hb.version, "service registered");
        }
    }
    tx.commit().await?;
    Ok(Applied::Beat)
}
