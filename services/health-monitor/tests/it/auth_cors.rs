//! Basic auth where the seed puts it, failed logins limited, no dashboard without a
//! password, CORS only for configured origins.

use crate::common::{Harness, PASSWORD, USER, body};

#[tokio::test]
async fn basic_auth_guards_the_dashboard_and_limits_failed_logins() {
    let h = Harness::start_with(1, |s| s.own.dashboard.max_failed_logins = 3).await;
    // Public routes (seed 001): no credentials needed.
    for path in [
        "/health",
        "/events",
        "/metrics",
        "/metrics/prometheus",
        "/api/services",
    ] {
        let resp = h.get(path).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
    for path in ["/", "/check-services", "/audit"] {
        let resp = h.get(path).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic realm="),
            "{path}"
        );
        let (code, err) = body(resp).await;
        assert_eq!((code, err["error"].as_str()), (401, Some("unauthorized")));
    }
    let ok = h.authed("/").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        ok.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );

    for wrong in [(USER, "guess"), ("admin", PASSWORD), (USER, "")] {
        let resp = h
            .get("/")
            .basic_auth(wrong.0, Some(wrong.1))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{wrong:?}");
    }
    // Three failures: this address now waits, even with the right password.
    let resp = h.authed("/").send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (_, err) = body(resp).await;
    assert_eq!(err["error"], "too_many_failed_logins");
    assert_eq!(
        h.get("/api/services").send().await.unwrap().status(),
        200,
        "public routes unaffected"
    );
    let metrics = h
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("runbooks_dashboard_login_failures_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_a_password_the_service_runs_and_the_dashboard_stays_off() {
    let h = Harness::start_with(1, |s| s.own.dashboard.password = None).await;
    h.wait_status("health-monitor", "up").await;
    let (code, err) = body(h.authed("/").send().await.unwrap()).await;
    assert_eq!(code, 503);
    assert_eq!(err["error"], "dashboard_disabled");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("RUNBOOKS__DASHBOARD__PASSWORD"),
        "{err}"
    );
    let (code, _) = h.get_json("/api/services").await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn cors_answers_only_allowed_origins() {
    let h = Harness::start_with(1, |s| {
        s.own.dashboard.cors_origins = vec!["https://grafana.example.com".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        h.http
            .request(reqwest::Method::OPTIONS, h.url("/events"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("https://grafana.example.com").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://grafana.example.com"
    );
    let no = preflight("https://evil.example.net").await.unwrap();
    assert!(no.headers().get("access-control-allow-origin").is_none());
    let get = h
        .get("/api/services")
        .header("origin", "https://grafana.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://grafana.example.com"
    );
}
