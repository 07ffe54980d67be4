//! Uptime over 1 h, 24 h and 7 days from a known sequence of checks, unchanged by
//! compaction; old history is deleted.

use health_monitor::uptime;

use crate::common::Harness;

async fn check(h: &Harness, status: &str, ago: &str) {
    sqlx::query(
        "INSERT INTO health_checks (service, status, checked_at) VALUES ('ledger', $1, now() - $2::interval)",
    )
    .bind(status)
    .bind(ago)
    .execute(h.db.pool())
    .await
    .unwrap();
}

async fn uptime_of(h: &Harness) -> serde_json::Value {
    h.service("ledger").await.expect("ledger catalogued")["uptime_percent"].clone()
}

#[tokio::test]
async fn uptime_windows_follow_a_known_sequence_and_survive_compaction() {
    let h = Harness::start().await;
    sqlx::query("INSERT INTO monitored_services (service, kind, state) VALUES ('ledger', 'runbooks', 'down')")
        .execute(h.db.pool())
        .await
        .unwrap();
    // Last hour: 3 up (one of them degraded), 1 down.
    for (s, ago) in [
        ("up", "10 minutes"),
        ("degraded", "20 minutes"),
        ("up", "30 minutes"),
        ("down", "40 minutes"),
    ] {
        check(&h, s, ago).await;
    }
    // Earlier today: 4 up; a clean stop never counts.
    for ago in ["2 hours", "5 hours", "12 hours", "20 hours"] {
        check(&h, "up", ago).await;
    }
    check(&h, "stopping", "3 hours").await;
    // Three days ago: 2 down. Nine days ago: outside every window.
    check(&h, "down", "3 days").await;
    check(&h, "down", "3 days 1 hour").await;
    check(&h, "down", "9 days").await;

    let expected = serde_json::json!({"1h": 75.0, "24h": 87.5, "7d": 70.0});
    assert_eq!(uptime_of(&h).await, expected);

    // Compaction moves checks older than the raw window into hourly sums: same figures.
    uptime::maintain(h.core()).await.unwrap();
    assert_eq!(uptime_of(&h).await, expected);
    let raw_old = h
        .count("SELECT count(*) FROM health_checks WHERE service = 'ledger' AND checked_at < now() - interval '26 hours'")
        .await;
    assert_eq!(raw_old, 0, "old checks compacted");
    let hourly = h
        .count("SELECT coalesce(sum(total_count), 0) FROM health_checks_hourly WHERE service = 'ledger'")
        .await;
    assert_eq!(
        hourly, 2,
        "two checks summed within the history, the 9-day one dropped"
    );

    let (_, prom) = (
        200,
        h.get("/metrics/prometheus")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(
        prom.contains(
            r#"runbooks_service_uptime_percent{kind="runbooks",service="ledger",window="24h"} 87.5"#
        ),
        "{prom}"
    );
    assert!(
        prom.contains(r#"runbooks_service_up{kind="runbooks",service="ledger"} 0"#),
        "{prom}"
    );
}

#[tokio::test]
async fn the_leader_samples_every_runbooks_service() {
    let h = Harness::start_with(1, |s| s.own.health.sample_interval_secs = 1).await;
    h.wait_status("health-monitor", "up").await;
    testkit::wait_until("samples of the monitor itself", crate::common::T, || async {
        h.count("SELECT count(*) FROM health_checks WHERE service = 'health-monitor' AND status = 'up'")
            .await
            >= 2
    })
    .await;
    let s = h.service("health-monitor").await.unwrap();
    assert_eq!(s["uptime_percent"]["1h"], 100.0);
}
