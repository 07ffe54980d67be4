//! Bad page sizes are refused the same way on every list, never quietly replaced.

use crate::common::*;
use crate::rest_common::*;

#[tokio::test]
async fn bad_log_limits_are_refused_naming_the_field() {
    let o = Orch::start().await;
    for bad in ["0", "-4", "1001", "100000"] {
        for path in ["/api/logs", "/api/incidents"] {
            let (s, b) = get_json(&o, &format!("{path}?limit={bad}")).await;
            assert_eq!(
                (s, b["field"].as_str()),
                (400, Some("limit")),
                "{path} {bad}: {b}"
            );
        }
    }
    assert_eq!(get_json(&o, "/api/logs?limit=1000").await.0, 200);
}

#[tokio::test]
async fn an_action_cannot_be_attached_to_another_jobs_incident() {
    let o = Orch::start().await;
    let id = open_incident(&o, "deploy-app").await;
    let (s, b) = post_json(
        &o,
        "/api/actions",
        &serde_json::json!({"action_type": "restart", "target_job": "nightly",
            "target_build": 3, "incident_id": id}),
    )
    .await;
    assert_eq!((s, b["field"].as_str()), (400, Some("incident_id")), "{b}");
    assert_eq!(
        o.count("SELECT count(*) FROM action_executions WHERE target_job = 'nightly'")
            .await,
        0
    );
    let (s, b) = post_json(
        &o,
        "/api/actions",
        &serde_json::json!({"action_type": "restart", "target_job": "deploy-app",
            "target_build": 3, "incident_id": id}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test]
async fn a_target_job_the_runner_can_never_act_on_is_refused_up_front() {
    let o = Orch::start().await;
    for bad in ["*", "..", "team/../x", "deploy-*"] {
        let (s, b) = post_json(
            &o,
            "/api/actions",
            &serde_json::json!({"action_type": "rollback", "target_job": bad}),
        )
        .await;
        assert_eq!(
            (s, b["field"].as_str()),
            (400, Some("target_job")),
            "{bad}: {b}"
        );
    }
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, 0);
}

/// `/api/logs` answered a bare array while `/api/incidents` answers `{items,total}`.
#[tokio::test]
async fn logs_are_paged_like_incidents() {
    let o = Orch::start().await;
    let items: Vec<domain::LogRecord> = (0..5)
        .map(|i| {
            let mut r = api(200, "/paged", 1.0);
            if let domain::LogRecord::Api(l) = &mut r {
                l.service = Some("pager".into());
                l.timestamp = ts(10 - i);
            }
            r
        })
        .collect();
    let incoming: Vec<orchestrator::logs::Incoming<'_>> = items
        .iter()
        .map(|record| orchestrator::logs::Incoming {
            record,
            message_id: None,
        })
        .collect();
    o.services.logs.ingest(&incoming, "test").await.unwrap();
    let (s, page) = get_json(&o, "/api/logs?service=pager&limit=2&offset=1").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        (
            page["total"].as_i64(),
            page["limit"].as_i64(),
            page["offset"].as_i64()
        ),
        (Some(5), Some(2), Some(1)),
        "{page}"
    );
    let newest_first: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["timestamp"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(newest_first.len(), 2);
    assert!(newest_first[0] > newest_first[1], "{newest_first:?}");
    // The second newest comes first on the page with offset 1.
    let (_, all) = get_json(&o, "/api/logs?service=pager").await;
    assert_eq!(all["items"][1]["id"], page["items"][0]["id"]);
    for bad in ["-1", "100001"] {
        let (s, b) = get_json(&o, &format!("/api/logs?offset={bad}")).await;
        assert_eq!(
            (s, b["field"].as_str()),
            (400, Some("offset")),
            "{bad}: {b}"
        );
    }
    // The OpenAPI document says so.
    let (_, doc) = get_json(&o, "/api/openapi.json").await;
    let ok = &doc["paths"]["/api/logs"]["get"]["responses"]["200"];
    let text = ok.to_string();
    assert!(text.contains("LogPage") || text.contains("total"), "{ok}");
}
