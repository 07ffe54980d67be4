//! Automatic actions, approvals and the runner's results.

use std::time::Duration;

use crate::common::*;
use domain::action::ActionResult;
use domain::events::{ActionCompleted, ActionFailed, ActionRef, ActionStarted};
use domain::{ActionType, Envelope, Event, Level};

/// What the runner commits before it publishes a result: its own transition of the row
/// (the orchestrator only reads it).
async fn runner_commits(
    o: &Orch,
    id: i64,
    status: &str,
    result: Option<&ActionResult>,
    error: Option<&str>,
) {
    sqlx::query(
        "UPDATE action_executions
         SET status = $2, claimed_by = 'runner-x', lease_expires_at = now(), started_at = now(),
             dry_run = $3, result = $4, error = $5, completed_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(result.is_some_and(|r| r.dry_run))
    .bind(result.map(|r| serde_json::to_value(r).unwrap()))
    .bind(error)
    .execute(o.pool())
    .await
    .unwrap();
}

/// A failed build whose rule restarts it: the restart requested, as results name it.
async fn automatic_restart(o: &Orch, events: &mut testkit::Tap, build: i64) -> ActionRef {
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-app", build))
        .await;
    let requested = events.expect("action.requested", T).await;
    let a = &requested.envelope.payload["action"];
    action_ref(
        a["id"].as_i64().unwrap(),
        a["incident_id"].as_i64(),
        "deploy-app",
    )
}

fn started(action: &ActionRef) -> Event {
    Event::ActionStarted(ActionStarted {
        action: action.clone(),
        runner: "runner-x".into(),
        started_at: chrono::Utc::now(),
        lease_expires_at: chrono::Utc::now(),
        dry_run: false,
    })
}

fn completed(action: &ActionRef, result: ActionResult) -> Event {
    Event::ActionCompleted(ActionCompleted {
        action: action.clone(),
        result,
        completed_at: chrono::Utc::now(),
    })
}

async fn publish(o: &Orch, event: Event) {
    o.tb.bus
        .publish(&Envelope::new("runner", event))
        .await
        .unwrap();
}

fn action_ref(id: i64, incident: Option<i64>, job: &str) -> ActionRef {
    ActionRef {
        action_id: id,
        action_type: ActionType::Restart,
        target_job: job.into(),
        target_build: Some(41),
        incident_id: incident,
    }
}

#[tokio::test]
async fn an_automatic_restart_completes_and_resolves_its_incident_once() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-app", 41))
        .await;
    let detected = events.expect("incident.detected", T).await;
    let requested = events.expect("action.requested", T).await;
    let incident_id = detected.envelope.payload["incident"]["id"]
        .as_i64()
        .unwrap();
    let action = &requested.envelope.payload["action"];
    let action_id = action["id"].as_i64().unwrap();
    assert_eq!(detected.envelope.payload["action_id"], action_id);
    assert_eq!(action["action_type"], "restart");
    assert_eq!(action["target_job"], "deploy-app");
    assert_eq!(action["target_build"], 41);
    assert_eq!(action["incident_id"], incident_id);
    assert_eq!(action["channel"], "rule");
    assert_eq!(action["status"], "requested");

    // The runner's results arrive; `completed` overtakes `started`.
    let result = ActionResult {
        queue_id: Some(9),
        build_number: Some(42),
        url: None,
        build_result: Some("SUCCESS".into()),
        duration_ms: 1200,
        dry_run: false,
    };
    runner_commits(&o, action_id, "completed", Some(&result), None).await;
    let completed = Envelope::new(
        "runner",
        completed(
            &action_ref(action_id, Some(incident_id), "deploy-app"),
            result,
        ),
    );
    o.tb.bus.publish(&completed).await.unwrap();
    let resolved = events.expect("incident.resolved", T).await;
    assert_eq!(resolved.envelope.payload["incident"]["id"], incident_id);
    assert_eq!(
        resolved.envelope.payload["resolution_method"],
        "automated_action"
    );
    assert_eq!(resolved.envelope.payload["resolved_by"], "runner");
    assert_eq!(resolved.envelope.payload["action_id"], action_id);
    assert!(resolved.envelope.payload["mttr_seconds"].as_f64().unwrap() >= 0.0);
    let (status, result): (String, serde_json::Value) =
        sqlx::query_as("SELECT status, result FROM action_executions WHERE id = $1")
            .bind(action_id)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!(status, "completed");
    assert_eq!(result["build_number"], 42);
    let (istatus, mttr): (String, Option<f64>) =
        sqlx::query_as("SELECT status, mttr_seconds FROM incidents WHERE id = $1")
            .bind(incident_id)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!(istatus, "resolved");
    assert!(mttr.is_some());

    // The same result again, and the late `started`: nothing changes, nothing is emitted.
    o.tb.bus
        .publish_message(&bus::OutgoingMessage::from_envelope(&completed))
        .await
        .unwrap();
    publish(
        &o,
        started(&action_ref(action_id, Some(incident_id), "deploy-app")),
    )
    .await;
    let later = events.drain(Duration::from_millis(800)).await;
    let kinds: Vec<_> = later
        .iter()
        .map(|m| m.envelope.kind.as_str())
        // The resolution's post-mortem is written meanwhile; it is not a change of state.
        .filter(|k| !k.starts_with("action.") && !k.contains("postmortem"))
        .collect();
    assert!(kinds.is_empty(), "unexpected {kinds:?}");
    assert_eq!(
        o.count("SELECT count(*) FROM action_executions WHERE status = 'completed'")
            .await,
        1
    );
    assert_eq!(
        o.count("SELECT count(*) FROM outbox_events WHERE event_type = 'incident.resolved'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_failed_action_keeps_the_incident_open_and_updates_it() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let action = automatic_restart(&o, &mut events, 5).await;
    let action_id = action.action_id;
    runner_commits(&o, action_id, "failed", None, Some("jenkins answered 500")).await;
    let failed = ActionFailed {
        action,
        reason: "jenkins answered 500".into(),
        error_kind: Some("jenkins_5xx".into()),
        failed_at: chrono::Utc::now(),
    };
    publish(&o, Event::ActionFailed(failed)).await;
    let updated = events.expect("incident.updated", T).await;
    assert_eq!(updated.envelope.payload["reason"], "action_failed");
    assert_eq!(updated.envelope.payload["detail"], "jenkins answered 500");
    assert_eq!(
        o.count("SELECT count(*) FROM incidents WHERE status = 'open'")
            .await,
        1
    );
    let (status, error): (String, String) =
        sqlx::query_as("SELECT status, error FROM action_executions WHERE id = $1")
            .bind(action_id)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), error.as_str()),
        ("failed", "jenkins answered 500")
    );
}

#[tokio::test]
async fn results_move_the_incident_and_leave_the_runners_row_alone() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let action = automatic_restart(&o, &mut events, 41).await;
    let action_id = action.action_id;
    // A result whose row the runner has not moved (here: nobody did): the orchestrator
    // writes no action transition of its own, it only moves the incident.
    publish(&o, started(&action)).await;
    let result = ActionResult {
        duration_ms: 5,
        ..ActionResult::default()
    };
    publish(&o, completed(&action, result)).await;
    events.expect("incident.resolved", T).await;
    let (status, claimed, result, started): (
        String,
        Option<String>,
        Option<serde_json::Value>,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = sqlx::query_as(
        "SELECT status, claimed_by, result, started_at FROM action_executions WHERE id = $1",
    )
    .bind(action_id)
    .fetch_one(o.pool())
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), claimed, result, started),
        ("requested", None, None, None)
    );
}

#[tokio::test]
async fn the_requester_cannot_approve_their_own_action() {
    use reqwest::Method;
    let o = Orch::start().await;
    let mut events = o.events().await;
    let resp = o
        .as_("olga", Method::POST, "/api/actions")
        .json(&serde_json::json!({
            "action_type": "rollback", "target_job": "deploy-prod", "target_build": 12,
            "reason": "bad release"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let action: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        action["status"], "pending_approval",
        "rollbacks need approval"
    );
    assert_eq!(
        action["requested_by"], "olga",
        "the token decides, not the body"
    );
    let id = action["id"].as_i64().unwrap();
    let requested = events.expect("action.requested", T).await;
    assert_eq!(
        requested.envelope.payload["action"]["requires_approval"],
        true
    );

    // olga holds the approver role, but requested it.
    let approve = format!("/api/actions/{id}/approve");
    let own = o
        .as_("olga", Method::POST, &approve)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 403);
    let body: serde_json::Value = own.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
    assert_eq!(body["clause"], "approver-not-requester");
    assert!(body["message"].as_str().unwrap().contains("cannot approve"));
    let denied = events.expect("audit.denied", T).await;
    assert_eq!(denied.envelope.payload["outcome"], "denied");
    assert_eq!(
        denied.envelope.payload["details"]["attempted"],
        "action.approve"
    );

    let ok = o
        .as_("anna", Method::POST, &approve)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let audit = events.expect("audit.action.approve", T).await;
    assert_eq!(audit.envelope.payload["actor"], "anna");
    assert_eq!(audit.envelope.payload["channel"], "api");
    assert_eq!(audit.envelope.payload["details"]["approvals"], 1);
    assert_eq!(audit.envelope.payload["details"]["required"], 2);
    let row: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(
        row["status"], "pending_approval",
        "a production rollback needs two"
    );

    let ok = o
        .as_("abel", Method::POST, &approve)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let approved = events.expect("action.approved", T).await;
    assert_eq!(approved.envelope.payload["approved_by"], "abel");

    let again = o
        .as_("ada", Method::POST, &approve)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn a_dry_run_leaves_its_incident_open_and_says_what_would_have_run() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let action = automatic_restart(&o, &mut events, 41).await;
    let (action_id, incident_id) = (action.action_id, action.incident_id.unwrap());
    let result = ActionResult {
        duration_ms: 3,
        dry_run: true,
        ..ActionResult::default()
    };
    runner_commits(&o, action_id, "completed", Some(&result), None).await;
    publish(&o, completed(&action, result)).await;
    let updated = events.expect("incident.updated", T).await;
    let p = &updated.envelope.payload;
    assert_eq!(p["reason"], "dry_run");
    assert_eq!(p["action_id"], action_id);
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("would have run restart on deploy-app #41"),
        "{detail}"
    );
    let (status, mttr): (String, Option<f64>) =
        sqlx::query_as("SELECT status, mttr_seconds FROM incidents WHERE id = $1")
            .bind(incident_id)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!((status.as_str(), mttr), ("open", None));
    let (astatus, dry): (String, Option<bool>) =
        sqlx::query_as("SELECT status, dry_run FROM action_executions WHERE id = $1")
            .bind(action_id)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!((astatus.as_str(), dry), ("completed", Some(true)));
    let later = events.drain(Duration::from_millis(500)).await;
    assert!(
        later.iter().all(|m| m.envelope.kind != "incident.resolved"),
        "no resolution"
    );
    // Counted apart: no MTTR observed, one dry run.
    let metrics = o
        .http
        .get(format!("{}/metrics", o.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"runbooks_actions_dry_run_total{type="restart",service="orchestrator"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains("runbooks_incident_mttr_seconds_count"),
        "no MTTR"
    );
}

#[tokio::test]
async fn a_rule_acts_through_the_policy_like_anyone() {
    let dir = std::env::temp_dir().join(format!("rb-pol-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    // Rules hold no role here: their automatic restarts are refused.
    std::fs::write(
        &path,
        "[[actions]]\nname = \"people-only\"\nactions = [\"restart\"]\nroles = [\"operator\"]\n",
    )
    .unwrap();
    let o = Orch::start_with(move |s| s.own.policy.path = Some(path)).await;
    let mut events = o.events().await;
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-prod", 41))
        .await;
    let detected = events.expect("incident.detected", T).await;
    assert!(detected.envelope.payload["action_id"].is_null());
    let denied = events.expect("audit.denied", T).await;
    let p = &denied.envelope.payload;
    assert_eq!(p["actor"], "rule:jenkins_build_failure");
    assert_eq!(p["channel"], "rule");
    assert_eq!(p["clause"], "people-only");
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, 0);
}

#[tokio::test]
async fn a_rules_restart_of_a_production_job_waits_for_an_approval() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-prod", 41))
        .await;
    let requested = events.expect("action.requested", T).await;
    let action = &requested.envelope.payload["action"];
    assert_eq!(action["channel"], "rule");
    assert_eq!(action["target_job"], "deploy-prod");
    assert_eq!(action["status"], "pending_approval", "{action}");
}
