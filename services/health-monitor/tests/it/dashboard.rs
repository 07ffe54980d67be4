//! The dashboard in a real browser: headless Chromium (Debian's `chromium`) loads the page
//! with no network but the monitor's own port, and the rendered DOM lists every service.

use std::time::Duration;

use bus::ConsumerOptions;
use domain::commands::{CommandReply, IncidentFilter, IncidentPage};
use domain::names::queue;
use health_monitor::settings::Target;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::common::{FakeService, Harness, PASSWORD, T, USER};

/// `chromium --headless --dump-dom url` with a fresh profile; the rendered DOM.
async fn dump_dom(url: &str) -> String {
    let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile =
        std::env::temp_dir().join(format!("rb-chromium-{}", uuid::Uuid::new_v4().simple()));
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                // Anything but the monitor itself (loopback, which bypasses proxies) goes to
                // a dead proxy: the page must render with no network.
                "--proxy-server=http://127.0.0.1:9",
                &format!("--user-data-dir={}", profile.display()),
                "--dump-dom",
                url,
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finished within 60 s")
    .unwrap_or_else(|e| {
        panic!("cannot run `{bin}` ({e}): `apt-get install -y chromium` (or run .ci/run), or set CHROMIUM")
    });
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

/// The `data-service` of every row of the services table in a DOM.
fn services_in(dom: &str) -> Vec<String> {
    let table = dom
        .split("id=\"services\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("a services table");
    table
        .split("data-service=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn chromium_renders_every_registered_service() {
    let h = Harness::start_with(1, |s| {
        // Probed and failing: the page shows it as down without any network.
        s.own.health.targets = vec![Target {
            interval_secs: 1,
            timeout_ms: 300,
            ..Target::simple("order-service", "http://127.0.0.1:9/health")
        }];
    })
    .await;
    let _a = FakeService::start(&h.tb, "billing");
    let _b = FakeService::start(&h.tb, "payments");
    for s in ["billing", "payments", "health-monitor"] {
        h.wait_status(s, "up").await;
    }
    h.wait_status("order-service", "down").await;

    let base = reqwest::Url::parse(&h.url("/")).unwrap();
    let mut url = base.clone();
    url.set_username(USER).unwrap();
    url.set_password(Some(PASSWORD)).unwrap();
    let dom = dump_dom(url.as_str()).await;
    let mut listed = services_in(&dom);
    listed.sort();
    assert_eq!(
        listed,
        ["billing", "health-monitor", "order-service", "payments"],
        "{dom}"
    );
    assert!(
        dom.contains(r#"data-service="order-service" data-status="down""#),
        "{dom}"
    );
    assert!(
        dom.contains(r#"data-service="billing" data-status="up""#),
        "{dom}"
    );
    // No orchestrator answers in this test: the page says so instead of failing.
    assert!(dom.contains("id=\"incidents-unavailable\""), "{dom}");
    assert!(dom.contains("the orchestrator did not answer"));
}

#[tokio::test]
async fn the_page_shows_open_incidents_from_the_orchestrator_and_escapes_text() {
    let h = Harness::start().await;
    // Stands in for the orchestrator: answers command.incidents.list like its IncidentPage.
    let stop = CancellationToken::new();
    let bus = h.tb.bus.clone();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = asked.clone();
    let server = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let opts = ConsumerOptions::new(&bus, queue::ORCHESTRATOR_COMMANDS);
            bus.serve(
                opts,
                move |msg| {
                    *seen.lock().unwrap() = Some(msg.envelope.payload.clone());
                    async move {
                        let page: IncidentPage = serde_json::from_value(json!({
                            "items": [{
                                "id": 42, "title": "Build <b>failed</b> on deploy-prod",
                                "severity": "critical", "status": "open", "rule": "build_failed",
                                "source": "jenkins", "group_key": "deploy-prod",
                                "job_name": "deploy-prod", "build_number": 7, "service": null,
                                "path": null, "runbook_url": null, "details": {},
                                "first_log_id": null, "occurrences": 3,
                                "detected_at": "2026-11-29T10:00:00Z",
                                "last_seen_at": "2026-11-29T10:05:00Z",
                                "last_notified_at": "2026-11-29T10:00:00Z",
                                "acknowledged_by": null, "acknowledged_at": null,
                                "resolved_by": null, "resolved_at": null,
                                "resolution_method": null, "resolution_note": null,
                                "mttr_seconds": null, "fingerprint": "x"
                            }],
                            "total": 1, "limit": 20, "offset": 0
                        }))
                        .expect("an IncidentPage as the orchestrator sends it");
                        CommandReply::ok(serde_json::to_value(page).unwrap())
                    }
                },
                stop,
            )
            .await
        })
    };
    // A text from a producer must never become markup.
    h.http
        .post(h.url("/events"))
        .bearer_auth(crate::common::PRODUCER_TOKEN)
        .json(&json!({"type": "note", "payload": {}}))
        .send()
        .await
        .unwrap();
    let html = testkit::wait_for("the incident on the page", T, || async {
        let html = h.authed("/").send().await.ok()?.text().await.ok()?;
        html.contains("data-incident=\"42\"").then_some(html)
    })
    .await;
    assert!(
        html.contains("Build &#60;b&#62;failed&#60;/b&#62; on deploy-prod")
            || html.contains("Build &lt;b&gt;failed&lt;/b&gt; on deploy-prod"),
        "{html}"
    );
    assert!(!html.contains("<b>failed</b>"));
    assert!(html.contains("deploy-prod"));
    let asked: IncidentFilter =
        serde_json::from_value(asked.lock().unwrap().clone().unwrap()).unwrap();
    assert_eq!(asked.status.as_deref(), Some("active"));
    assert_eq!(asked.limit, Some(20));
    assert!(html.contains(crate::common::PRODUCER));
    stop.cancel();
    let _ = server.await;
}
