//! Consumers against the local RabbitMQ: the shutdown order (nothing committed is
//! redelivered, nothing prefetched is lost) and pausing while the infrastructure is
//! unavailable (no attempt spent, no new delivery started, nothing dead-lettered).

use crate::common::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Backoff, ConsumerOptions, HandlerError, Message};
use domain::Event;
use domain::names::queue;
use testkit::{TestBus, init_tracing, wait_until};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const Q: &str = queue::HEALTH_MONITOR_EVENTS;

fn dlq() -> String {
    format!("{Q}.dlq")
}

/// The value of `name{queue=Q}` in `registry`, 0 when absent.
fn metric(registry: &prometheus::Registry, name: &str) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == "queue" && l.value() == Q)
        })
        // The unset one of the two reads 0.
        .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
        .sum()
}

async fn publish_audits(tb: &TestBus, n: usize, prefix: &str) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let env = audit(&format!("{prefix}.n{i}"));
        tb.bus.publish(&env).await.unwrap();
        ids.push(env.id);
    }
    ids
}

#[tokio::test]
async fn shutdown_acks_the_work_in_flight_and_returns_the_prefetched_messages() {
    init_tracing();
    let tb = TestBus::new().await;
    let ids = publish_audits(&tb, 5, "shutdown").await;
    let handled = Arc::new(Mutex::new(Vec::<Uuid>::new()));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started_tx = Arc::new(Mutex::new(Some(started_tx)));
    let cancel = CancellationToken::new();
    let opts = ConsumerOptions::new(&tb.bus, Q).concurrency(1).prefetch(5);
    let (bus, h, c) = (tb.bus.clone(), handled.clone(), cancel.clone());
    let consumer = tokio::spawn(async move {
        bus.consume(
            opts,
            move |m: Message<Event>| {
                let (h, started) = (h.clone(), started_tx.clone());
                async move {
                    if let Some(tx) = started.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    // Slow work that commits before the handler returns.
                    tokio::time::sleep(Duration::from_millis(800)).await;
                    h.lock().unwrap().push(m.envelope.id);
                    Ok(())
                }
            },
            c,
        )
        .await
    });
    tokio::time::timeout(T, started_rx).await.unwrap().unwrap();
    // The other four are prefetched by now (prefetch 5) but not started.
    cancel.cancel();
    tokio::time::timeout(T, consumer)
        .await
        .expect("the consumer stops once its handler is done")
        .unwrap()
        .unwrap();
    let done = handled.lock().unwrap().clone();
    assert_eq!(done, vec![ids[0]], "the message in flight finished");

    wait_until(
        "the four unstarted messages back in the queue",
        T,
        || async { tb.bus.queue_depth(Q).await.unwrap() == 4 },
    )
    .await;
    // A new consumer gets exactly those four: the finished one was acked, not redelivered.
    let cancel = CancellationToken::new();
    let mut rx = forward::<Event>(&tb.bus, ConsumerOptions::new(&tb.bus, Q), &cancel);
    let mut again = HashSet::new();
    while again.len() < 4 {
        let m = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
        again.insert(m.envelope.id);
    }
    assert_eq!(again, ids[1..].iter().copied().collect::<HashSet<_>>());
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err(),
        "nothing else arrives"
    );
    cancel.cancel();
}

#[tokio::test]
async fn an_unavailable_infrastructure_pauses_the_consumer_without_spending_attempts() {
    init_tracing();
    let tb = TestBus::new().await;
    let registry = prometheus::Registry::new();
    tb.bus.register_metrics(&registry).unwrap();
    let down = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicU32::new(0));
    let seen_while_down = Arc::new(Mutex::new(HashSet::<Uuid>::new()));
    let done = Arc::new(Mutex::new(Vec::<(Uuid, u32)>::new()));
    let cancel = CancellationToken::new();
    let opts = ConsumerOptions::new(&tb.bus, Q)
        .concurrency(4)
        .max_attempts(2)
        .backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(40),
            2.0,
        ));
    let (bus, c) = (tb.bus.clone(), cancel.clone());
    let (dn, cl, sw, dd) = (
        down.clone(),
        calls.clone(),
        seen_while_down.clone(),
        done.clone(),
    );
    tokio::spawn(async move {
        bus.consume(
            opts,
            move |m: Message<Event>| {
                let (dn, cl, sw, dd) = (dn.clone(), cl.clone(), sw.clone(), dd.clone());
                async move {
                    cl.fetch_add(1, Ordering::SeqCst);
                    if dn.load(Ordering::SeqCst) {
                        sw.lock().unwrap().insert(m.envelope.id);
                        return Err(HandlerError::unavailable("database unreachable"));
                    }
                    dd.lock().unwrap().push((m.envelope.id, m.attempt));
                    Ok(())
                }
            },
            c,
        )
        .await
    });

    let first = publish_audits(&tb, 1, "first").await;
    wait_until("the consumer paused", T, || async {
        metric(&registry, "bus_consumer_paused") == 1.0
    })
    .await;
    // Three permits are free, yet nothing new starts while paused.
    let later = publish_audits(&tb, 5, "later").await;
    wait_until("the paused message probed many times", T, || async {
        calls.load(Ordering::SeqCst) >= 8
    })
    .await;
    assert_eq!(
        *seen_while_down.lock().unwrap(),
        first.iter().copied().collect::<HashSet<_>>(),
        "only the message that met the outage runs while paused"
    );
    assert_eq!(tb.bus.queue_depth(&dlq()).await.unwrap(), 0);

    down.store(false, Ordering::SeqCst);
    wait_until("all six handled", T, || async {
        done.lock().unwrap().len() == 6
    })
    .await;
    let done = done.lock().unwrap().clone();
    let ids: HashSet<Uuid> = done.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 6, "each once");
    assert!(ids.contains(&first[0]) && later.iter().all(|id| ids.contains(id)));
    assert!(
        done.iter().all(|(_, attempt)| *attempt == 1),
        "no attempt was spent: {done:?}"
    );
    assert_eq!(tb.bus.queue_depth(&dlq()).await.unwrap(), 0);
    assert_eq!(metric(&registry, "bus_consumer_paused"), 0.0, "resumed");
    assert_eq!(metric(&registry, "bus_consumer_pauses_total"), 1.0);
    assert!(metric(&registry, "bus_consumer_unavailable_total") >= 8.0);
    cancel.cancel();
}

#[tokio::test]
async fn a_message_paused_at_shutdown_goes_back_to_its_queue_unchanged() {
    init_tracing();
    let tb = TestBus::new().await;
    let calls = Arc::new(AtomicU32::new(0));
    let cancel = CancellationToken::new();
    let opts = ConsumerOptions::new(&tb.bus, Q)
        .max_attempts(1)
        .backoff(Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(50),
            2.0,
        ));
    let (bus, c, cl) = (tb.bus.clone(), cancel.clone(), calls.clone());
    let consumer = tokio::spawn(async move {
        bus.consume(
            opts,
            move |_m: Message<Event>| {
                let cl = cl.clone();
                async move {
                    cl.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(HandlerError::unavailable("read-only transaction"))
                }
            },
            c,
        )
        .await
    });
    publish_audits(&tb, 1, "paused").await;
    wait_until("probed a few times", T, || async {
        calls.load(Ordering::SeqCst) >= 3
    })
    .await;
    cancel.cancel();
    tokio::time::timeout(T, consumer)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    wait_until("the message back in its queue", T, || async {
        tb.bus.queue_depth(Q).await.unwrap() == 1
    })
    .await;
    let back = tb.bus.fetch(Q).await.unwrap().unwrap();
    assert!(
        !back.headers.contains_key(bus::header::ATTEMPTS),
        "no attempt counted: {:?}",
        back.headers
    );
    assert_eq!(tb.bus.queue_depth(&dlq()).await.unwrap(), 0);
}

#[tokio::test]
async fn an_unavailable_batch_is_run_again_whole_never_split_or_dead_lettered() {
    init_tracing();
    let tb = TestBus::new().await;
    publish_audits(&tb, 20, "batch").await;
    let sizes = Arc::new(Mutex::new(Vec::<usize>::new()));
    let stored = Arc::new(Mutex::new(Vec::<Uuid>::new()));
    let cancel = CancellationToken::new();
    let opts = ConsumerOptions::new(&tb.bus, Q)
        .batch(50, Duration::from_millis(300))
        .max_attempts(2)
        .retry_delay(Duration::from_millis(10));
    let (bus, c, sz, st) = (
        tb.bus.clone(),
        cancel.clone(),
        sizes.clone(),
        stored.clone(),
    );
    tokio::spawn(async move {
        bus.consume_batches(
            opts,
            move |batch: bus::Batch<Event>| {
                let (sz, st) = (sz.clone(), st.clone());
                async move {
                    let calls = {
                        let mut sz = sz.lock().unwrap();
                        sz.push(batch.len());
                        sz.len()
                    };
                    if calls <= 6 {
                        return Err(HandlerError::unavailable("pool timed out"));
                    }
                    st.lock()
                        .unwrap()
                        .extend(batch.iter().map(|m| m.envelope.id));
                    Ok(bus::BatchOutcome::done())
                }
            },
            c,
        )
        .await
    });
    wait_until("20 stored", T, || async {
        stored.lock().unwrap().len() == 20
    })
    .await;
    let sizes = sizes.lock().unwrap().clone();
    assert_eq!(sizes, vec![20; 7], "the same whole batch every time");
    let unique: HashSet<_> = stored.lock().unwrap().iter().copied().collect();
    assert_eq!(unique.len(), 20);
    wait_until("all acked", T, || async {
        tb.bus.queue_depth(Q).await.unwrap() == 0
    })
    .await;
    assert_eq!(tb.bus.queue_depth(&dlq()).await.unwrap(), 0);
    cancel.cancel();
}

#[tokio::test]
async fn a_dead_letter_the_broker_cannot_route_waits_for_its_queue_to_come_back() {
    init_tracing();
    let tb = TestBus::new().await;
    let full_dlq = format!("{}.{}", tb.namespace, dlq());
    let deleted = tokio::task::spawn_blocking(move || {
        std::process::Command::new("rabbitmqctl")
            .args(["delete_queue", &full_dlq])
            .status()
            .unwrap()
            .success()
    })
    .await
    .unwrap();
    assert!(deleted, "dlq deleted");
    let cancel = CancellationToken::new();
    let opts = ConsumerOptions::new(&tb.bus, Q).retry_delay(Duration::from_millis(10));
    let (bus, c) = (tb.bus.clone(), cancel.clone());
    tokio::spawn(async move {
        bus.consume(
            opts,
            |_m: Message<Event>| async { Err::<(), _>(HandlerError::reject("bad payload")) },
            c,
        )
        .await
    });
    publish_audits(&tb, 1, "poison").await;
    wait_until("the dead letter stored once the dlq is back", T, || async {
        tb.bus.queue_depth(&dlq()).await.unwrap_or(0) == 1
    })
    .await;
    let dead = tb.bus.fetch(&dlq()).await.unwrap().unwrap();
    assert_eq!(dead.headers[bus::header::DEATH_REASON], "bad payload");
    cancel.cancel();
}
