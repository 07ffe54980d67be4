//! Tailing: every document exactly once, with and without a point in time; documents that
//! become visible late inside the overlap window. Each scenario also runs against the real
//! Elasticsearch `ELASTICSEARCH_URL` names, when set.

use std::time::Duration;

use chrono::Utc;
use listener::settings::Settings;
use testkit::elasticsearch::{FakeEsConfig, TestElasticsearch};
use testkit::{TestBus, TestDb, wait_until};

use crate::common::*;

const N: usize = 10_000;
/// Ten thousand messages take ~15 s alone and over 30 s when the whole suite shares two
/// cores: a deadline for liveness, not a speed target (`make bench` measures speed).
const BULK: Duration = Duration::from_secs(120);

async fn exactly_once(es: &TestElasticsearch, tweak: impl FnOnce(&mut Settings)) {
    testkit::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let index = es.index("logs-jenkins-2026.11.29");
    es.admin().create_index(&index, false).await;
    // 10,000 documents on 20 timestamps: 500 share each, and pages of 700 end inside runs
    // of equal timestamps.
    let docs = docs_sharing_timestamps(N, 20, Utc::now() - chrono::Duration::seconds(30));
    es.admin().index_docs(&index, &docs, true).await;
    let mut tap = logs_tap(&tb).await;
    let mut s = settings(&db, &tb, es);
    s.own.sources.api.enabled = false;
    tweak(&mut s);
    let l = Listener::start(s).await;

    let mut msgs = tap.collect(N, BULK).await;
    // Two more polls read the whole overlap window again and must publish nothing.
    wait_until("two re-reads of the overlap window", T, || async {
        l.metric(
            "runbooks_listener_documents_skipped_total",
            &[("reason", "duplicate")],
        ) >= (2 * N) as f64
    })
    .await;
    msgs.extend(tap.drain(Duration::from_millis(500)).await);
    assert_eq!(msgs.len(), N, "exactly {N} messages");
    let counts = counts(&msgs);
    assert_eq!(counts.len(), N, "each document once");
    assert!(counts.contains_key(&format!("{index}/d00000")));
    assert_eq!(
        l.metric(
            "runbooks_listener_documents_published_total",
            &[("source", "jenkins")]
        ),
        N as f64
    );

    let m = msgs
        .iter()
        .find(|m| m.envelope.payload["source_id"] == format!("{index}/d00002"))
        .unwrap();
    assert_eq!(m.routing_key, "logs.jenkins.error");
    assert_eq!(m.envelope.kind, "log.jenkins");
    assert_eq!(m.envelope.producer, "listener");
    let p = &m.envelope.payload;
    assert_eq!(p["level"], "error");
    assert_eq!(p["message"], "line 2");
    assert_eq!(p["job_name"], "deploy-prod");
    assert_eq!(p["build_number"], 42);
    assert!(m.traceparent().is_some());
    assert_eq!(m.properties.message_id, Some(m.envelope.id.to_string()));
    assert!(m.properties.persistent);
    let warn = msgs
        .iter()
        .find(|m| m.envelope.payload["source_id"] == format!("{index}/d00001"))
        .unwrap();
    assert_eq!(
        warn.routing_key, "logs.jenkins.warn",
        "WARNING is normalised"
    );

    let row = checkpoint(&db, "jenkins").await.expect("a checkpoint");
    assert!(row.checkpoint.unwrap() > Utc::now() - chrono::Duration::seconds(10));
    l.stop().await;
    let row = checkpoint(&db, "jenkins").await.unwrap();
    assert_eq!(row.holder, None, "released at shutdown");
}

#[tokio::test]
async fn ten_thousand_documents_sharing_timestamps_arrive_exactly_once() {
    let es = fake_es().await;
    exactly_once(&es, |_| {}).await;
    let stats = es.fake().unwrap().stats();
    assert!(stats.searches_with_pit > 0, "{stats:?}");
    assert_eq!(stats.pit_refused, 0);
}

#[tokio::test]
async fn without_the_point_in_time_api_the_fallback_is_exactly_once_too() {
    let es = TestElasticsearch::start_fake(FakeEsConfig {
        point_in_time: false,
        ..FakeEsConfig::default()
    })
    .await;
    exactly_once(&es, |_| {}).await;
    let stats = es.fake().unwrap().stats();
    assert_eq!(stats.searches_with_pit, 0, "{stats:?}");
    assert_eq!(stats.pit_refused, 1, "detected once, at the first poll");
}

#[tokio::test]
async fn exactly_once_against_a_real_server() {
    let Some(es) = TestElasticsearch::real("exactly_once_against_a_real_server") else {
        return;
    };
    exactly_once(&es, |_| {}).await;
}

#[tokio::test]
async fn exactly_once_against_a_real_server_without_point_in_time() {
    let Some(es) = TestElasticsearch::real("exactly_once_against_a_real_server_without_pit") else {
        return;
    };
    // Elasticsearch 8 refuses to sort on `_id`; the documents carry a unique keyword.
    exactly_once(&es, |s| {
        pit_off(s);
        s.own.sources.jenkins.tiebreaker = "event.id".into();
    })
    .await;
}

async fn late_documents(es: &TestElasticsearch) {
    testkit::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let index = es.index("logs-jenkins-late");
    // Refreshed only on request: documents stay invisible until then.
    es.admin().create_index(&index, true).await;
    let now = Utc::now();
    let on_time: Vec<_> = (0..10)
        .map(|i| {
            let id = format!("on-time-{i}");
            let doc = jenkins_doc(&id, now - chrono::Duration::seconds(2), "INFO", "ok");
            (id, doc)
        })
        .collect();
    es.admin().index_docs(&index, &on_time, true).await;
    let mut tap = logs_tap(&tb).await;
    let mut s = settings(&db, &tb, es);
    s.own.sources.api.enabled = false;
    s.own.sources.jenkins.overlap_secs = 20;
    let l = Listener::start(s).await;
    tap.collect(10, T).await;

    // Indexed now, stamped 5 s ago: older than the checkpoint once the listener passed it.
    let late_at = Utc::now() - chrono::Duration::seconds(5);
    wait_until("the checkpoint to pass the late timestamp", T, || async {
        checkpoint(&db, "jenkins")
            .await
            .and_then(|r| r.checkpoint)
            .is_some_and(|c| c > late_at + chrono::Duration::seconds(1))
    })
    .await;
    let late = vec![
        (
            "late".to_string(),
            jenkins_doc("late", late_at, "ERROR", "late but inside the overlap"),
        ),
        (
            "too-late".to_string(),
            jenkins_doc(
                "too-late",
                Utc::now() - chrono::Duration::seconds(120),
                "ERROR",
                "beyond the overlap",
            ),
        ),
    ];
    es.admin().index_docs(&index, &late, false).await;
    assert!(
        tap.drain(Duration::from_millis(600)).await.is_empty(),
        "invisible until refreshed"
    );
    es.admin().refresh(&index).await;
    let m = tap.collect(1, T).await.remove(0);
    assert_eq!(m.envelope.payload["source_id"], format!("{index}/late"));
    assert_eq!(m.routing_key, "logs.jenkins.error");

    // More polls: the on-time and late documents are re-read and skipped; the one beyond
    // the overlap window is the documented limit and never read.
    let skipped = l.metric(
        "runbooks_listener_documents_skipped_total",
        &[("reason", "duplicate")],
    );
    wait_until("two more re-reads", T, || async {
        l.metric(
            "runbooks_listener_documents_skipped_total",
            &[("reason", "duplicate")],
        ) >= skipped + 22.0
    })
    .await;
    let rest = tap.drain(Duration::from_millis(300)).await;
    assert!(
        rest.is_empty(),
        "nothing twice, nothing beyond the window: {:?}",
        counts(&rest)
    );
    l.stop().await;
}

#[tokio::test]
async fn a_document_visible_late_inside_the_overlap_is_published() {
    let es = TestElasticsearch::start_fake(FakeEsConfig {
        refresh_interval: None,
        ..FakeEsConfig::default()
    })
    .await;
    late_documents(&es).await;
}

#[tokio::test]
async fn late_documents_against_a_real_server() {
    let Some(es) = TestElasticsearch::real("late_documents_against_a_real_server") else {
        return;
    };
    late_documents(&es).await;
}
