//! PagerDuty Events API v2: `POST {pagerduty_url}/v2/enqueue` with the routing key of the
//! incident's severity. `trigger` opens (or, with the same `dedup_key`, joins) an alert;
//! `resolve` closes it. Answers: 202 accepted, 400 invalid event, 429 throttled, 5xx.

use domain::Severity;
use runtime::Secret;
use serde_json::{Value, json};

use super::{CallOutcome, sort};
use crate::repo::pages::PageRow;

/// PagerDuty's severities: critical, error, warning, info.
fn pd_severity(s: &str) -> &'static str {
    match s.parse::<Severity>() {
        Ok(Severity::Critical) => "critical",
        Ok(Severity::High) => "error",
        Ok(Severity::Medium) => "warning",
        _ => "info",
    }
}

/// The event's JSON (the routing key is added only here, never stored).
pub(super) fn body(page: &PageRow, routing_key: &Secret) -> Value {
    let mut b = json!({
        "routing_key": routing_key.expose(),
        "event_action": page.event_action,
        "dedup_key": page.dedup_key,
    });
    if page.event_action == "trigger" {
        let p = &page.payload;
        b["payload"] = json!({
            "summary": p["summary"],
            "source": "runbooks",
            "severity": pd_severity(&page.severity),
            "component": p["job"].as_str().or(p["service"].as_str()),
            "group": p["runbook"],
            "class": "runbook-escalation",
            "custom_details": p,
        });
        b["client"] = "Runbooks".into();
    }
    b
}

pub(super) async fn send(
    http: &reqwest::Client,
    base: &str,
    page: &PageRow,
    routing_key: &Secret,
) -> CallOutcome {
    let url = format!("{}/v2/enqueue", base.trim_end_matches('/'));
    let r = http.post(url).json(&body(page, routing_key)).send().await;
    match r {
        Ok(r) => {
            let status = r.status();
            let body = r.json::<Value>().await.unwrap_or(Value::Null);
            sort(status, body)
        }
        // Without the URL: the error text goes into logs and the page's row.
        Err(e) => CallOutcome::Retry(e.without_url().to_string()),
    }
}
