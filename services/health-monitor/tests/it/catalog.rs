//! Heartbeats make the catalog: a new service appears with no configuration; a killed one
//! goes down exactly once with two monitors running, comes back up once, and a clean stop
//! raises no alarm.

use std::time::Duration;

use chrono::Utc;
use domain::health::{Heartbeat, ServiceStatus};
use health_monitor::catalog::heartbeat::{Applied, apply};

use crate::common::{FakeService, Harness, T, about, expect_once};

#[tokio::test]
async fn kill_restart_and_clean_stop_with_two_monitors() {
    let h = Harness::start_with(2, |_| {}).await;
    let mut events = h.health_events().await;

    // A service nobody configured appears by itself, on every replica.
    let billing = FakeService::start(&h.tb, "billing");
    let s = h.wait_status("billing", "up").await;
    assert_eq!(s["kind"], "runbooks");
    assert_eq!(s["instances_up"], 1);
    assert_eq!(
        s["instances"][0]["instance_id"],
        billing.instance_id.as_str()
    );
    assert_eq!(s["instances"][0]["checks"], serde_json::json!({}));
    let other = reqwest::get(format!("{}/api/services", h.monitors[1].base))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(
        other["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["service"] == "billing")
    );

    // SIGKILL: the heartbeats stop without a farewell → one `down` from the two monitors.
    let killed = billing.instance_id.clone();
    billing.kill();
    let downs = expect_once(
        &mut events,
        "health.service.down",
        "billing",
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(downs.len(), 1, "exactly one down: {downs:?}");
    assert_eq!(downs[0]["instance_id"], killed.as_str());
    assert!(
        downs[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no heartbeat")
    );
    h.wait_status("billing", "down").await;

    // Restarted (a new process, a new instance id) → one `up`.
    let again = FakeService::start(&h.tb, "billing");
    let ups = expect_once(
        &mut events,
        "health.service.up",
        "billing",
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(ups.len(), 1, "exactly one up: {ups:?}");
    assert_eq!(ups[0]["instance_id"], again.instance_id.as_str());
    let s = h.wait_status("billing", "up").await;
    assert_eq!(s["instances_up"], 1);

    // A clean SIGTERM: a farewell, no alarm, even well past down_after.
    again.terminate().await;
    h.wait_status("billing", "stopped").await;
    let later = events.drain(Duration::from_secs(4)).await;
    assert!(
        about(&later, "health.service.down", "billing").is_empty(),
        "a clean stop is not an outage"
    );
    assert_eq!(h.wait_status("billing", "stopped").await["instances_up"], 0);

    // The monitor's own events land in its event log, once each.
    let sql = "SELECT count(*) FROM system_events WHERE event_type LIKE 'health.service.%' AND payload->>'service' = 'billing'";
    testkit::wait_until("2 transitions logged", T, || async {
        h.count(sql).await == 2
    })
    .await;
}

#[tokio::test]
async fn degraded_and_not_ready_instances_show_without_an_outage() {
    let h = Harness::start().await;
    let mut events = h.health_events().await;
    let jenkins = telemetry::external_check("jenkins", || async { Err("refused".into()) });
    let _a = FakeService::start_with(&h.tb, "runner", vec![jenkins]);
    let db = telemetry::check("database", || async { Err("timeout".into()) });
    let _b = FakeService::start_with(&h.tb, "runner", vec![db]);
    let s = testkit::wait_for("two runner instances", T, || async {
        h.service("runner").await.filter(|s| {
            s["instances_up"] == 2 && s["not_ready"].as_array().is_some_and(|a| a.len() == 1)
        })
    })
    .await;
    assert_eq!(s["status"], "degraded");
    assert_eq!(s["degraded"], serde_json::json!(["jenkins"]));
    let status: Vec<_> = s["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(status, ["degraded", "degraded"]);
    // The summary names what is degraded instead of counting it as healthy.
    let (_, all) = h.get_json("/api/services").await;
    let summary = all["summary"].as_str().unwrap();
    assert!(
        summary.contains("1 degraded: runner (jenkins)"),
        "{summary}"
    );
    assert!(!summary.contains("healthy"), "{summary}");
    let page = h.authed("/").send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("1 degraded: runner (jenkins)"),
        "the dashboard says it too"
    );

    let (code, integration) = h.get_json("/api/integration-status/runner").await;
    assert_eq!(code, 200);
    assert_eq!(integration["registered"], true);
    assert_eq!(integration["healthy"], true);
    assert_eq!(integration["metrics_exposed"], true);
    assert_eq!(integration["degraded"], serde_json::json!(["jenkins"]));
    assert!(integration["last_seen_at"].is_string());
    let (code, body) = h.get_json("/api/integration-status/nobody").await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["error"], "not_found");
    let (code, _) = h.get_json("/api/integration-status/bad%20name").await;
    assert_eq!(code, 400);

    assert!(events.drain(Duration::from_millis(500)).await.is_empty());
}

fn beat(service: &str, instance: &str, status: ServiceStatus) -> Heartbeat {
    Heartbeat {
        service: service.into(),
        instance_id: instance.into(),
        version: "0.1.0".into(),
        host: "h1".into(),
        started_at: Utc::now(),
        status,
        checks: Default::default(),
        ready: true,
        degraded: vec![],
        interval_secs: 1,
    }
}

#[tokio::test]
async fn late_heartbeats_never_revive_an_instance_or_overwrite_a_newer_one() {
    let h = Harness::start().await;
    let core = h.core();
    let t0 = Utc::now();
    let newer = t0 + chrono::Duration::seconds(5);
    let mut degraded = beat("ledger", "ledger-1", ServiceStatus::Degraded);
    degraded.degraded = vec!["elasticsearch".into()];
    assert_eq!(apply(core, &degraded, newer).await.unwrap(), Applied::Beat);
    // An older heartbeat delivered late (another consumer, a redelivery) changes nothing.
    let older = beat("ledger", "ledger-1", ServiceStatus::Up);
    assert_eq!(apply(core, &older, t0).await.unwrap(), Applied::Stale);
    assert_eq!(
        h.wait_status("ledger", "degraded").await["degraded"][0],
        "elasticsearch"
    );
    // After the farewell, even a newer ordinary heartbeat cannot bring the instance back.
    let bye = beat("ledger", "ledger-1", ServiceStatus::Stopping);
    assert_eq!(apply(core, &bye, newer).await.unwrap(), Applied::Farewell);
    let late = beat("ledger", "ledger-1", ServiceStatus::Up);
    assert_eq!(
        apply(core, &late, newer + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        Applied::Stale
    );
    let s = h.wait_status("ledger", "stopped").await;
    assert_eq!(s["instances"], serde_json::json!([]));
}

#[tokio::test]
async fn heartbeats_with_bad_names_are_dead_lettered() {
    let h = Harness::start().await;
    let mut dead =
        h.tb.tap(domain::names::exchange::DEAD_LETTERS, &["#"])
            .await;
    // The routing key says one service, the payload another.
    let env = domain::Envelope::new("tests", beat("billing", "b-1", ServiceStatus::Up));
    let mut msg = bus::OutgoingMessage::from_envelope(&env);
    msg.routing_key = "health.heartbeat.payments".into();
    h.tb.bus.publish_message(&msg).await.unwrap();
    let m = dead.next(T).await.expect("dead-lettered");
    assert!(
        m.headers[bus::header::DEATH_REASON].contains("does not match"),
        "{:?}",
        m.headers
    );
    let bad = domain::Envelope::new("tests", beat("bad name!", "x", ServiceStatus::Up));
    let mut msg = bus::OutgoingMessage::from_envelope(&bad);
    msg.routing_key = "health.heartbeat.x".into();
    h.tb.bus.publish_message(&msg).await.unwrap();
    let m = dead.next(T).await.expect("dead-lettered");
    assert!(m.headers[bus::header::DEATH_REASON].contains("invalid service name"));
    assert_eq!(
        h.count("SELECT count(*) FROM monitored_services WHERE service <> 'health-monitor'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_restarted_monitor_judges_only_what_it_saw_since_its_start() {
    let mut h = Harness::start_with(1, |s| s.own.health.down_after_secs = 4).await;
    let billing = FakeService::start(&h.tb, "billing");
    h.wait_status("billing", "up").await;
    // No monitor runs for a while; meanwhile billing was redeployed: the old process is
    // gone and the recorded heartbeat grows older than down_after.
    let first = h.monitors.remove(0);
    first.cancel.cancel();
    let _ = first.handle.await;
    billing.kill();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut events = h.health_events().await;
    h.add_monitor().await;
    let _replacement = FakeService::start(&h.tb, "billing");
    h.wait_status("billing", "up").await;
    // Past the new monitor's first silence period: still no alarm.
    let seen = events.drain(Duration::from_secs(5)).await;
    assert!(
        about(&seen, "health.service.down", "billing").is_empty(),
        "no false alarm from heartbeats older than the monitor: {seen:?}"
    );
}

#[tokio::test]
async fn a_down_service_whose_instances_all_say_goodbye_is_stopped() {
    let h = Harness::start().await;
    let core = h.core();
    let now = Utc::now();
    apply(core, &beat("legacy", "legacy-1", ServiceStatus::Up), now)
        .await
        .unwrap();
    // As if the sweep had found it silent (a partition), then it was decommissioned.
    sqlx::query("UPDATE service_instances SET status = 'down' WHERE service = 'legacy'")
        .execute(h.db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE monitored_services SET state = 'down' WHERE service = 'legacy'")
        .execute(h.db.pool())
        .await
        .unwrap();
    h.wait_status("legacy", "down").await;
    let bye = beat("legacy", "legacy-1", ServiceStatus::Stopping);
    assert_eq!(
        apply(core, &bye, now + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        Applied::Farewell
    );
    h.wait_status("legacy", "stopped").await;
}
