//! Threshold rules count exactly under concurrency: batches that arrive together on
//! different consumers (and replicas) serialise per fingerprint.

use std::sync::Arc;

use crate::common::*;
use orchestrator::Application;
use orchestrator::logs::Incoming;
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;

fn burst(path: &str, n: usize) -> Vec<domain::LogRecord> {
    (0..n).map(|_| api(503, path, 12.0)).collect()
}

async fn open_for(o: &Orch, path: &str) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT id, occurrences FROM incidents WHERE rule = 'api_5xx_burst' AND path = $1",
    )
    .bind(path)
    .fetch_all(o.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_burst_split_across_concurrent_batches_reaches_its_threshold() {
    let o = Orch::start().await;
    for round in 0..20 {
        let path = format!("/split/{round}");
        let barrier = Arc::new(Barrier::new(2));
        let tasks = [3, 2].map(|n| {
            let (service, barrier, logs) =
                (o.services.logs.clone(), barrier.clone(), burst(&path, n));
            tokio::spawn(async move {
                let items: Vec<Incoming<'_>> = logs
                    .iter()
                    .map(|record| Incoming {
                        record,
                        message_id: None,
                    })
                    .collect();
                barrier.wait().await;
                service.ingest(&items, "test").await.unwrap();
            })
        });
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            open_for(&o, &path)
                .await
                .iter()
                .map(|r| r.1)
                .collect::<Vec<_>>(),
            vec![5],
            "round {round}: one incident counting all five hits"
        );
    }
}

#[tokio::test]
async fn two_replicas_with_two_consumers_each_open_exactly_one_incident_per_burst() {
    let o = Orch::start_with(|s| {
        // Small batches spread a burst over every consumer.
        s.own.ingest.batch_size = 2;
        s.own.ingest.consumers = 2;
    })
    .await;
    let second = Application::build(o.settings.clone()).await.unwrap();
    let cancel = CancellationToken::new();
    tokio::spawn(second.run_until_stopped(cancel.clone()));
    for round in 0..20 {
        let path = format!("/replicas/{round}");
        for log in burst(&path, 5) {
            o.publish(log).await;
        }
        o.wait_count(
            &format!("SELECT count(*) FROM logs_api WHERE path = '{path}'"),
            5,
        )
        .await;
        testkit::wait_until("the incident", T, || async {
            !open_for(&o, &path).await.is_empty()
        })
        .await;
        let rows = open_for(&o, &path).await;
        assert_eq!(rows.len(), 1, "round {round}: {rows:?}");
        assert_eq!(rows[0].1, 5, "round {round}: every hit counted");
    }
    cancel.cancel();
}
