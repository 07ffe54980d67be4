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
}
