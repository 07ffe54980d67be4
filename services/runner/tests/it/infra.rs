//! The runner and its infrastructure: readiness reflects only its own (database, broker),
//! with Jenkins reported as `degraded`; one stalled transaction holding the claim lock
//! cannot stop the runners for longer than the pool's timeouts.

use std::time::Duration;

use crate::common::{Harness, NewAction, WAIT};
use domain::names::exchange;
use serde_json::Value;

async fn ready(port: u16) -> (u16, Value) {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/ready"))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn an_unreachable_jenkins_degrades_the_runner_without_making_it_unready() {
    let mut h = Harness::new().await;
    let mut beats =
        h.tb.tap(exchange::HEALTH, &["health.heartbeat.runner"])
            .await;
    let port = h
        .start_runner(|s| {
            // Nothing listens there.
            s.own.jenkins.url = "http://127.0.0.1:1".into();
            s.common.heartbeat.interval_secs = 1;
        })
        .await
        .port;
    let (status, body) = ready(port).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["degraded"], serde_json::json!(["jenkins"]));
    assert_eq!(body["checks"]["jenkins"]["ok"], false);
    assert_eq!(body["checks"]["database"]["ok"], true);
    assert_eq!(body["checks"]["broker"]["ok"], true);

    let beat = beats.expect("health.heartbeat", WAIT).await;
    let hb = &beat.envelope.payload;
    assert_eq!(hb["ready"], true, "{hb}");
    assert_eq!(hb["status"], "degraded");
    assert_eq!(hb["degraded"], serde_json::json!(["jenkins"]));
    let metrics = h.runners[0].metrics().await;
    assert!(
        metrics.contains(
            r#"runbooks_dependency_up{dependency="jenkins",kind="external",service="runner"} 0"#
        ),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test]
async fn without_jenkins_configured_a_dry_run_runner_is_ready() {
    let mut h = Harness::new().await;
    let mut beats =
        h.tb.tap(exchange::HEALTH, &["health.heartbeat.runner"])
            .await;
    let port = h
        .start_runner(|s| {
            s.own.jenkins.url = String::new();
            s.own.guard.dry_run = true;
            s.common.heartbeat.interval_secs = 1;
        })
        .await
        .port;
    let (status, body) = ready(port).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["degraded"], serde_json::json!([]));
    assert!(body["checks"].get("jenkins").is_none(), "{body}");
    let beat = beats.expect("health.heartbeat", WAIT).await;
    let hb = &beat.envelope.payload;
    assert_eq!(hb["ready"], true);
    assert_eq!(hb["status"], "up");
    assert!(hb.get("degraded").is_none(), "{hb}");
    h.stop().await;
}

#[tokio::test]
async fn a_stalled_transaction_holding_the_claim_lock_blocks_runners_only_briefly() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    let tweak = |s: &mut runner::Settings| {
        s.common.database.lock_timeout_ms = 300;
        s.common.database.idle_in_transaction_timeout_ms = 1_000;
    };
    // A replica stalled inside its claim transaction (same pool settings as the runners),
    // holding the lock every claim needs, and never finishing.
    let mut settings = h.settings();
    tweak(&mut settings);
    let stalled_pool = store::connect(&settings.common.database).await.unwrap();
    let mut stalled = stalled_pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(runner::repo::CLAIM_LOCK)
        .execute(&mut *stalled)
        .await
        .unwrap();

    h.start_runner(tweak).await;
    h.start_runner(tweak).await;
    let started = std::time::Instant::now();
    let actions = [
        h.request(NewAction::restart("app", 5)).await,
        h.request(NewAction::restart("app", 5)).await,
    ];
    for a in &actions {
        h.events.expect("action.completed", a.id).await;
        h.wait_status(a.id, "completed").await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "claims resumed once the server ended the stalled session ({:?})",
        started.elapsed()
    );
    let err = sqlx::query("SELECT 1")
        .execute(&mut *stalled)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("idle-in-transaction"),
        "the stalled session was ended by the server: {err}"
    );
    let dlq = format!("{}.dlq", domain::names::queue::ACTION_REQUESTS);
    assert_eq!(h.tb.bus.queue_depth(&dlq).await.unwrap(), 0);
    h.stop().await;
}
