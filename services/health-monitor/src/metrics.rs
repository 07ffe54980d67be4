//! The health-monitor's own Prometheus metrics, on the process exposition (`/metrics`).
//! The fleet's figures (`/metrics/prometheus`) are computed from the database instead, so
//! every replica answers the same; see `api::metrics`.

use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGauge};
use telemetry::Metrics;

#[derive(Clone)]
pub struct MonitorMetrics {
    pub heartbeats: IntCounterVec,
    pub transitions: IntCounterVec,
    pub probes: IntCounterVec,
    pub probe_seconds: HistogramVec,
    pub events: IntCounterVec,
    pub leader: IntGauge,
    pub login_failures: IntCounter,
    pub http_requests: IntCounterVec,
    pub http_seconds: HistogramVec,
}

impl MonitorMetrics {
    pub fn register(m: &Metrics) -> Self {
        MonitorMetrics {
            heartbeats: m.counter(
                "heartbeats_received_total",
                "heartbeats handled, by outcome (applied, farewell, stale)",
                &["outcome"],
            ),
            transitions: m.counter(
                "health_transitions_total",
                "service up/down transitions this instance decided, by direction",
                &["direction"],
            ),
            probes: m.counter(
                "probes_total",
                "HTTP probes of external targets, by result (ok, failed)",
                &["result"],
            ),
            probe_seconds: m.histogram(
                "probe_duration_seconds",
                "time an HTTP probe took",
                &["result"],
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            ),
            events: m.counter(
                "events_received_total",
                "events from logs.events and POST /events, by outcome (stored, duplicate)",
                &["outcome"],
            ),
            leader: m.gauge(
                "health_leader",
                "1 while this instance holds the lease for probes, samples and compaction",
            ),
            login_failures: m
                .counter(
                    "dashboard_login_failures_total",
                    "failed or refused dashboard logins",
                    &[],
                )
                .with_label_values::<&str>(&[]),
            http_requests: m.counter(
                "http_requests_total",
                "HTTP requests by method, route template and status",
                &["method", "route", "status"],
            ),
            http_seconds: m.histogram(
                "http_request_duration_seconds",
                "HTTP request latency by method and route template",
                &["method", "route"],
                vec![
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
        }
    }
}
