//! Stopping the binary mid-stream, with SIGTERM or SIGKILL, and hot standby: nothing is
//! missing afterwards, and the only duplicates are documents published after the last
//! checkpoint write (the unconfirmed tail).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use testkit::elasticsearch::TestElasticsearch;
use testkit::process::ServiceProcess;
use testkit::{Tap, TestBus, TestDb, wait_until};

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_listener");
const DOCS: usize = 3_000;

struct Stream {
    db: TestDb,
    tb: TestBus,
    es: TestElasticsearch,
    index: String,
    tap: Tap,
    env: Vec<(String, String)>,
}

async fn stream() -> Stream {
    testkit::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let es = fake_es().await;
    let index = es.index("logs-jenkins-stream");
    es.admin().create_index(&index, false).await;
    let docs = docs_sharing_timestamps(DOCS, 10, Utc::now() - chrono::Duration::seconds(30));
    es.admin().index_docs(&index, &docs, true).await;
    // Slow pages (30 of 100, at least 3 s) keep the stream going long enough to interrupt
    // it even when the tap lags behind on a loaded machine.
    es.fake().unwrap().set_delay(Duration::from_millis(100));
    let tap = logs_tap(&tb).await;
    let env = env(&db, &tb, &es);
    Stream {
        db,
        tb,
        es,
        index,
        tap,
        env,
    }
}

fn with_instance(env: &[(String, String)], id: &str) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push(("RUNBOOKS__INSTANCE__ID".into(), id.into()));
    env
}

/// SIGKILL (`kill_on_drop`), then wait until the process is gone: its port refuses.
async fn kill(p: ServiceProcess) {
    let health = p.url("/health");
    drop(p);
    let client = reqwest::Client::new();
    wait_until("the killed process to be gone", T, || {
        let req = client
            .get(&health)
            .timeout(Duration::from_millis(200))
            .send();
        async move { req.await.is_err() }
    })
    .await;
}

/// Collects messages until every document has arrived at least once.
async fn until_complete(tap: &mut Tap, msgs: &mut Vec<bus::Message<Value>>, index: &str) {
    let deadline = tokio::time::Instant::now() + T;
    let want: HashSet<String> = (0..DOCS).map(|i| format!("{index}/d{i:05}")).collect();
    let mut seen: HashSet<String> = counts(msgs).into_keys().collect();
    while !want.is_subset(&seen) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(m) = tap.next(left).await else {
            let missing = want.difference(&seen).count();
            panic!("{missing} documents never arrived");
        };
        seen.insert(
            m.envelope.payload["source_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        msgs.push(m);
    }
}

/// Waits until `p` has re-read the window once more (so any duplicate would have been
/// published), then takes what is left on the tap.
async fn settle(p: &ServiceProcess, tap: &mut Tap, msgs: &mut Vec<bus::Message<Value>>) {
    let url = p.url("/metrics");
    wait_until("a full re-read of the overlap window", T, || {
        let url = url.clone();
        async move {
            metric_of(
                &url,
                "runbooks_listener_documents_skipped_total",
                &[("reason", "duplicate")],
            )
            .await
            .is_some_and(|n| n >= DOCS as f64)
        }
    })
    .await;
    msgs.extend(tap.drain(Duration::from_millis(500)).await);
}

/// Nothing missing; every duplicate was outside the persisted LastSentStore, and there are
/// no more of them than messages published after the last checkpoint write.
fn check(counts: &HashMap<String, usize>, persisted: &HashSet<String>, first_run: usize) -> usize {
    assert_eq!(counts.len(), DOCS, "nothing missing");
    let dups: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    for (id, n) in &dups {
        assert_eq!(**n, 2, "{id} published {n} times");
        assert!(
            !persisted.contains(*id),
            "{id} was checkpointed, yet published again"
        );
    }
    let tail = first_run - persisted.len();
    eprintln!(
        "{first_run} published before the stop, {} checkpointed, {} duplicates",
        persisted.len(),
        dups.len()
    );
    assert!(
        dups.len() <= tail,
        "{} duplicates, but only {tail} messages followed the last checkpoint",
        dups.len()
    );
    dups.len()
}

#[tokio::test]
async fn sigterm_mid_stream_then_restart_loses_and_repeats_nothing() {
    let mut s = stream().await;
    let first = ServiceProcess::spawn(BIN, &[], &with_instance(&s.env, "listener-1")).await;
    let mut msgs = s.tap.collect(300, T).await;
    let status = first.terminate(T).await;
    assert!(status.success(), "{status:?}");
    let row = checkpoint(&s.db, "jenkins").await.unwrap();
    assert_eq!(row.holder, None, "released on SIGTERM");
    let persisted = sent_ids(&row);
    msgs.extend(s.tap.drain(Duration::from_millis(500)).await);
    let first_run = msgs.len();
    assert!(
        first_run < DOCS,
        "stopped mid-stream ({first_run} of {DOCS})"
    );
    let first_ids: HashSet<String> = counts(&msgs).into_keys().collect();
    let unsaved: Vec<_> = first_ids.difference(&persisted).collect();
    let unseen: Vec<_> = persisted.difference(&first_ids).collect();
    assert!(
        unsaved.is_empty() && unseen.is_empty(),
        "a drained stop checkpoints every confirmed document: {} published but not saved \
         (e.g. {:?}), {} saved but not seen (e.g. {:?})",
        unsaved.len(),
        unsaved.first(),
        unseen.len(),
        unseen.first(),
    );

    s.es.fake().unwrap().set_delay(Duration::ZERO);
    let second = ServiceProcess::spawn(BIN, &[], &with_instance(&s.env, "listener-2")).await;
    until_complete(&mut s.tap, &mut msgs, &s.index).await;
    settle(&second, &mut s.tap, &mut msgs).await;
    let dups = check(&counts(&msgs), &persisted, first_run);
    assert_eq!(dups, 0);
    assert!(second.terminate(T).await.success());
    drop(s.tb);
}

#[tokio::test]
async fn sigkill_mid_stream_repeats_at_most_the_unconfirmed_tail() {
    let mut s = stream().await;
    let first = ServiceProcess::spawn(BIN, &[], &with_instance(&s.env, "listener-1")).await;
    let mut msgs = s.tap.collect(300, T).await;
    kill(first).await;
    let row = checkpoint(&s.db, "jenkins").await.unwrap();
    assert_eq!(
        row.holder.as_deref(),
        Some("listener-1"),
        "a killed holder keeps its lease"
    );
    let persisted = sent_ids(&row);
    assert!(
        !persisted.is_empty(),
        "the checkpoint moves while a backlog is read"
    );
    msgs.extend(s.tap.drain(Duration::from_millis(500)).await);
    let first_run = msgs.len();
    assert!(
        first_run < DOCS,
        "killed mid-stream ({first_run} of {DOCS})"
    );

    s.es.fake().unwrap().set_delay(Duration::ZERO);
    // The new process waits for the dead one's lease to run out, then resumes.
    let second = ServiceProcess::spawn(BIN, &[], &with_instance(&s.env, "listener-2")).await;
    until_complete(&mut s.tap, &mut msgs, &s.index).await;
    settle(&second, &mut s.tap, &mut msgs).await;
    check(&counts(&msgs), &persisted, first_run);
    let row = checkpoint(&s.db, "jenkins").await.unwrap();
    assert_eq!(row.holder.as_deref(), Some("listener-2"));
    assert!(row.token > 1, "taken over with a new token");
    assert!(second.terminate(T).await.success());
}

#[tokio::test]
async fn of_two_replicas_one_publishes_and_the_other_takes_over_when_it_dies() {
    let mut s = stream().await;
    let a = ServiceProcess::spawn(BIN, &[], &with_instance(&s.env, "listener-a")).await;
    let b = ServiceProcess::spawn(BIN, &[], &with_instance(&s.env, "listener-b")).await;
    let mut msgs = s.tap.collect(300, T).await;
    let row = checkpoint(&s.db, "jenkins").await.unwrap();
    let (holder, standby) = match row.holder.as_deref() {
        Some("listener-a") => (a, b),
        Some("listener-b") => (b, a),
        other => panic!("holder {other:?}"),
    };
    let published = |p: &ServiceProcess| {
        let url = p.url("/metrics");
        async move {
            metric_of(&url, "runbooks_listener_documents_published_total", &[])
                .await
                .unwrap()
        }
    };
    let text = reqwest::get(holder.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(published(&holder).await > 0.0, "{text}");
    assert_eq!(
        published(&standby).await,
        0.0,
        "the standby publishes nothing"
    );
    let held = metric_of(
        &standby.url("/metrics"),
        "runbooks_listener_source_held",
        &[("source", "jenkins")],
    )
    .await;
    assert_eq!(held, Some(0.0));

    kill(holder).await;
    let persisted = sent_ids(&checkpoint(&s.db, "jenkins").await.unwrap());
    msgs.extend(s.tap.drain(Duration::from_millis(500)).await);
    let first_run = msgs.len();
    assert!(
        first_run < DOCS,
        "killed mid-stream ({first_run} of {DOCS})"
    );
    s.es.fake().unwrap().set_delay(Duration::ZERO);

    until_complete(&mut s.tap, &mut msgs, &s.index).await;
    settle(&standby, &mut s.tap, &mut msgs).await;
    check(&counts(&msgs), &persisted, first_run);
    assert!(published(&standby).await > 0.0, "the standby took over");
    assert!(standby.terminate(T).await.success());
}
