//! HTTP probes of external targets: `GET url` within the target's timeout, no redirect
//! followed, at most 64 KiB of body read. A target goes down after `failures_before_down`
//! failed probes in a row and up at the first passing one, announced like Runbooks services.

pub mod scheduler;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::health::ServiceKind;
use futures_util::future::join_all;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::core::Core;
use crate::error::MonitorError;
use crate::repo::checks::NewCheck;
use crate::repo::{catalog, checks};
pub use crate::target::Target;

/// The most body a probe reads (for `body_contains`).
const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProbeResult {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub checked_at: DateTime<Utc>,
}

/// Probes one target once. Never fails: a failure is a result.
pub async fn probe(client: &reqwest::Client, target: &Target) -> ProbeResult {
    let started = Instant::now();
    let timeout = Duration::from_millis(target.timeout_ms);
    let outcome = tokio::time::timeout(timeout, attempt(client, target)).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let (ok, http_status, error) = match outcome {
        Ok(Ok(status)) => (true, Some(status), None),
        Ok(Err((status, why))) => (false, status, Some(why)),
        Err(_) => (
            false,
            None,
            Some(format!("no answer within {} ms", target.timeout_ms)),
        ),
    };
    ProbeResult {
        ok,
        http_status,
        latency_ms,
        error,
        checked_at: Utc::now(),
    }
}

async fn attempt(client: &reqwest::Client, target: &Target) -> Result<u16, (Option<u16>, String)> {
    // Errors are reported without the URL: the target's name says which one it was.
    let mut resp = client
        .get(&target.url)
        .send()
        .await
        .map_err(|e| (None, describe(e)))?;
    let status = resp.status().as_u16();
    if status != target.expected_status {
        return Err((
            Some(status),
            format!("HTTP {status}, expected {}", target.expected_status),
        ));
    }
    if let Some(needle) = &target.body_contains {
        let mut body = Vec::new();
        while body.len() < BODY_LIMIT {
            match resp.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err((Some(status), describe(e))),
            }
        }
        body.truncate(BODY_LIMIT);
        if !String::from_utf8_lossy(&body).contains(needle.as_str()) {
            return Err((
                Some(status),
                "the body does not contain the expected text".into(),
            ));
        }
    }
    Ok(status)
}

fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_redirect() {
        "redirect refused"
    } else {
        "request failed"
    };
    // The innermost cause says what happened ("Connection refused"); the outer ones only
    // wrap it. None of them carries the URL once `without_url` dropped it.
    let e = e.without_url();
    let mut cause: &dyn std::error::Error = &e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("{kind}: {cause}")
}

/// Stores a probe's result and decides the target's transition under its row lock.
/// Returns `Some(true)` when it went down, `Some(false)` when it came back up.
pub async fn record(
    core: &Core,
    target: &Target,
    result: &ProbeResult,
) -> Result<Option<bool>, MonitorError> {
    let name = target.name.as_str();
    let mut tx = core.pool.begin().await?;
    let (svc, _) = catalog::lock_service(&mut tx, name, ServiceKind::External).await?;
    if svc.kind() != ServiceKind::External {
        tracing::warn!(
            service = name,
            "a heartbeating service has the name of an external target; probe ignored"
        );
        return Ok(None);
    }
    let details = serde_json::to_value(result).unwrap_or_default();
    checks::insert(
        &mut tx,
        &NewCheck {
            service: name.to_string(),
            instance_id: None,
            status: if result.ok { "up" } else { "down" },
            latency_ms: Some(result.latency_ms as i64),
            details: details.clone(),
        },
    )
    .await?;
    let failures = catalog::record_probe_state(&mut tx, name, result.ok, &details).await?;
    let threshold = core.settings.health.failures_before_down as i32;
    let change = match (svc.state.as_str(), result.ok) {
        ("down", true) => {
            catalog::set_state(&mut tx, name, "up", false).await?;
            let reason = format!("probe passed: HTTP {}", result.http_status.unwrap_or(0));
            super::catalog::announce(&mut tx, false, name, None, reason, svc.last_seen_at).await?;
            Some(false)
        }
        ("unknown", true) => {
            catalog::set_state(&mut tx, name, "up", false).await?;
            None
        }
        ("up" | "unknown", false) if failures >= threshold => {
            catalog::set_state(&mut tx, name, "down", true).await?;
            let why = result.error.clone().unwrap_or_default();
            let reason = format!("{failures} failed probe(s): {why}");
            super::catalog::announce(&mut tx, true, name, None, reason, svc.last_seen_at).await?;
            Some(true)
        }
        _ => None,
    };
    tx.commit().await?;
    match change {
        Some(true) => {
            core.metrics.transitions.with_label_values(&["down"]).inc();
            tracing::warn!(service = name, error = ?result.error, "external service down");
        }
        Some(false) => {
            core.metrics.transitions.with_label_values(&["up"]).inc();
            tracing::info!(service = name, "external service up again");
        }
        None => {}
    }
    Ok(change)
}

/// Probes one target, records the result and counts it.
pub async fn probe_and_record(core: &Core, target: &Target) -> ProbeResult {
    let result = probe(&core.probe_client, target).await;
    let label = if result.ok { "ok" } else { "failed" };
    core.metrics.probes.with_label_values(&[label]).inc();
    core.metrics
        .probe_seconds
        .with_label_values(&[label])
        .observe(result.latency_ms as f64 / 1000.0);
    if let Err(e) = record(core, target, &result).await {
        tracing::warn!(service = %target.name, error = %e, "probe result not recorded");
    }
    result
}

/// Probes every target now (bounded concurrency), for `/check-services`.
pub async fn probe_all(core: &Core) -> Vec<(String, ProbeResult)> {
    let permits = Arc::new(Semaphore::new(core.settings.health.max_concurrent_probes));
    let runs = core.settings.health.targets.iter().map(|t| {
        let permits = permits.clone();
        async move {
            let _permit = permits.acquire().await.expect("semaphore never closes");
            (t.name.clone(), probe_and_record(core, t).await)
        }
    });
    join_all(runs).await
}
