//! The bus against the local RabbitMQ, one namespace per test: recovery after the
//! broker drops a connection or a queue, and RPC.

use crate::common::*;
use std::time::Duration;

use bus::{Bus, BusError, ConsumerOptions, Message};
use domain::Event;
use domain::commands::{CommandReply, ErrorCode};
use domain::events::kind;
use domain::names::queue;
use testkit::{TestBus, init_tracing, wait_until};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn publishing_and_consuming_resume_after_the_broker_closes_the_connection() {
    init_tracing();
    let tb = TestBus::new().await;
    let name = format!("victim-{}", tb.namespace);
    let cancel = CancellationToken::new();
    let victim = Bus::connect(&tb.settings, &name, &cancel).await.unwrap();
    let mut rx = forward::<Event>(
        &victim,
        ConsumerOptions::new(&victim, queue::HEALTH_MONITOR_EVENTS),
        &cancel,
    );

    let mut confirmed = Vec::new();
    for i in 0..20 {
        let env = audit(&format!("before.n{i}"));
        victim.publish(&env).await.unwrap();
        confirmed.push(env.id);
    }
    wait_until("connection listed", T, || async { true }).await;
    let closed = tokio::task::spawn_blocking({
        let name = name.clone();
        move || testkit::amqp::close_connections_named(&name)
    })
    .await
    .unwrap();
    assert_eq!(closed, 1, "the broker closed our connection");

    // Publishing works again once lapin has recovered; keep every confirmed id.
    for i in 0..20 {
        let env = audit(&format!("after.n{i}"));
        let mut tries = 0;
        loop {
            match victim.publish(&env).await {
                Ok(()) => break,
                Err(e) => {
                    tries += 1;
                    assert!(tries < 100, "publishing never resumed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        confirmed.push(env.id);
    }
    let mut seen = std::collections::HashSet::new();
    while seen.len() < confirmed.len() {
        let m = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {} delivered", seen.len(), confirmed.len()))
            .unwrap();
        seen.insert(m.envelope.id);
    }
    assert!(confirmed.iter().all(|id| seen.contains(id)));
    assert!(victim.is_connected());
    cancel.cancel();
}

#[tokio::test]
async fn the_consumer_comes_back_after_its_queue_is_deleted() {
    init_tracing();
    let tb = TestBus::new().await;
    let cancel = CancellationToken::new();
    let mut rx = forward::<Event>(
        &tb.bus,
        ConsumerOptions::new(&tb.bus, queue::HEALTH_MONITOR_EVENTS),
        &cancel,
    );
    tb.bus.publish(&audit("first.one")).await.unwrap();
    tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();

    // Deleting the queue cancels the consumer from the broker side.
    bus::topology::delete(&tb.bus, &[]).await.unwrap();
    wait_until("queue re-declared", T, || async {
        tb.bus
            .queue_depth(queue::HEALTH_MONITOR_EVENTS)
            .await
            .is_ok()
    })
    .await;
    tb.bus.declare_topology().await.unwrap();
    let env = audit("second.one");
    let mut got = None;
    for _ in 0..50 {
        tb.bus.publish(&env).await.unwrap();
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            got = Some(m);
            break;
        }
    }
    assert_eq!(
        got.expect("consumer came back").envelope.kind,
        kind::AUDIT_PREFIX.to_string() + "second.one"
    );
    cancel.cancel();
}

#[tokio::test]
async fn rpc_round_trip_and_timeout() {
    init_tracing();
    let tb = TestBus::new().await;
    let cancel = CancellationToken::new();
    let server = tb.bus.clone();
    let c = cancel.clone();
    tokio::spawn(async move {
        server
            .serve(
                ConsumerOptions::new(&server, queue::ORCHESTRATOR_COMMANDS),
                |m: Message<serde_json::Value>| async move {
                    match m.routing_key.as_str() {
                        "command.incidents.get" => {
                            let id = m.envelope.payload["id"].as_i64().unwrap_or(0);
                            if id == 7 {
                                CommandReply::ok(
                                    serde_json::json!({"id": 7, "title": "Build failed"}),
                                )
                            } else {
                                CommandReply::err(
                                    ErrorCode::NotFound,
                                    format!("incident {id} not found"),
                                )
                            }
                        }
                        "command.incidents.list" => CommandReply::ok(serde_json::json!({
                            "user_id": m.properties.user_id,
                            "on_behalf_of": m.headers.get(bus::header::ON_BEHALF_OF),
                        })),
                        "command.stats.get" => {
                            tokio::time::sleep(Duration::from_secs(3)).await;
                            CommandReply::ok(serde_json::json!({}))
                        }
                        other => {
                            CommandReply::err(ErrorCode::BadRequest, format!("unknown {other}"))
                        }
                    }
                },
                c,
            )
            .await
    });
    let client = Bus::connect(&tb.settings, "rpc-client", &cancel)
        .await
        .unwrap();
    let reply = client
        .request("command.incidents.get", serde_json::json!({"id": 7}))
        .await
        .unwrap();
    assert_eq!(reply.into_result().unwrap()["title"], "Build failed");
    let reply = client
        .request("command.incidents.get", serde_json::json!({"id": 8}))
        .await
        .unwrap();
    assert_eq!(reply.into_result().unwrap_err().code, ErrorCode::NotFound);

    // The broker-validated user and the delegated end user reach the server.
    let who = client
        .request_with(
            "command.incidents.list",
            serde_json::json!({}),
            bus::RequestOptions::on_behalf_of("slack:U1"),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(who["user_id"], tb.settings.user().as_str());
    assert_eq!(who["on_behalf_of"], "slack:U1");
    let who = client
        .request("command.incidents.list", serde_json::json!({}))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert!(who["on_behalf_of"].is_null(), "{who}");

    // Concurrent calls each get their own reply.
    let calls =
        (0..10).map(|_| client.request("command.incidents.get", serde_json::json!({"id": 7})));
    for r in futures_util::future::join_all(calls).await {
        assert!(r.unwrap().ok);
    }

    let started = std::time::Instant::now();
    let err = client
        .request_with_timeout(
            "command.stats.get",
            serde_json::json!({}),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, BusError::RpcTimeout { ref command, .. } if command == "command.stats.get"),
        "{err}"
    );
    assert!(err.to_string().contains("no reply to `command.stats.get`"));
    assert!(started.elapsed() < Duration::from_secs(2));

    // A command no queue is bound for fails at once instead of timing out.
    let err = client
        .request("command.nothing.here", serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::Unroutable { .. }), "{err}");
    cancel.cancel();
}
