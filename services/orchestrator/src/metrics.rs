use prometheus::{HistogramVec, IntCounterVec};
use telemetry::Metrics;

/// The orchestrator's own Prometheus metrics (outbox metrics come from the relay).
#[derive(Clone)]
pub struct OrchestratorMetrics {
    pub logs_ingested: IntCounterVec,
    pub logs_duplicate: IntCounterVec,
    pub batch_size: HistogramVec,
    pub batch_seconds: HistogramVec,
    pub incidents_opened: IntCounterVec,
    pub incidents_resolved: IntCounterVec,
    pub mttr_seconds: HistogramVec,
    pub actions_requested: IntCounterVec,
    pub actions_dry_run: IntCounterVec,
    pub denied: IntCounterVec,
    pub logs_too_old: IntCounterVec,
    pub actions_skipped_old: prometheus::IntCounter,
    pub postmortems: IntCounterVec,
}

impl OrchestratorMetrics {
    pub fn register(m: &Metrics) -> Self {
        OrchestratorMetrics {
            logs_ingested: m.counter(
                "logs_ingested_total",
                "logs stored, by source and level",
                &["source", "level"],
            ),
            logs_duplicate: m.counter(
                "logs_duplicate_total",
                "redelivered logs skipped, by source",
                &["source"],
            ),
            batch_size: m.histogram(
                "ingest_batch_size",
                "logs per ingest batch",
                &["path"],
                vec![1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0],
            ),
            batch_seconds: m.histogram(
                "ingest_batch_seconds",
                "time to store a batch (one transaction)",
                &["path"],
                vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
            ),
            incidents_opened: m.counter(
                "incidents_opened_total",
                "incidents opened, by rule and severity",
                &["rule", "severity"],
            ),
            incidents_resolved: m.counter(
                "incidents_resolved_total",
                "incidents resolved, by method",
                &["method"],
            ),
            mttr_seconds: m.histogram(
                "incident_mttr_seconds",
                "time from detection to resolution",
                &["severity"],
                vec![
                    10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0, 86400.0,
                ],
            ),
            actions_requested: m.counter(
                "actions_requested_total",
                "actions created, by type and channel",
                &["type", "channel"],
            ),
            logs_too_old: m.counter(
                "logs_too_old_for_detection_total",
                "logs stored without detection because older than incidents.max_log_age_secs",
                &["source"],
            ),
            actions_skipped_old: m
                .counter(
                    "actions_skipped_old_log_total",
                    "automatic actions not requested because the log was older than incidents.action_max_log_age_secs",
                    &[],
                )
                .with_label_values::<&str>(&[]),
            denied: m.counter(
                "denied_total",
                "requests refused by a role or the policy (each audited as audit.denied)",
                &["attempted", "channel"],
            ),
            actions_dry_run: m.counter(
                "actions_dry_run_total",
                "actions completed as dry runs (Jenkins not called; incidents stay open), by type",
                &["type"],
            ),
            postmortems: m.counter(
                "postmortems_written_total",
                "post-mortems written, by writer (llm, template) and trigger (resolved, on_demand)",
                &["writer", "trigger"],
            ),
        }
    }

    pub fn observe_resolution(&self, severity: &str, mttr: f64) {
        self.mttr_seconds
            .with_label_values(&[severity])
            .observe(mttr);
    }

    /// A resolution by a person or an action: its MTTR and its method.
    pub fn resolved(&self, row: &domain::commands::Incident) {
        self.observe_resolution(&row.severity, row.mttr_seconds.unwrap_or_default());
        let method = row.resolution_method.as_deref().unwrap_or("manual");
        self.incidents_resolved.with_label_values(&[method]).inc();
    }
}
