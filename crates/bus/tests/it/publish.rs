//! The bus against the local RabbitMQ, one namespace per test: publishing, message
//! properties and trace context, and the topology.

use crate::common::*;
use bus::ConsumerOptions;
use domain::Event;
use domain::names::{exchange, queue};
use testkit::{TestBus, init_tracing};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[tokio::test]
async fn publish_consume_round_trip_carries_properties_and_trace() {
    init_tracing();
    let tb = TestBus::new().await;
    let cancel = CancellationToken::new();
    let mut rx = forward::<Event>(
        &tb.bus,
        ConsumerOptions::new(&tb.bus, queue::HEALTH_MONITOR_EVENTS),
        &cancel,
    );

    let env = audit("incident.acknowledge").correlated("corr-1");
    let span = tracing::info_span!("request");
    let expected_trace = {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        span.context().span().span_context().trace_id().to_string()
    };
    tb.bus.publish(&env).instrument(span).await.unwrap();

    let got = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(got.envelope, env);
    assert_eq!(got.routing_key, "audit.incident.acknowledge");
    assert_eq!(got.exchange, format!("{}.logs.events", tb.namespace));
    assert_eq!(
        got.properties.message_id.as_deref(),
        Some(env.id.to_string().as_str())
    );
    assert_eq!(
        got.properties.kind.as_deref(),
        Some("audit.incident.acknowledge")
    );
    assert_eq!(
        got.properties.content_type.as_deref(),
        Some("application/json")
    );
    assert!(got.properties.persistent);
    assert_eq!(
        got.properties.timestamp,
        Some(env.occurred_at.timestamp() as u64)
    );
    assert_eq!(got.attempt, 1);
    let tp = got.traceparent().expect("traceparent header");
    assert_eq!(
        bus::trace::trace_id_of(tp),
        Some(expected_trace.as_str()),
        "{tp}"
    );
    cancel.cancel();
}

#[tokio::test]
async fn declaring_the_topology_twice_is_harmless() {
    init_tracing();
    let tb = TestBus::new().await;
    tb.bus.declare_topology().await.unwrap();
    tb.bus.declare_topology().await.unwrap();
    let mut tap = tb.tap(exchange::EVENTS, &["audit.#"]).await;
    tb.bus.publish(&audit("x.y")).await.unwrap();
    tap.expect("audit.x.y", T).await;
    // Every design queue exists with its dead-letter queue.
    for q in domain::names::QUEUES {
        tb.bus.queue_depth(q.name).await.unwrap();
        tb.bus
            .queue_depth(&format!("{}.dlq", q.name))
            .await
            .unwrap();
    }
}

/// The queue types of a namespace's queues, as the broker reports them.
fn queue_types(namespace: &str) -> Vec<(String, String)> {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["list_queues", "-q", "-s", "name", "type"])
        .output()
        .expect("rabbitmqctl runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (name, kind) = (parts.next()?, parts.next()?);
            name.starts_with(&format!("{namespace}."))
                .then(|| (name.to_string(), kind.to_string()))
        })
        .collect()
}

#[tokio::test]
async fn quorum_queues_are_declared_when_configured_and_carry_messages() {
    init_tracing();
    let namespace = format!("q{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let settings = bus::BusSettings {
        url: testkit::amqp::broker_url(),
        namespace: namespace.clone(),
        queue_type: bus::QueueType::Quorum,
        ..bus::BusSettings::default()
    };
    let cancel = CancellationToken::new();
    let b = bus::Bus::connect(&settings, "tests", &cancel)
        .await
        .unwrap();
    b.declare_topology().await.unwrap();
    let types = queue_types(&namespace);
    assert_eq!(
        types.len(),
        2 * domain::names::QUEUES.len(),
        "every queue and its .dlq: {types:?}"
    );
    assert!(types.iter().all(|(_, t)| t == "quorum"), "{types:?}");
    // Re-declaring is idempotent with the same type.
    b.declare_topology().await.unwrap();
    let mut rx = forward::<Event>(
        &b,
        ConsumerOptions::new(&b, queue::HEALTH_MONITOR_EVENTS),
        &cancel,
    );
    b.publish(&audit("incident.acknowledge")).await.unwrap();
    let got = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(got.envelope.kind, "audit.incident.acknowledge");
    cancel.cancel();
    bus::topology::delete(&b, &[]).await.unwrap();
}
