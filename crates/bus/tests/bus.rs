//! The bus against the local RabbitMQ, one namespace per test.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bus::{Bus, BusError, ConsumerOptions, HandlerError, Message, OutgoingMessage};
use domain::commands::{CommandReply, ErrorCode};
use domain::events::{AuditRecord, kind};
use domain::names::{exchange, queue};
use domain::{Channel, Envelope, Event, LogRecord};
use testkit::{TestBus, init_tracing, wait_until};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

const T: Duration = Duration::from_secs(10);

fn audit(verb: &str) -> Envelope<Event> {
    Envelope::new(
        "tests",
        Event::Audit(AuditRecord {
            verb: verb.into(),
            actor: "ana".into(),
            channel: Channel::Api,
            target_type: "incident".into(),
            target_id: Some("1".into()),
            details: None,
            at: chrono::Utc::now(),
        }),
    )
}

/// A consumer on `queue` forwarding decoded messages to a channel.
fn forward<T: domain::Decode + Send + Sync + 'static>(
    bus: &Bus,
    opts: ConsumerOptions,
    cancel: &CancellationToken,
) -> mpsc::UnboundedReceiver<Message<T>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let bus = bus.clone();
    let cancel = cancel.clone();
    tokio::spawn(async move {
        bus.consume(
            opts,
            move |m: Message<T>| {
                let tx = tx.clone();
                async move { tx.send(m).map_err(|_| HandlerError::retry("receiver gone")) }
            },
            cancel,
        )
        .await
    });
    rx
}

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

#[tokio::test]
async fn a_malformed_message_goes_to_the_dlq_with_its_reason() {
    init_tracing();
    let tb = TestBus::new().await;
    let cancel = CancellationToken::new();
    let mut rx = forward::<LogRecord>(
        &tb.bus,
        ConsumerOptions::new(&tb.bus, queue::ORCHESTRATOR_LOGS),
        &cancel,
    );

    let mut garbage = OutgoingMessage::to(
        exchange::LOGS,
        "logs.api.error",
        &Envelope::with_kind("log.api", "x", ()),
    );
    garbage.body = b"{not json".to_vec();
    tb.bus.publish_message(&garbage).await.unwrap();
    // A valid envelope whose payload is not a log record is malformed too.
    let wrong = OutgoingMessage::to(
        exchange::LOGS,
        "logs.api.error",
        &Envelope::with_kind("log.api", "x", serde_json::json!({"level": "error"})),
    );
    tb.bus.publish_message(&wrong).await.unwrap();

    let dlq = format!("{}.dlq", queue::ORCHESTRATOR_LOGS);
    wait_until("two dead letters", T, || async {
        tb.bus.queue_depth(&dlq).await.unwrap() == 2
    })
    .await;
    let first = tb.bus.fetch(&dlq).await.unwrap().unwrap();
    assert_eq!(first.body, b"{not json");
    let reason = &first.headers[bus::header::DEATH_REASON];
    assert!(
        reason.starts_with("malformed: body is not a valid envelope"),
        "{reason}"
    );
    assert_eq!(
        first.headers[bus::header::ORIGINAL_ROUTING_KEY],
        "logs.api.error"
    );
    let second = tb.bus.fetch(&dlq).await.unwrap().unwrap();
    assert!(second.headers[bus::header::DEATH_REASON].contains("invalid `log.api` payload"));
    assert!(rx.try_recv().is_err(), "the handler never saw them");
    assert_eq!(
        tb.bus.queue_depth(queue::ORCHESTRATOR_LOGS).await.unwrap(),
        0,
        "nothing blocks the queue"
    );
    cancel.cancel();
}

#[tokio::test]
async fn a_failing_handler_ends_in_the_dlq_after_max_attempts() {
    init_tracing();
    let tb = TestBus::new().await;
    let cancel = CancellationToken::new();
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let opts = ConsumerOptions::new(&tb.bus, queue::HEALTH_MONITOR_EVENTS)
        .max_attempts(3)
        .retry_delay(Duration::from_millis(5));
    let bus = tb.bus.clone();
    let c = cancel.clone();
    tokio::spawn(async move {
        bus.consume(
            opts,
            move |m: Message<Event>| {
                let seen = seen.clone();
                async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(HandlerError::retry(format!(
                        "database down (attempt {})",
                        m.attempt
                    )))
                }
            },
            c,
        )
        .await
    });
    tb.bus.publish(&audit("a.b")).await.unwrap();
    let dlq = format!("{}.dlq", queue::HEALTH_MONITOR_EVENTS);
    wait_until("dead letter", T, || async {
        tb.bus.queue_depth(&dlq).await.unwrap() == 1
    })
    .await;
    let dead = tb.bus.fetch(&dlq).await.unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(dead.headers[bus::header::ATTEMPTS], "3");
    assert!(
        dead.headers[bus::header::DEATH_REASON]
            .contains("failed 3 times: database down (attempt 3)")
    );
    // Rejected messages skip the retries.
    cancel.cancel();
}

#[tokio::test]
async fn a_rejected_message_is_dead_lettered_at_once() {
    init_tracing();
    let tb = TestBus::new().await;
    let cancel = CancellationToken::new();
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let bus = tb.bus.clone();
    let c = cancel.clone();
    let opts = ConsumerOptions::new(&tb.bus, queue::HEALTH_MONITOR_EVENTS).max_attempts(5);
    tokio::spawn(async move {
        bus.consume(
            opts,
            move |_m: Message<Event>| {
                seen.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(HandlerError::reject("unknown incident")) }
            },
            c,
        )
        .await
    });
    tb.bus.publish(&audit("a.b")).await.unwrap();
    let dlq = format!("{}.dlq", queue::HEALTH_MONITOR_EVENTS);
    wait_until("dead letter", T, || async {
        tb.bus.queue_depth(&dlq).await.unwrap() == 1
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    cancel.cancel();
}

#[tokio::test]
async fn batches_are_acked_together_and_bad_messages_are_split_out() {
    init_tracing();
    let tb = TestBus::new().await;
    let cancel = CancellationToken::new();
    let stored = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sizes = Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
    let (st, sz) = (stored.clone(), sizes.clone());
    let opts = ConsumerOptions::new(&tb.bus, queue::HEALTH_MONITOR_EVENTS)
        .batch(50, Duration::from_millis(200))
        .max_attempts(2)
        .retry_delay(Duration::ZERO);
    // Publish first so the batch fills at once.
    for i in 0..40 {
        let verb = if i == 17 {
            "poison.pill".to_string()
        } else {
            format!("ok.n{i}")
        };
        tb.bus.publish(&audit(&verb)).await.unwrap();
    }
    let bus = tb.bus.clone();
    let c = cancel.clone();
    tokio::spawn(async move {
        bus.consume_batches(
            opts,
            move |batch: bus::Batch<Event>| {
                let (st, sz) = (st.clone(), sz.clone());
                async move {
                    sz.lock().unwrap().push(batch.len());
                    let verbs: Vec<String> = batch
                        .iter()
                        .map(|m| match m.payload() {
                            Event::Audit(a) => a.verb.clone(),
                            _ => unreachable!(),
                        })
                        .collect();
                    // All or nothing, like a transaction.
                    if verbs.iter().any(|v| v == "poison.pill") {
                        return Err(HandlerError::retry("constraint violated"));
                    }
                    // What the handler can tell apart itself, it rejects alone.
                    let mut outcome = bus::BatchOutcome::done();
                    let mut keep = Vec::new();
                    for (i, v) in verbs.into_iter().enumerate() {
                        if v == "ok.n3" {
                            outcome.reject(i, "n3 is invalid");
                        } else {
                            keep.push(v);
                        }
                    }
                    st.lock().unwrap().extend(keep);
                    Ok(outcome)
                }
            },
            c,
        )
        .await
    });
    let dlq = format!("{}.dlq", queue::HEALTH_MONITOR_EVENTS);
    wait_until("two dead letters", T, || async {
        tb.bus.queue_depth(&dlq).await.unwrap() == 2
    })
    .await;
    wait_until("38 stored", T, || async {
        stored.lock().unwrap().len() == 38
    })
    .await;
    let mut verbs = stored.lock().unwrap().clone();
    verbs.sort();
    verbs.dedup();
    assert_eq!(verbs.len(), 38, "each good message stored once");
    assert!(!verbs.contains(&"ok.n3".to_string()));
    let mut reasons = Vec::new();
    while let Some(m) = tb.bus.fetch(&dlq).await.unwrap() {
        reasons.push(m.headers[bus::header::DEATH_REASON].clone());
    }
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            "failed 2 times: constraint violated".to_string(),
            "n3 is invalid".to_string()
        ]
    );
    assert_eq!(sizes.lock().unwrap()[0], 40, "one batch took them all");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        tb.bus
            .queue_depth(queue::HEALTH_MONITOR_EVENTS)
            .await
            .unwrap(),
        0,
        "all acked"
    );
    cancel.cancel();
}

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
