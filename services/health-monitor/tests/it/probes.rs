//! External targets: a target answering 500 goes down and comes back at 200, each announced
//! once; body matches and timeouts count as failures; `/check-services` reports and alerts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use health_monitor::settings::Target;

use crate::common::{FakeService, Harness, T, about, body, expect_once};

/// An HTTP service outside Runbooks whose `/health` answers what the test says.
struct FakeTarget {
    addr: std::net::SocketAddr,
    status: Arc<AtomicU16>,
}

impl FakeTarget {
    async fn start() -> FakeTarget {
        let status = Arc::new(AtomicU16::new(200));
        let app = Router::new()
            .route(
                "/health",
                get(|State(s): State<Arc<AtomicU16>>| async move {
                    let code = StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap();
                    (code, "status: degraded")
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "ok"
                }),
            )
            .route(
                "/redirect",
                get(|| async { axum::response::Redirect::temporary("/health") }),
            )
            .with_state(status.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeTarget { addr, status }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn answer(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }
}

fn target(name: &str, url: String) -> Target {
    Target {
        interval_secs: 1,
        timeout_ms: 500,
        ..Target::simple(name, &url)
    }
}

#[tokio::test]
async fn a_target_goes_down_at_500_and_up_at_200() {
    let fake = FakeTarget::start().await;
    let url = fake.url("/health");
    let h = Harness::start_with(2, move |s| {
        s.own.health.targets = vec![target("auth", url)];
    })
    .await;
    let mut events = h.health_events().await;
    let s = h.wait_status("auth", "up").await;
    assert_eq!(s["kind"], "external");
    assert_eq!(s["probe"]["last_check"]["http_status"], 200);

    fake.answer(500);
    let downs = expect_once(
        &mut events,
        "health.service.down",
        "auth",
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(downs.len(), 1, "{downs:?}");
    assert!(
        downs[0]["reason"]
            .as_str()
            .unwrap()
            .contains("HTTP 500, expected 200"),
        "{downs:?}"
    );
    let s = h.wait_status("auth", "down").await;
    assert_eq!(s["instances_up"], 0);

    fake.answer(200);
    let ups = expect_once(
        &mut events,
        "health.service.up",
        "auth",
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(ups.len(), 1, "{ups:?}");
    h.wait_status("auth", "up").await;

    // Every probe is a check: the uptime reflects the outage.
    let s = h.service("auth").await.unwrap();
    let uptime = s["uptime_percent"]["1h"].as_f64().unwrap();
    assert!(uptime > 0.0 && uptime < 100.0, "{s}");
    // Only the leader probes: no target sees two probes per interval for long.
    let leaders = h.count("SELECT count(*) FROM health_leases").await;
    assert_eq!(leaders, 1);
}

#[tokio::test]
async fn body_mismatch_timeout_and_redirect_are_failures() {
    let fake = FakeTarget::start().await;
    let mut wants_ok = target("product", fake.url("/health"));
    wants_ok.body_contains = Some("status: ok".into());
    let targets = vec![
        wants_ok,
        target("order", fake.url("/slow")),
        target("cart", fake.url("/redirect")),
        target("wishlist", "http://127.0.0.1:9/health?token=s3cret".into()),
    ];
    let h = Harness::start_with(1, move |s| s.own.health.targets = targets).await;
    let product = h.wait_status("product", "down").await;
    assert!(
        product["probe"]["last_check"]["error"]
            .as_str()
            .unwrap()
            .contains("does not contain"),
        "{product}"
    );
    let order = h.wait_status("order", "down").await;
    assert_eq!(
        order["probe"]["last_check"]["error"],
        "no answer within 500 ms"
    );
    let cart = h.wait_status("cart", "down").await;
    assert_eq!(cart["probe"]["last_check"]["http_status"], 307, "{cart}");
    let wishlist = h.wait_status("wishlist", "down").await;
    let error = wishlist["probe"]["last_check"]["error"].as_str().unwrap();
    assert!(error.starts_with("connection failed: "), "{error}");
    assert!(
        !error.contains("s3cret") && !error.contains("127.0.0.1"),
        "no URL in errors: {error}"
    );
}

#[tokio::test]
async fn check_services_reports_and_alerts_with_a_cooldown() {
    let fake = FakeTarget::start().await;
    let url = fake.url("/health");
    let h = Harness::start_with(1, move |s| {
        s.own.health.targets = vec![target("auth", url)];
        s.own.health.alert_cooldown_secs = 60;
    })
    .await;
    let _ok = FakeService::start(&h.tb, "billing");
    let dies = FakeService::start(&h.tb, "payments");
    h.wait_status("billing", "up").await;
    h.wait_status("payments", "up").await;
    h.wait_status("auth", "up").await;

    let (code, report) = body(h.authed("/check-services").send().await.unwrap()).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["healthy"], true);
    assert_eq!(report["alerts_published"], serde_json::json!([]));
    let auth = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "auth")
        .unwrap();
    assert_eq!(auth["probe"]["http_status"], 200, "probed in this round");

    let mut events = h.health_events().await;
    dies.kill();
    fake.answer(503);
    h.wait_status("payments", "down").await;
    // The transitions were the alerts: a check right away does not repeat them.
    let (_, report) = body(h.authed("/check-services").send().await.unwrap()).await;
    assert_eq!(report["healthy"], false);
    let mut unhealthy: Vec<String> = serde_json::from_value(report["unhealthy"].clone()).unwrap();
    unhealthy.sort();
    assert_eq!(unhealthy, ["auth", "payments"]);
    assert_eq!(
        report["alerts_published"],
        serde_json::json!([]),
        "{report}"
    );

    // Once the cooldown has passed, a check alerts again (chatops posts it).
    sqlx::query("UPDATE monitored_services SET last_alert_at = now() - interval '2 minutes'")
        .execute(h.db.pool())
        .await
        .unwrap();
    let (_, report) = body(h.authed("/check-services").send().await.unwrap()).await;
    let mut alerted: Vec<String> =
        serde_json::from_value(report["alerts_published"].clone()).unwrap();
    alerted.sort();
    assert_eq!(alerted, ["auth", "payments"]);
    let seen = events.drain(Duration::from_secs(3)).await;
    for service in ["auth", "payments"] {
        let downs = about(&seen, "health.service.down", service);
        assert!(!downs.is_empty(), "{service}: no alert among {seen:?}");
        assert!(
            downs.last().unwrap().envelope.payload["reason"]
                .as_str()
                .unwrap()
                .contains("still down"),
        );
    }
    let (code, _) = body(h.get("/check-services").send().await.unwrap()).await;
    assert_eq!(code, 401, "basic auth enforced");
    let _ = T;
}
