use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// A Prometheus registry whose metrics are all named `runbooks_*`. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    dependency: std::sync::Arc<std::sync::OnceLock<IntGaugeVec>>,
}

impl Metrics {
    /// Every metric carries a constant `service` label.
    pub fn new(service: &str) -> Self {
        let labels =
            std::collections::HashMap::from([("service".to_string(), service.to_string())]);
        let registry = Registry::new_custom(Some("runbooks".into()), Some(labels))
            .expect("valid registry prefix");
        Metrics {
            registry,
            dependency: Default::default(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding of gathered metrics");
        String::from_utf8(buf).expect("prometheus text is utf-8")
    }

    // Metric names are static and registered once at start: a clash is a programming error.
    pub fn counter(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter");
        self.registry
            .register(Box::new(c.clone()))
            .expect("counter registered once");
        c
    }

    pub fn gauge(&self, name: &str, help: &str) -> IntGauge {
        let g = IntGauge::new(name, help).expect("valid gauge");
        self.registry
            .register(Box::new(g.clone()))
            .expect("gauge registered once");
        g
    }

    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid gauge");
        self.registry
            .register(Box::new(g.clone()))
            .expect("gauge registered once");
        g
    }

    /// `runbooks_dependency_up{dependency, kind}`: 1 when the last check passed. Shared by
    /// `/ready` and the heartbeat, registered on first use.
    pub fn dependency_gauge(&self) -> IntGaugeVec {
        self.dependency
            .get_or_init(|| {
                self.gauge_vec(
                    "dependency_up",
                    "1 when the dependency answered its last check (kind: required or external)",
                    &["dependency", "kind"],
                )
            })
            .clone()
    }

    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: Vec<f64>,
    ) -> HistogramVec {
        let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
            .expect("valid histogram");
        self.registry
            .register(Box::new(h.clone()))
            .expect("histogram registered once");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_prefix_and_service_label() {
        let m = Metrics::new("runner");
        m.counter("actions_total", "actions run", &["outcome"])
            .with_label_values(&["ok"])
            .inc();
        let text = m.render();
        assert!(
            text.contains(r#"runbooks_actions_total{outcome="ok",service="runner"} 1"#),
            "{text}"
        );
    }
}
