//! Outbox and inbox against the local PostgreSQL and RabbitMQ.

use std::collections::HashMap;
use std::time::Duration;

use bus::{Bus, BusSettings};
use domain::events::AuditRecord;
use domain::names::exchange;
use domain::{Channel, Envelope, Event};
use sqlx::{Connection, Row};
use store::{OutboxRelay, OutboxSettings, inbox, outbox};
use testkit::proxy::TcpProxy;
use testkit::{TestBus, TestDb, init_tracing, wait_until};
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(15);

fn event(n: usize) -> Envelope<Event> {
    Envelope::new(
        "tests",
        Event::Audit(AuditRecord {
            verb: format!("test.n{n}"),
            actor: "ana".into(),
            on_behalf_of: None,
            outcome: Default::default(),
            clause: None,
            channel: Channel::Api,
            target_type: "thing".into(),
            target_id: Some(n.to_string()),
            details: None,
            at: chrono::Utc::now(),
        }),
    )
}

fn fast() -> OutboxSettings {
    OutboxSettings {
        poll_interval_ms: 200,
        backoff_base_ms: 50,
        backoff_max_ms: 200,
        ..OutboxSettings::default()
    }
}

async fn pending(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox_events WHERE status = 'pending'")
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn committed_events_are_published_and_rolled_back_ones_are_not() {
    init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let mut tap = tb.tap(exchange::EVENTS, &["audit.#"]).await;
    let cancel = CancellationToken::new();
    tokio::spawn(OutboxRelay::new(db.pool.clone(), tb.bus.clone(), fast()).run(cancel.clone()));

    let kept = event(1);
    let mut tx = db.pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, "tests", &kept).await.unwrap();
    tx.commit().await.unwrap();
    let dropped = event(2);
    let mut tx = db.pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, "tests", &dropped).await.unwrap();
    tx.rollback().await.unwrap();

    let got = tap.expect("audit.test.n1", T).await;
    assert_eq!(got.envelope.id, kept.id);
    assert_eq!(
        got.envelope.payload,
        serde_json::to_value(&kept.payload).unwrap()
    );
    assert!(
        got.traceparent().is_some(),
        "trace context survives the outbox"
    );
    assert!(
        tap.drain(Duration::from_millis(500)).await.is_empty(),
        "the rolled-back event never leaves"
    );
    let row =
        sqlx::query("SELECT status, attempts, published_at IS NOT NULL AS p FROM outbox_events")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>("status"), "published");
    assert_eq!(row.get::<i32, _>("attempts"), 1);
    assert!(row.get::<bool, _>("p"));
    cancel.cancel();
}

#[tokio::test]
async fn rows_wait_while_the_broker_is_unreachable_and_leave_when_it_returns() {
    init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let mut tap = tb.tap(exchange::EVENTS, &["audit.#"]).await;
    let proxy = TcpProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let settings = BusSettings {
        url: format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port()),
        ..tb.settings.clone()
    };
    let cancel = CancellationToken::new();
    let bus = Bus::connect(&settings, "relay-behind-proxy", &cancel)
        .await
        .unwrap();
    tokio::spawn(OutboxRelay::new(db.pool.clone(), bus.clone(), fast()).run(cancel.clone()));

    proxy.set_down(true);
    wait_until("the relay notices", T, || async { !bus.is_connected() }).await;
    let mut tx = db.pool.begin().await.unwrap();
    for n in 0..5 {
        outbox::enqueue(&mut tx, "tests", &event(n)).await.unwrap();
    }
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        pending(&db).await,
        5,
        "nothing leaves while the broker is away"
    );

    proxy.set_down(false);
    let got = tap.collect(5, Duration::from_secs(30)).await;
    let mut verbs: Vec<String> = got.iter().map(|m| m.envelope.kind.clone()).collect();
    verbs.sort();
    assert_eq!(
        verbs,
        (0..5)
            .map(|n| format!("audit.test.n{n}"))
            .collect::<Vec<_>>()
    );
    wait_until("all marked published", T, || async {
        pending(&db).await == 0
    })
    .await;
    cancel.cancel();
}

#[tokio::test]
async fn two_relays_publish_every_row_once() {
    init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let mut tap = tb.tap(exchange::EVENTS, &["audit.#"]).await;
    const N: usize = 600;
    let mut tx = db.pool.begin().await.unwrap();
    let events: Vec<_> = (0..N).map(event).collect();
    let msgs: Vec<_> = events
        .iter()
        .map(bus::OutgoingMessage::from_envelope)
        .collect();
    outbox::enqueue_messages(&mut tx, "tests", &msgs)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let cancel = CancellationToken::new();
    let small = OutboxSettings {
        batch_size: 50,
        ..fast()
    };
    let other = Bus::connect(&tb.settings, "relay-2", &cancel)
        .await
        .unwrap();
    tokio::spawn(
        OutboxRelay::new(db.pool.clone(), tb.bus.clone(), small.clone()).run(cancel.clone()),
    );
    tokio::spawn(OutboxRelay::new(db.pool.clone(), other, small).run(cancel.clone()));

    let got = tap.collect(N, Duration::from_secs(60)).await;
    let extra = tap.drain(Duration::from_millis(500)).await;
    let mut counts: HashMap<uuid::Uuid, usize> = HashMap::new();
    for m in got.iter().chain(&extra) {
        *counts.entry(m.envelope.id).or_default() += 1;
    }
    assert_eq!(counts.len(), N, "every row published");
    assert!(counts.values().all(|&c| c == 1), "no row published twice");
    wait_until("all marked published", T, || async {
        pending(&db).await == 0
    })
    .await;
    cancel.cancel();
}

#[tokio::test]
async fn cleanup_removes_only_old_published_rows() {
    init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let mut tx = db.pool.begin().await.unwrap();
    for n in 0..3 {
        outbox::enqueue(&mut tx, "tests", &event(n)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let relay = OutboxRelay::new(db.pool.clone(), tb.bus.clone(), fast());
    assert_eq!(relay.run_once().await.unwrap(), 3);
    sqlx::query("UPDATE outbox_events SET published_at = now() - interval '2 days' WHERE event_type = 'audit.test.n0'")
        .execute(db.pool())
        .await
        .unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, "tests", &event(9)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(relay.cleanup().await.unwrap(), 1);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_events")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(left, 3, "recent published rows and the pending one stay");
}

#[tokio::test]
async fn the_inbox_reports_a_message_seen_twice() {
    init_tracing();
    let db = TestDb::new().await;
    let id = uuid::Uuid::now_v7();
    let mut tx = db.pool.begin().await.unwrap();
    assert!(inbox::first_time(&mut tx, "runner", id).await.unwrap());
    assert!(!inbox::first_time(&mut tx, "runner", id).await.unwrap());
    assert!(
        inbox::first_time(&mut tx, "chatops", id).await.unwrap(),
        "inboxes are per consumer"
    );
    tx.commit().await.unwrap();

    // A rolled-back transaction forgets it saw the message.
    let other = uuid::Uuid::now_v7();
    let mut tx = db.pool.begin().await.unwrap();
    assert!(inbox::first_time(&mut tx, "runner", other).await.unwrap());
    tx.rollback().await.unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    let fresh = inbox::first_time_many(&mut tx, "runner", &[id, other])
        .await
        .unwrap();
    assert_eq!(fresh.into_iter().collect::<Vec<_>>(), vec![other]);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn migrations_apply_twice_and_the_database_is_created_when_missing() {
    init_tracing();
    let db = TestDb::new().await;
    store::migrate(db.pool()).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    for t in [
        "action_executions",
        "audit_log",
        "health_checks",
        "inbox_messages",
        "incidents",
        "listener_checkpoints",
        "logs_api",
        "logs_jenkins",
        "outbox_events",
        "postmortems",
        "service_instances",
        "slack_threads",
        "system_events",
    ] {
        assert!(tables.iter().any(|x| x == t), "missing table {t}");
    }
    // Status columns only take the design's values.
    let bad = sqlx::query("INSERT INTO incidents (fingerprint, rule, title, severity, status, source) VALUES ('f','r','t','high','closed','jenkins')")
        .execute(db.pool())
        .await
        .unwrap_err();
    assert_eq!(store::classify(&bad), store::DbErrorKind::InvalidData);
    // One open incident per fingerprint.
    let insert = "INSERT INTO incidents (fingerprint, rule, title, severity, source) VALUES ('f','r','t','high','jenkins')";
    sqlx::query(insert).execute(db.pool()).await.unwrap();
    let dup = sqlx::query(insert).execute(db.pool()).await.unwrap_err();
    assert_eq!(store::classify(&dup), store::DbErrorKind::UniqueViolation);
}

#[tokio::test]
async fn services_starting_together_create_and_migrate_the_database_once() {
    init_tracing();
    let name = format!("rbt_{}", uuid::Uuid::new_v4().simple());
    let settings = store::DatabaseSettings {
        url: format!("{}/{name}", testkit::db::server_url()),
        connect_timeout_secs: 10,
        ..Default::default()
    };
    let starts = (0..4).map(|_| async {
        let pool = store::connect(&settings).await?;
        store::migrate(&pool).await?;
        Ok::<_, store::StoreError>(pool)
    });
    let pools = futures_util::future::join_all(starts).await;
    for p in &pools {
        assert!(p.is_ok(), "{:?}", p.as_ref().err());
    }
    let pool = pools.into_iter().next().unwrap().unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(applied, store::MIGRATOR.migrations.len() as i64);
    pool.close().await;
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", testkit::db::server_url()))
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
