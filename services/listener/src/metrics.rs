use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts};
use telemetry::Metrics;

/// The listener's own Prometheus metrics.
#[derive(Clone)]
pub struct ListenerMetrics {
    /// Documents read from Elasticsearch, by source.
    pub documents_read: IntCounterVec,
    /// Records confirmed by the broker, by source and path (`elasticsearch`, `webhook`, `ingest`).
    pub published: IntCounterVec,
    /// Documents not published, by source and reason (`duplicate`, `invalid`).
    pub skipped: IntCounterVec,
    /// Failed Elasticsearch calls, by source and kind (`unreachable`, `status`, `decode`).
    pub es_failures: IntCounterVec,
    /// Records the broker did not confirm, by source.
    pub publish_failures: IntCounterVec,
    /// Webhook and ingest requests, by endpoint and outcome.
    pub webhook_requests: IntCounterVec,
    /// Seconds between now and the source's checkpoint.
    pub checkpoint_lag: GaugeVec,
    /// 1 while this replica holds the source's lease.
    pub source_held: IntGaugeVec,
}

impl ListenerMetrics {
    pub fn register(m: &Metrics) -> Self {
        let lag = GaugeVec::new(
            Opts::new(
                "listener_checkpoint_lag_seconds",
                "seconds between now and the checkpoint, by source",
            ),
            &["source"],
        )
        .expect("valid gauge");
        m.registry()
            .register(Box::new(lag.clone()))
            .expect("gauge registered once");
        ListenerMetrics {
            documents_read: m.counter(
                "listener_documents_read_total",
                "documents read from Elasticsearch, by source",
                &["source"],
            ),
            published: m.counter(
                "listener_documents_published_total",
                "log records confirmed by the broker, by source and path",
                &["source", "path"],
            ),
            skipped: m.counter(
                "listener_documents_skipped_total",
                "documents not published, by source and reason (duplicate, invalid)",
                &["source", "reason"],
            ),
            es_failures: m.counter(
                "listener_elasticsearch_failures_total",
                "failed Elasticsearch calls, by source and kind",
                &["source", "kind"],
            ),
            publish_failures: m.counter(
                "listener_publish_failures_total",
                "log records the broker did not confirm, by source",
                &["source"],
            ),
            webhook_requests: m.counter(
                "listener_webhook_requests_total",
                "webhook and ingest requests, by endpoint and outcome",
                &["endpoint", "outcome"],
            ),
            checkpoint_lag: lag,
            source_held: m.gauge_vec(
                "listener_source_held",
                "1 while this replica holds the source's lease",
                &["source"],
            ),
        }
    }
}
