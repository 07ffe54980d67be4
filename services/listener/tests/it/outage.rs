//! Elasticsearch down: the listener stays ready, reports the dependency degraded, counts the
//! failures, and resumes from its checkpoint when it is back. Leases fence deposed holders.

use std::time::Duration;

use chrono::{DateTime, Utc};
use listener::repo::{CheckpointRepo, Save};
use serde_json::{Value, json};
use testkit::{TestBus, TestDb, wait_until};

use crate::common::*;

async fn ready(l: &Listener) -> (u16, Value) {
    let r = reqwest::get(l.url("/ready")).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn elasticsearch_down_is_degraded_not_unready_and_tailing_resumes() {
    testkit::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let es = fake_es().await;
    let fake = es.fake().unwrap();
    let index = es.index("logs-jenkins-outage");
    let before = docs_sharing_timestamps(100, 3, Utc::now() - chrono::Duration::seconds(20));
    es.admin().index_docs(&index, &before, true).await;
    let mut tap = logs_tap(&tb).await;
    let mut s = settings(&db, &tb, &es);
    s.own.sources.api.enabled = false;
    let l = Listener::start(s).await;
    tap.collect(100, T).await;

    fake.set_down(true);
    wait_until("elasticsearch reported degraded", T, || async {
        let (status, body) = ready(&l).await;
        status == 200
            && body["status"] == "degraded"
            && body["degraded"] == json!(["elasticsearch"])
    })
    .await;
    let (_, body) = ready(&l).await;
    assert_eq!(body["checks"]["database"]["ok"], true);
    assert_eq!(body["checks"]["broker"]["ok"], true);
    wait_until("failures counted and the lag growing", T, || async {
        let failures = l.metric(
            "runbooks_listener_elasticsearch_failures_total",
            &[("source", "jenkins"), ("kind", "status")],
        );
        let lag = l.metric(
            "runbooks_listener_checkpoint_lag_seconds",
            &[("source", "jenkins")],
        );
        failures >= 2.0 && lag > 2.0
    })
    .await;

    fake.set_down(false);
    let after: Vec<_> = (0..200)
        .map(|i| {
            let id = format!("after-{i}");
            let doc = jenkins_doc(
                &id,
                Utc::now() - chrono::Duration::seconds(1),
                "INFO",
                "back",
            );
            (id, doc)
        })
        .collect();
    es.admin().index_docs(&index, &after, true).await;
    let msgs = tap.collect(200, T).await;
    let counts = counts(&msgs);
    assert!(
        counts.keys().all(|id| id.contains("/after-")),
        "resumed from the checkpoint: nothing from before the outage again"
    );
    assert_eq!(counts.len(), 200);
    wait_until("ready again", T, || async {
        ready(&l).await.1["status"] == "ready"
    })
    .await;
    assert!(tap.drain(Duration::from_millis(300)).await.is_empty());
    l.stop().await;
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

#[tokio::test]
async fn a_deposed_holder_cannot_move_the_checkpoint() {
    testkit::init_tracing();
    let db = TestDb::new().await;
    let repo = CheckpointRepo::new(db.pool.clone());
    let ttl = Duration::from_millis(300);
    let a = repo
        .acquire("jenkins", "a", ttl)
        .await
        .unwrap()
        .expect("free");
    assert_eq!(a.checkpoint, None);
    assert!(
        repo.acquire("jenkins", "b", ttl).await.unwrap().is_none(),
        "held"
    );
    let sent = json!([["logs/x", 1_795_946_400_000_i64]]);
    let save = |token, checkpoint| Save {
        source: "jenkins",
        token,
        checkpoint,
        cursor: &Value::Null,
        sent_ids: &sent,
    };
    let t1 = at(1_795_946_400_000);
    assert!(repo.save(&save(a.token, t1), ttl).await.unwrap());

    // `a` stops renewing (paused, partitioned): once its lease runs out `b` takes over.
    let b = testkit::wait_for("the lease to run out", T, || async {
        repo.acquire("jenkins", "b", Duration::from_secs(30))
            .await
            .unwrap()
    })
    .await;
    assert!(b.token > a.token);
    assert_eq!(b.checkpoint, Some(t1));
    assert_eq!(b.sent_ids, sent);

    let t2 = at(1_795_946_460_000);
    assert!(!repo.save(&save(a.token, t2), ttl).await.unwrap(), "fenced");
    assert!(!repo.renew("jenkins", a.token, ttl).await.unwrap());
    assert!(
        repo.save(&save(b.token, at(1_795_946_000_000)), ttl)
            .await
            .unwrap()
    );
    let row = repo.load("jenkins").await.unwrap().unwrap();
    assert_eq!(
        row.checkpoint,
        Some(t1),
        "never backwards, never by a deposed holder"
    );
    assert_eq!(row.holder.as_deref(), Some("b"));

    repo.release("jenkins", b.token).await.unwrap();
    let c = repo.acquire("jenkins", "c", ttl).await.unwrap();
    assert!(c.is_some(), "a released source is taken at once");
}
