//! Heartbeats every service publishes on the `health` exchange.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::envelope::{Decode, DecodeError, Payload, parse_payload};
use crate::names::{exchange, heartbeat_key};

pub const HEARTBEAT_KIND: &str = "health.heartbeat";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    /// Every dependency check passes.
    Up,
    /// Running and ready, but an external system it works with (Jenkins, Elasticsearch,
    /// Slack, Ollama) does not answer; or a required check fails (then `ready` is false).
    Degraded,
    /// Shutting down: the last heartbeat before exit.
    Stopping,
}

/// The result of one dependency check (database, broker, Jenkins...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckResult {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub latency_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Heartbeat {
    pub service: String,
    /// Unique per process: replicas of one service have different ids.
    pub instance_id: String,
    pub version: String,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub status: ServiceStatus,
    pub checks: BTreeMap<String, CheckResult>,
    /// Whether the service's own infrastructure checks (database, broker) pass, i.e. what
    /// its `/ready` answers.
    #[serde(default = "yes")]
    pub ready: bool,
    /// External dependencies whose check fails (reported, not a reason to be unready).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<String>,
    /// Seconds between heartbeats, so the monitor knows when one is late.
    pub interval_secs: u64,
}

fn yes() -> bool {
    true
}

impl Payload for Heartbeat {
    fn kind(&self) -> String {
        HEARTBEAT_KIND.to_string()
    }

    fn routing_key(&self) -> String {
        heartbeat_key(&self.service)
    }

    fn exchange(&self) -> &'static str {
        exchange::HEALTH
    }
}

impl Decode for Heartbeat {
    fn decode(kind: &str, payload: &RawValue) -> Result<Self, DecodeError> {
        if kind != HEARTBEAT_KIND {
            return Err(DecodeError::UnexpectedType(kind.to_string()));
        }
        parse_payload(kind, payload)
    }
}

/// Whether a monitored service is one of Runbooks' own (it sends heartbeats) or a system
/// outside Runbooks that the health-monitor probes over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    Runbooks,
    External,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Runbooks => "runbooks",
            ServiceKind::External => "external",
        }
    }
}

/// How a monitored service is doing, as the health-monitor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceHealthStatus {
    /// Every live instance reports up (or the last probe passed).
    Up,
    /// Alive, but an instance reports a failing dependency or is not ready.
    Degraded,
    /// No instance heartbeats any more (or probes fail): `health.service.down` was sent.
    Down,
    /// Every instance said goodbye on a clean shutdown: not an outage, no alarm.
    Stopped,
    /// An external target not probed yet.
    Unknown,
}

impl ServiceHealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceHealthStatus::Up => "up",
            ServiceHealthStatus::Degraded => "degraded",
            ServiceHealthStatus::Down => "down",
            ServiceHealthStatus::Stopped => "stopped",
            ServiceHealthStatus::Unknown => "unknown",
        }
    }

    /// Serving requests (possibly impaired).
    pub fn is_healthy(self) -> bool {
        matches!(
            self,
            ServiceHealthStatus::Up | ServiceHealthStatus::Degraded
        )
    }
}

/// One service in the reply to `command.health.status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceHealthSummary {
    pub service: String,
    pub kind: ServiceKind,
    pub status: ServiceHealthStatus,
    /// Known instances (live and dead; an external target counts as one).
    pub instances: u32,
    /// Instances heartbeating (or 1 for an external target whose last probe passed).
    pub instances_up: u32,
    /// Last heartbeat, or last successful probe.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Share of checks that were up over the last 24 hours; `None` without checks.
    pub uptime_percent_24h: Option<f64>,
    /// External dependencies its live instances report as failing.
    #[serde(default)]
    pub degraded: Vec<String>,
}

/// `command.health.status`: every monitored service, or one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthStatusRequest {
    /// One service (`orchestrator`, `runner`, `listener`, `chatops`, `health-monitor`, or an
    /// external target); default: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub service: Option<String>,
}

impl HealthStatusRequest {
    /// The service name, trimmed: 1..=128 characters without control characters.
    pub fn check(&self) -> Result<Option<&str>, crate::invalid::InvalidField> {
        match self.service.as_deref() {
            None => Ok(None),
            Some(s)
                if s.trim().is_empty()
                    || s.chars().count() > 128
                    || s.chars().any(char::is_control) =>
            {
                Err(crate::invalid::InvalidField::new(
                    "service",
                    "service must be 1..=128 characters without control characters",
                ))
            }
            Some(s) => Ok(Some(s.trim())),
        }
    }
}

/// The reply data of `command.health.status` (for `/devops status` and the MCP tool).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HealthStatusReport {
    /// Services up or degraded.
    pub healthy_services: u32,
    /// Services monitored, stopped ones excluded.
    pub total_services: u32,
    pub checked_at: DateTime<Utc>,
    pub services: Vec<ServiceHealthSummary>,
}

impl HealthStatusReport {
    /// One line that never calls a degraded service simply healthy: `5/5 services up` only
    /// when all are up, else `2/5 services up · 3 degraded: a (jenkins), b, c · 0 down`.
    pub fn summary(&self) -> String {
        let counted = || {
            self.services
                .iter()
                .filter(|s| s.status != ServiceHealthStatus::Stopped)
        };
        let degraded: Vec<String> = counted()
            .filter(|s| s.status == ServiceHealthStatus::Degraded)
            .map(|s| {
                if s.degraded.is_empty() {
                    s.service.clone()
                } else {
                    format!("{} ({})", s.service, s.degraded.join(", "))
                }
            })
            .collect();
        let down: Vec<String> = counted()
            .filter(|s| !s.status.is_healthy())
            .map(|s| s.service.clone())
            .collect();
        let up = counted()
            .filter(|s| s.status == ServiceHealthStatus::Up)
            .count();
        let total = self.total_services.max(counted().count() as u32);
        let mut line = format!("{up}/{total} services up");
        if !degraded.is_empty() {
            line.push_str(&format!(
                " · {} degraded: {}",
                degraded.len(),
                degraded.join(", ")
            ));
        }
        if !down.is_empty() {
            line.push_str(&format!(" · {} down: {}", down.len(), down.join(", ")));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Envelope, decode_envelope};

    #[test]
    fn heartbeat_round_trip_and_routing() {
        let hb = Heartbeat {
            service: "runner".into(),
            instance_id: "runner-abc".into(),
            version: "0.1.0".into(),
            host: "h1".into(),
            started_at: "2026-11-01T10:00:00Z".parse().unwrap(),
            status: ServiceStatus::Degraded,
            checks: BTreeMap::from([(
                "database".to_string(),
                CheckResult {
                    ok: false,
                    detail: Some("timeout".into()),
                    latency_ms: 2000,
                },
            )]),
            ready: false,
            degraded: vec![],
            interval_secs: 5,
        };
        assert_eq!(hb.routing_key(), "health.heartbeat.runner");
        let back: Envelope<Heartbeat> =
            decode_envelope(&Envelope::new("runner", hb.clone()).to_json()).unwrap();
        assert_eq!(back.payload, hb);
    }

    #[test]
    fn status_report_keeps_the_wire_names() {
        let report = HealthStatusReport {
            healthy_services: 1,
            total_services: 2,
            checked_at: "2026-11-01T10:00:00Z".parse().unwrap(),
            services: vec![ServiceHealthSummary {
                service: "orchestrator".into(),
                kind: ServiceKind::Runbooks,
                status: ServiceHealthStatus::Degraded,
                instances: 2,
                instances_up: 1,
                last_seen_at: None,
                uptime_percent_24h: Some(99.5),
                degraded: vec!["jenkins".into()],
            }],
        };
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(v["healthy_services"], 1);
        assert_eq!(v["total_services"], 2);
        let s = &v["services"][0];
        assert_eq!(s["kind"], "runbooks");
        assert_eq!(s["status"], "degraded");
        assert_eq!(s["instances_up"], 1);
        assert_eq!(s["last_seen_at"], serde_json::Value::Null);
        assert_eq!(s["uptime_percent_24h"], 99.5);
        assert_eq!(s["degraded"][0], "jenkins");
        let back: HealthStatusReport = serde_json::from_value(v).unwrap();
        assert_eq!(back, report);
    }

    fn svc(name: &str, status: ServiceHealthStatus, degraded: &[&str]) -> ServiceHealthSummary {
        ServiceHealthSummary {
            service: name.into(),
            kind: ServiceKind::Runbooks,
            status,
            instances: 1,
            instances_up: 1,
            last_seen_at: None,
            uptime_percent_24h: None,
            degraded: degraded.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn the_summary_says_what_is_degraded_and_down() {
        use ServiceHealthStatus::*;
        let mut report = HealthStatusReport {
            healthy_services: 5,
            total_services: 5,
            checked_at: "2026-11-01T10:00:00Z".parse().unwrap(),
            services: vec![
                svc("orchestrator", Up, &[]),
                svc("runner", Degraded, &["jenkins"]),
                svc("chatops", Degraded, &["slack", "ollama"]),
                svc("listener", Degraded, &[]),
                svc("health-monitor", Up, &[]),
            ],
        };
        assert_eq!(
            report.summary(),
            "2/5 services up · 3 degraded: runner (jenkins), chatops (slack, ollama), listener"
        );
        report.services[3].status = Down;
        report.services.push(svc("old", Stopped, &[]));
        assert_eq!(
            report.summary(),
            "2/5 services up · 2 degraded: runner (jenkins), chatops (slack, ollama) · 1 down: listener"
        );
        report.services.truncate(1);
        report.total_services = 1;
        assert_eq!(report.summary(), "1/1 services up");
    }
}
