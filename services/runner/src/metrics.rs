//! The runner's Prometheus metrics (all prefixed `runbooks_`, labelled `service="runner"`).

use std::sync::Arc;
use std::time::Duration;

use prometheus::{HistogramVec, IntCounterVec, IntGauge};
use telemetry::Metrics;

use crate::jenkins::LatencyObserver;

#[derive(Clone)]
pub struct RunnerMetrics {
    /// `runner_actions_total{action_type, outcome}`: completed, failed, rejected, dry_run.
    pub actions: IntCounterVec,
    /// `runner_guard_rejections_total{reason}`: the rejection class.
    pub rejections: IntCounterVec,
    /// `runner_jenkins_request_duration_seconds{operation, ok}`.
    pub jenkins_latency: HistogramVec,
    /// `runner_action_duration_seconds{action_type}`: claim to finish.
    pub action_duration: HistogramVec,
    /// `runner_actions_in_flight`: claimed by this replica and not finished.
    pub in_flight: IntGauge,
    /// `runner_actions_lost_total`: running actions whose lease expired.
    pub lost: IntCounterVec,
    /// `runner_actions_handed_over_total`: actions this replica stopped following at
    /// shutdown, left for the next runner.
    pub handed_over: IntCounterVec,
    /// `runner_actions_resumed_total`: triggered actions this replica took over.
    pub resumed: IntCounterVec,
    /// `runner_changes_requests_total{outcome}`: `command.jenkins.changes` answered, by
    /// outcome (`ok` or the error code).
    pub changes_requests: IntCounterVec,
}

impl RunnerMetrics {
    pub fn register(m: &Metrics) -> Self {
        RunnerMetrics {
            actions: m.counter(
                "runner_actions_total",
                "actions finished or rejected, by type and outcome",
                &["action_type", "outcome"],
            ),
            rejections: m.counter(
                "runner_guard_rejections_total",
                "requests the guard rejected, by reason",
                &["reason"],
            ),
            jenkins_latency: m.histogram(
                "runner_jenkins_request_duration_seconds",
                "latency of requests to jenkins, by operation",
                &["operation", "ok"],
                vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            ),
            action_duration: m.histogram(
                "runner_action_duration_seconds",
                "time from claim to finish of an action",
                &["action_type"],
                vec![0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0],
            ),
            in_flight: m.gauge(
                "runner_actions_in_flight",
                "actions this replica has claimed and not finished",
            ),
            lost: m.counter(
                "runner_actions_lost_total",
                "running actions declared lost because their lease expired",
                &[],
            ),
            handed_over: m.counter(
                "runner_actions_handed_over_total",
                "triggered actions handed over at shutdown for another runner to follow",
                &[],
            ),
            resumed: m.counter(
                "runner_actions_resumed_total",
                "triggered actions taken over from a runner that stopped",
                &[],
            ),
            changes_requests: m.counter(
                "runner_changes_requests_total",
                "requests for the commits of a build, by outcome",
                &["outcome"],
            ),
        }
    }

    /// Feeds the Jenkins client's per-request latencies into the histogram.
    pub fn jenkins_observer(&self) -> LatencyObserver {
        let histogram = self.jenkins_latency.clone();
        Arc::new(
            move |operation: &'static str, latency: Duration, ok: bool| {
                histogram
                    .with_label_values(&[operation, if ok { "true" } else { "false" }])
                    .observe(latency.as_secs_f64());
            },
        )
    }

    /// Counts one action in flight until the returned guard drops, even when the task is
    /// aborted at shutdown.
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }
}

pub struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
