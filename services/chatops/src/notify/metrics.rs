//! The notifier's and bot's Prometheus metrics (prefixed `runbooks_`, `service="chatops"`).

use prometheus::{IntCounterVec, IntGauge};
use telemetry::Metrics;

#[derive(Clone)]
pub struct NotifyMetrics {
    /// `chatops_slack_calls_total{method, outcome}`: ok, rate_limited, retry, rejected.
    pub calls: IntCounterVec,
    /// `chatops_events_total{type, outcome}`: applied, duplicate.
    pub events: IntCounterVec,
    /// `chatops_slack_backlog`: messages waiting to be sent.
    pub backlog: IntGauge,
    /// `chatops_commands_total{source, command, outcome}`.
    pub commands: IntCounterVec,
}

impl NotifyMetrics {
    pub fn register(m: &Metrics) -> Self {
        NotifyMetrics {
            calls: m.counter(
                "chatops_slack_calls_total",
                "slack web api calls by method and outcome",
                &["method", "outcome"],
            ),
            events: m.counter(
                "chatops_events_total",
                "notification events by type and outcome",
                &["type", "outcome"],
            ),
            backlog: m.gauge("chatops_slack_backlog", "slack messages waiting to be sent"),
            commands: m.counter(
                "chatops_commands_total",
                "slack commands by source, command and outcome",
                &["source", "command", "outcome"],
            ),
        }
    }

    pub fn sent(&self, method: &str, outcome: &str) {
        self.calls.with_label_values(&[method, outcome]).inc();
    }
}
