//! `/metrics`: the process exposition for scrapers, the seed's JSON on request;
//! `/metrics/prometheus`: the fleet. Both texts pass `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{FakeService, Harness, body};

/// `promtool check metrics` on `text`; panics with promtool's complaints.
fn promtool_check(what: &str, text: &str) {
    let bin = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&bin)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `{bin}` ({e}): install Debian's `prometheus` package (or run .ci/run), or set PROMTOOL")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool rejects {what}:\n{}{}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn both_formats_are_served_and_pass_promtool() {
    let h = Harness::start().await;
    let _svc = FakeService::start(&h.tb, "billing");
    h.wait_status("billing", "up").await;
    h.wait_status("health-monitor", "up").await;
    // Some traffic so the request metrics have samples.
    let _ = h.get_json("/api/services").await;

    // A scraper (Prometheus' own Accept header) gets the process exposition.
    let resp = h
        .get("/metrics")
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(resp.headers()["vary"], "accept");
    let process = resp.text().await.unwrap();
    assert!(
        process.contains("runbooks_heartbeats_received_total"),
        "{process}"
    );
    assert!(
        process.contains(r#"route="/api/services""#),
        "requests are labelled by route: {process}"
    );
    promtool_check("/metrics", &process);

    // The seed's JSON, on request.
    let (code, json) = body(
        h.get("/metrics")
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(json["healthy_services"], 2, "{json}");
    assert_eq!(json["total_services"], 2);
    assert_eq!(json["events_count"], 0);
    assert_eq!(json["audits_count"], 0);
    assert!(json.get("uptime_percent").is_some());
    assert_eq!(json["services"]["billing"]["status"], "up");
    let (_, same) = h.get_json("/metrics?format=json").await;
    assert_eq!(same["total_services"], 2);

    let resp = h.get("/metrics/prometheus").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let fleet = resp.text().await.unwrap();
    for line in [
        "runbooks_healthy_services 2",
        "runbooks_total_services 2",
        "runbooks_events_total 0",
        "runbooks_audits_total 0",
        r#"runbooks_service_up{kind="runbooks",service="billing"} 1"#,
        r#"runbooks_service_up{kind="runbooks",service="health-monitor"} 1"#,
    ] {
        assert!(fleet.contains(line), "missing `{line}` in:\n{fleet}");
    }
    promtool_check("/metrics/prometheus", &fleet);
}
