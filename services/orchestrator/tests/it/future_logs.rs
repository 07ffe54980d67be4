//! A log dated in the future never steers detection: its timestamp is clamped at ingest and
//! the original is kept in its details.

use crate::common::*;
use domain::LogRecord;
use orchestrator::logs::Incoming;

async fn ingest(o: &Orch, logs: &[LogRecord]) {
    let items: Vec<Incoming<'_>> = logs
        .iter()
        .map(|record| Incoming {
            record,
            message_id: None,
        })
        .collect();
    o.services.logs.ingest(&items, "test").await.unwrap();
}

fn api_for(service: &str, status: u16, at: chrono::DateTime<chrono::Utc>) -> LogRecord {
    let mut r = api(status, "/pay", 10.0);
    if let LogRecord::Api(l) = &mut r {
        l.service = Some(service.into());
        l.timestamp = at;
    }
    r
}

#[tokio::test]
async fn a_future_dated_502_does_not_mute_the_burst_that_follows() {
    let o = Orch::start().await;
    let far: chrono::DateTime<chrono::Utc> = "2099-01-01T00:00:00Z".parse().unwrap();
    ingest(&o, &[api_for("poisoned", 502, far)]).await;
    for _ in 0..20 {
        ingest(&o, &[api_for("poisoned", 502, ts(0))]).await;
    }
    let rows: Vec<(i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT occurrences, last_seen_at FROM incidents WHERE service = 'poisoned'",
    )
    .fetch_all(o.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "one incident for the burst: {rows:?}");
    assert!(
        rows[0].1 < chrono::Utc::now() + chrono::Duration::minutes(5),
        "last_seen_at is not steered by the future log: {rows:?}"
    );
    // The stored row is clamped; the original timestamp is kept in its details.
    let (at, original): (chrono::DateTime<chrono::Utc>, Option<String>) = sqlx::query_as(
        "SELECT timestamp, details->>'original_timestamp' FROM logs_api
         WHERE service = 'poisoned' ORDER BY id LIMIT 1",
    )
    .fetch_one(o.pool())
    .await
    .unwrap();
    assert!(
        at < chrono::Utc::now() + chrono::Duration::minutes(5),
        "{at}"
    );
    assert_eq!(original.as_deref(), Some("2099-01-01T00:00:00Z"));
    // And it does not sit at the top of the log search for good.
    let top: serde_json::Value = o
        .get("/api/logs?source=api&limit=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = top["items"][0].clone();
    assert!(
        !first["timestamp"].as_str().unwrap().starts_with("2099"),
        "{first}"
    );
}

#[tokio::test]
async fn a_log_within_the_allowed_skew_keeps_its_timestamp() {
    let o = Orch::start().await;
    let soon = chrono::Utc::now() + chrono::Duration::seconds(5);
    ingest(&o, &[api_for("skewed", 200, soon)]).await;
    let (at, original): (chrono::DateTime<chrono::Utc>, Option<String>) = sqlx::query_as(
        "SELECT timestamp, details->>'original_timestamp' FROM logs_api WHERE service = 'skewed'",
    )
    .fetch_one(o.pool())
    .await
    .unwrap();
    assert_eq!(at.timestamp_micros(), soon.timestamp_micros());
    assert_eq!(original, None);
}
