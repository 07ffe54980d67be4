//! Numbers PostgreSQL's jsonb holds but serde cannot read back are refused up front (422
//! naming the field), never stored to fail every later read.

use crate::common::*;
use crate::rest_common::*;
use domain::Level;
use serde_json::Value;

const HUGE: &str = "1.7976931348623157e+308";

async fn post_raw(o: &Orch, path: &str, raw: String) -> (u16, Value) {
    body(
        o.post(path)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn an_action_whose_params_hold_a_huge_number_is_refused_with_422() {
    let o = Orch::start().await;
    let raw = format!(
        r#"{{"action_type": "rollback", "target_job": "deploy-staging", "params": {{"target_build": 41, "x": {HUGE}}}}}"#
    );
    let (s, b) = post_raw(&o, "/api/actions", raw).await;
    assert_eq!((s, b["field"].as_str()), (422, Some("params.x")), "{b}");
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, 0);
}

#[tokio::test]
async fn a_log_whose_details_hold_a_huge_number_is_refused_on_every_path() {
    let o = Orch::start().await;
    let raw = format!(
        r#"[{{"timestamp": "2026-01-01T00:00:00Z", "level": "error", "http_status": 502, "service": "s", "details": {{"n": [{HUGE}]}}}}]"#
    );
    let (s, b) = post_raw(&o, "/mcp/logs/api", raw).await;
    assert_eq!(
        (s, b["field"].as_str()),
        (422, Some("[0].details.n[0]")),
        "{b}"
    );
    assert_eq!(o.count("SELECT count(*) FROM logs_api").await, 0);

    // Over the bus the record is dead-lettered alone; its neighbour is stored.
    let mut bad = jenkins(Level::Error, "BUILD FAILED", "nums", 1);
    if let domain::LogRecord::Jenkins(l) = &mut bad {
        l.details = Some(serde_json::json!({"n": f64::MAX}));
    }
    assert!(bad.validate().is_err_and(|e| e.field == "details"));
    o.publish(bad).await;
    o.publish(jenkins(Level::Info, "fine", "nums", 2)).await;
    o.wait_count(
        "SELECT count(*) FROM logs_jenkins WHERE job_name = 'nums'",
        1,
    )
    .await;
    // And /api/logs reads.
    assert_eq!(get_json(&o, "/api/logs").await.0, 200);
}
