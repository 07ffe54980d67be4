//! RPC requests whose caller gave up never pile up in `<queue>.dlq`: the broker drops the
//! ones that expire in the queue, the server drops (and counts) the ones it reaches too
//! late; malformed requests are still dead-lettered with their reason.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::common::T;
use bus::{Bus, BusError, ConsumerOptions, Message, OutgoingMessage};
use domain::Envelope;
use domain::commands::CommandReply;
use domain::names::{exchange, queue};
use testkit::{TestBus, init_tracing, wait_until};
use tokio_util::sync::CancellationToken;

const Q: &str = queue::ORCHESTRATOR_COMMANDS;

fn dlq() -> String {
    format!("{Q}.dlq")
}

fn expired_count(registry: &prometheus::Registry) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == "bus_rpc_expired_total")
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| m.get_label().iter().any(|l| l.value() == Q))
        .map(|m| m.get_counter().get_value())
        .sum()
}

async fn time_out(client: &Bus, command: &str, n: usize) {
    for _ in 0..n {
        let err = client
            .request_with_timeout(command, serde_json::json!({}), Duration::from_millis(150))
            .await
            .unwrap_err();
        assert!(matches!(err, BusError::RpcTimeout { .. }), "{err}");
    }
}

#[tokio::test]
async fn requests_that_expire_in_the_queue_are_dropped_not_dead_lettered() {
    init_tracing();
    let tb = TestBus::new().await;
    // Nobody serves the queue: the requests expire there.
    time_out(&tb.bus, "command.incidents.list", 4).await;
    wait_until("the expired requests left the queue", T, || async {
        tb.bus.queue_depth(Q).await.unwrap() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        tb.bus.queue_depth(&dlq()).await.unwrap(),
        0,
        "nothing piles up in the dead-letter queue"
    );
}

#[tokio::test]
async fn requests_reached_after_their_deadline_are_dropped_and_counted() {
    init_tracing();
    let tb = TestBus::new().await;
    let registry = prometheus::Registry::new();
    tb.bus.register_metrics(&registry).unwrap();
    let served = Arc::new(AtomicU32::new(0));
    let cancel = CancellationToken::new();
    let (server, c, s) = (tb.bus.clone(), cancel.clone(), served.clone());
    tokio::spawn(async move {
        server
            .serve(
                // One at a time: the fast requests wait, delivered, behind the slow one.
                ConsumerOptions::new(&server, Q).concurrency(1),
                move |m: Message<serde_json::Value>| {
                    let s = s.clone();
                    async move {
                        if m.routing_key == "command.stats.get" {
                            tokio::time::sleep(Duration::from_millis(1200)).await;
                        } else {
                            s.fetch_add(1, Ordering::SeqCst);
                        }
                        CommandReply::ok(serde_json::json!({}))
                    }
                },
                c,
            )
            .await
    });
    let client = Bus::connect(&tb.settings, "rpc-client", &cancel)
        .await
        .unwrap();
    let slow = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .request_with_timeout(
                    "command.stats.get",
                    serde_json::json!({}),
                    Duration::from_secs(5),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    time_out(&client, "command.incidents.list", 3).await;
    assert!(slow.await.unwrap().unwrap().ok, "the slow one is answered");
    wait_until("three expired requests counted", T, || async {
        expired_count(&registry) == 3.0
    })
    .await;
    assert_eq!(served.load(Ordering::SeqCst), 0, "never handled");
    // The server still answers live requests.
    let live = client
        .request("command.incidents.list", serde_json::json!({}))
        .await
        .unwrap();
    assert!(live.ok);
    assert_eq!(tb.bus.queue_depth(&dlq()).await.unwrap(), 0);
    cancel.cancel();
}

#[tokio::test]
async fn malformed_requests_are_still_dead_lettered_with_their_reason() {
    init_tracing();
    let tb = TestBus::new().await;
    let cancel = CancellationToken::new();
    let (server, c) = (tb.bus.clone(), cancel.clone());
    tokio::spawn(async move {
        server
            .serve(
                ConsumerOptions::new(&server, Q),
                |_m: Message<serde_json::Value>| async { CommandReply::ok(serde_json::json!({})) },
                c,
            )
            .await
    });
    let env = Envelope::with_kind("command.incidents.get", "tests", serde_json::json!({}));
    let mut garbage = OutgoingMessage::to(exchange::COMMANDS, "command.incidents.get", &env);
    garbage.body = b"not an envelope".to_vec();
    tb.bus.publish_message(&garbage).await.unwrap();
    // A well-formed request nobody can answer.
    let no_reply = OutgoingMessage::to(exchange::COMMANDS, "command.incidents.get", &env);
    tb.bus.publish_message(&no_reply).await.unwrap();
    wait_until("two dead letters", T, || async {
        tb.bus.queue_depth(&dlq()).await.unwrap() == 2
    })
    .await;
    let mut reasons = Vec::new();
    while let Some(m) = tb.bus.fetch(&dlq()).await.unwrap() {
        reasons.push(m.headers[bus::header::DEATH_REASON].clone());
    }
    reasons.sort();
    assert!(reasons[0].starts_with("malformed: "), "{reasons:?}");
    assert_eq!(reasons[1], "request without reply_to");
    cancel.cancel();
}
