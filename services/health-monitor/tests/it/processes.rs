//! Real processes: two health-monitor binaries watch a service; the service's heartbeats stop
//! (as after SIGKILL) → one `health.service.down` between them; then one monitor is killed
//! with SIGKILL → its instance is seen down by the other, which takes over the leader lease.

use std::time::Duration;

use testkit::process::{ServiceProcess, service_env};
use testkit::{TestBus, TestDb};

use crate::common::{FakeService, PASSWORD, T, expect_once};

const BIN: &str = env!("CARGO_BIN_EXE_health-monitor");

async fn spawn_monitor(db: &TestDb, tb: &TestBus) -> ServiceProcess {
    let mut env = service_env(db, tb);
    for (k, v) in [
        ("RUNBOOKS__HEALTH__DOWN_AFTER_SECS", "2"),
        ("RUNBOOKS__HEALTH__SWEEP_INTERVAL_MS", "200"),
        ("RUNBOOKS__HEALTH__LEADER_LEASE_SECS", "3"),
        ("RUNBOOKS__DASHBOARD__PASSWORD", PASSWORD),
        ("RUNBOOKS__OUTBOX__POLL_INTERVAL_MS", "100"),
        ("RUST_LOG", "warn,health_monitor=info,runtime=info"),
    ] {
        env.push((k.into(), v.into()));
    }
    let p = ServiceProcess::spawn(BIN, &[], &env).await;
    p.wait_ready(T).await;
    p
}

async fn services(p: &ServiceProcess) -> serde_json::Value {
    reqwest::get(p.url("/api/services"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_monitor_processes_agree_and_survive_a_sigkill() {
    testkit::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let a = spawn_monitor(&db, &tb).await;
    let b = spawn_monitor(&db, &tb).await;
    let mut events = tb
        .tap(domain::names::exchange::EVENTS, &["health.service.*"])
        .await;

    let svc = FakeService::start(&tb, "inventory");
    testkit::wait_until("inventory up on both", T, || async {
        let up = |v: serde_json::Value| {
            v["services"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|s| s["service"] == "inventory" && s["status"] == "up")
            })
        };
        up(services(&a).await) && up(services(&b).await)
    })
    .await;
    svc.kill();
    let downs = expect_once(
        &mut events,
        "health.service.down",
        "inventory",
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(downs.len(), 1, "{downs:?}");

    // Both monitors heartbeat as instances of `health-monitor`; kill one outright.
    let monitor = testkit::wait_for("two monitor instances", T, || async {
        services(&a).await["services"]
            .as_array()?
            .iter()
            .find(|s| s["service"] == "health-monitor" && s["instances_up"] == 2)
            .cloned()
    })
    .await;
    assert_eq!(monitor["instances"].as_array().unwrap().len(), 2);
    let status = b.kill().await;
    assert!(!status.success(), "killed, not exited: {status:?}");
    let survivor = testkit::wait_for("the killed monitor seen down", T, || async {
        services(&a).await["services"]
            .as_array()?
            .iter()
            .find(|s| {
                s["service"] == "health-monitor"
                    && s["instances_up"] == 1
                    && s["instances"].as_array().is_some_and(|i| i.len() == 2)
            })
            .cloned()
    })
    .await;
    assert_eq!(survivor["status"], "up", "one instance left: not an outage");
    let dead: Vec<_> = survivor["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "down")
        .collect();
    assert_eq!(dead.len(), 1);
    // The survivor holds the lease once the killed one's expires.
    let alive_id = survivor["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["status"] == "up")
        .unwrap()["instance_id"]
        .as_str()
        .unwrap()
        .to_string();
    testkit::wait_until("the survivor leads", T, || async {
        let holder: Option<String> =
            sqlx::query_scalar("SELECT holder FROM health_leases WHERE expires_at > now()")
                .fetch_optional(db.pool())
                .await
                .unwrap();
        holder.as_deref() == Some(alive_id.as_str())
    })
    .await;
    let later = events.drain(Duration::from_secs(2)).await;
    assert!(
        crate::common::about(&later, "health.service.down", "health-monitor").is_empty(),
        "a monitor replica lost is not a service outage"
    );
    let status = a.terminate(Duration::from_secs(15)).await;
    assert!(status.success());
}
