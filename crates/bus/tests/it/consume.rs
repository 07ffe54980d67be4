//! The bus against the local RabbitMQ, one namespace per test: consumers, retries,
//! dead letters and batches.

use crate::common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bus::{ConsumerOptions, HandlerError, Message, OutgoingMessage};
use domain::names::{exchange, queue};
use domain::{Envelope, Event, LogRecord};
use testkit::{TestBus, init_tracing, wait_until};
use tokio_util::sync::CancellationToken;

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
