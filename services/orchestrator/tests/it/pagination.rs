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
