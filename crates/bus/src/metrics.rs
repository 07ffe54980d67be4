//! Counters the consumers keep, per logical queue. They exist from `Bus::connect` on and
//! show on `/metrics` once a service registers them ([`crate::Bus::register_metrics`]).

use prometheus::core::Collector;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub(crate) struct BusMetrics {
    /// `bus_consumer_unavailable_total{queue}`: handler runs (or broker publishes) that met
    /// unavailable infrastructure; the message kept its attempts.
    pub unavailable: IntCounterVec,
    /// `bus_consumer_pauses_total{queue}`: times a consumer stopped taking deliveries.
    pub pauses: IntCounterVec,
    /// `bus_consumer_paused{queue}`: consumers of the queue paused right now.
    pub paused: IntGaugeVec,
    /// `bus_messages_retried_total{queue}`: failures the message itself caused, retried.
    pub retried: IntCounterVec,
    /// `bus_messages_dead_lettered_total{queue}`.
    pub dead_lettered: IntCounterVec,
    /// `bus_rpc_expired_total{queue}`: requests dropped because their caller gave up.
    pub expired: IntCounterVec,
}

impl BusMetrics {
    pub fn new() -> Self {
        let counter = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), &["queue"]).expect("valid counter")
        };
        BusMetrics {
            unavailable: counter(
                "bus_consumer_unavailable_total",
                "handler runs or broker publishes that found the infrastructure unavailable (no attempt counted)",
            ),
            pauses: counter(
                "bus_consumer_pauses_total",
                "times a consumer paused because its infrastructure was unavailable",
            ),
            paused: IntGaugeVec::new(
                Opts::new(
                    "bus_consumer_paused",
                    "consumers of the queue paused on unavailable infrastructure",
                ),
                &["queue"],
            )
            .expect("valid gauge"),
            retried: counter(
                "bus_messages_retried_total",
                "messages put back on their queue after a failure they caused",
            ),
            dead_lettered: counter(
                "bus_messages_dead_lettered_total",
                "messages sent to their dead-letter queue",
            ),
            expired: counter(
                "bus_rpc_expired_total",
                "requests dropped unanswered because their caller had given up",
            ),
        }
    }

    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        let all: [Box<dyn Collector>; 6] = [
            Box::new(self.unavailable.clone()),
            Box::new(self.pauses.clone()),
            Box::new(self.paused.clone()),
            Box::new(self.retried.clone()),
            Box::new(self.dead_lettered.clone()),
            Box::new(self.expired.clone()),
        ];
        for c in all {
            registry.register(c)?;
        }
        Ok(())
    }
}
