//! The action, metrics, logs and rules REST routes and their errors.

use crate::common::*;
use crate::rest_common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn actions_metrics_logs_and_rules_routes() {
    let o = Orch::start().await;
    let id = open_incident(&o, "deploy-prod").await;

    let (s, a) = post_json(
        &o,
        "/api/actions",
        &json!({"action_type": "restart", "target_job": "deploy-prod",
        "target_build": 3, "incident_id": id}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        a["status"], "requested",
        "restarts need no approval by default"
    );
    let aid = a["id"].as_i64().unwrap();
    let (s, got) = get_json(&o, &format!("/api/actions/{aid}")).await;
    assert_eq!((s, got["id"].as_i64()), (200, Some(aid)));
    assert_eq!(get_json(&o, "/api/actions/77777").await.0, 404);
    assert_eq!(get_json(&o, "/api/actions/x").await.0, 400);
    // Bad requests: unknown type, unknown incident, missing build, unknown field.
    assert_eq!(
        post_json(
            &o,
            "/api/actions",
            &json!({"action_type": "reboot", "target_job": "j"})
        )
        .await
        .0,
        422
    );
    assert_eq!(post_json(&o, "/api/actions", &json!({"action_type": "restart", "target_job": "j", "target_build": 1, "incident_id": 999})).await.0, 404);
    let (s, b) = post_json(
        &o,
        "/api/actions",
        &json!({"action_type": "restart", "target_job": "j"}),
    )
    .await;
    assert_eq!((s, b["field"].as_str()), (400, Some("target_build")), "{b}");
    assert_eq!(
        post_json(
            &o,
            "/api/actions",
            &json!({"action_type": "restart", "target_job": "j", "target_build": 1, "sudo": true})
        )
        .await
        .0,
        422
    );

    // Bodies name nobody: a `user` is an unknown field, and changes nothing.
    assert_eq!(
        post_json(
            &o,
            &format!("/api/actions/{aid}/approve"),
            &json!({"user": "bob"})
        )
        .await
        .0,
        422
    );
    // Deny: only before it started; approve: only while pending.
    assert_eq!(
        post_json(&o, &format!("/api/actions/{aid}/approve"), &json!({}))
            .await
            .0,
        409
    );
    let (s, d) = post_json(
        &o,
        &format!("/api/actions/{aid}/deny"),
        &json!({"reason": "not now"}),
    )
    .await;
    assert_eq!(
        (s, d["status"].as_str(), d["rejection_reason"].as_str()),
        (200, Some("rejected"), Some("not now"))
    );
    assert_eq!(
        post_json(&o, &format!("/api/actions/{aid}/deny"), &json!({}))
            .await
            .0,
        409
    );
    assert_eq!(
        post_json(&o, "/api/actions/5555/deny", &json!({})).await.0,
        404
    );

    let (s, m) = get_json(&o, "/api/metrics/summary").await;
    assert_eq!(s, 200);
    assert_eq!(m["total"], 1);
    assert_eq!(m["by_severity"]["high"], 1);
    assert_eq!(m["by_status"]["open"], 1);
    assert_eq!(
        get_json(&o, "/api/metrics/summary?since=2026-01-01T00:00:00Z")
            .await
            .0,
        200
    );

    let (s, logs) = get_json(&o, "/api/logs?source=jenkins&level=error&q=build%20failed").await;
    assert_eq!(s, 200, "{logs}");
    assert_eq!(logs["items"].as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(logs["total"], 1, "{logs}");
    assert_eq!(get_json(&o, "/api/logs?source=syslog").await.0, 400);

    let (s, r) = body(o.post("/api/rules/reload").send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert!(r["rules"].as_u64().unwrap() >= 9);
}

#[tokio::test]
async fn bodies_name_no_actor_and_never_lower_the_approvals() {
    let o = Orch::start().await;
    // A body claiming who or where is refused whole: nothing is created.
    for claim in [json!({"requested_by": "anna"}), json!({"channel": "rule"})] {
        let mut body = json!({"action_type": "stop", "target_job": "nightly", "target_build": 9});
        body.as_object_mut()
            .unwrap()
            .extend(claim.as_object().unwrap().clone());
        let (s, b) = send(&o, "otto", Method::POST, "/api/actions", Some(body)).await;
        assert_eq!(s, 422, "{b}");
        assert!(
            b["message"].as_str().unwrap().contains("unknown field"),
            "{b}"
        );
    }
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, 0);
    let (s, a) = send(
        &o,
        "otto",
        Method::POST,
        "/api/actions",
        Some(
            json!({"action_type": "stop", "target_job": "nightly", "target_build": 9,
                    "requires_approval": false}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["requested_by"], "otto");
    assert_eq!(a["channel"], "api");
    assert_eq!(a["status"], "pending_approval");
    assert_eq!(a["approvals_required"], 2, "the policy's stop clause");
    assert_eq!(a["policy_clause"], "stop");
    // Asking for an approval the policy does not need adds one.
    let (_, r) = send(
        &o,
        "otto",
        Method::POST,
        "/api/actions",
        Some(
            json!({"action_type": "restart", "target_job": "nightly", "target_build": 9,
                    "requires_approval": true}),
        ),
    )
    .await;
    assert_eq!(
        (r["status"].as_str(), r["approvals_required"].as_u64()),
        (Some("pending_approval"), Some(1))
    );
}
