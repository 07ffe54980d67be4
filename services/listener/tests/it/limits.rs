//! Every door of the listener checks the orchestrator's limits (`domain::limits`) before it
//! answers 2xx (issue #19): the Jenkins webhook answered 202 for a console line longer than
//! 65,536 characters, and the orchestrator then dead-lettered it.

use std::time::Duration;

use domain::limits::MESSAGE;
use domain::{JenkinsLog, LogRecord};
use listener::http::github_signature;
use listener::settings::Secret;
use serde_json::json;

use crate::common::*;
use crate::webhooks::{GITHUB_SECRET, start};

#[tokio::test]
async fn a_jenkins_line_over_the_limit_is_cut_with_a_marker_and_the_answer_says_so() {
    let mut h = start(|s| s.common.http.body_limit_bytes = 1024 * 1024).await;
    let long = format!("[ERROR] {}", "y".repeat(MESSAGE));
    let body = json!({"name": "deploy-prod", "build": {"number": 42, "phase": "COMPLETED",
        "status": "FAILURE", "log": ["[INFO] building", long]}});
    let (status, answer) = h.post("/webhooks/jenkins", &[], body.to_string()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["published"], 3);
    assert_eq!(
        answer["truncated"],
        json!([{"line": 2, "characters": MESSAGE + 8, "kept": MESSAGE}])
    );
    assert!(
        answer["message"].as_str().unwrap().contains("truncated"),
        "{answer}"
    );
    let msgs = h.tap.collect(3, T).await;
    let cut: JenkinsLog = serde_json::from_value(msgs[1].envelope.payload.clone()).unwrap();
    assert_eq!(cut.message.chars().count(), MESSAGE);
    assert!(
        cut.message
            .ends_with(&format!("… [truncated: {} characters]", MESSAGE + 8)),
        "marked at its end"
    );
    assert_eq!(cut.details.as_ref().unwrap()["message_truncated"], true);
    // The orchestrator's own check accepts what was published: a 202 means stored.
    for m in &msgs {
        let r: JenkinsLog = serde_json::from_value(m.envelope.payload.clone()).unwrap();
        LogRecord::Jenkins(r).validate().unwrap();
    }
    // A notification within the limits says nothing about truncation.
    let short =
        json!({"name": "a", "build": {"number": 1, "phase": "FINALIZED", "status": "SUCCESS"}});
    let (status, answer) = h.post("/webhooks/jenkins", &[], short.to_string()).await;
    assert_eq!(
        (status, answer),
        (202, json!({"status": "published", "published": 1}))
    );
    h.l.stop().await;
}

#[tokio::test]
async fn a_github_run_the_orchestrator_would_refuse_is_refused_up_front() {
    let mut h = start(|s| s.own.webhooks.github_secret = Secret::new(GITHUB_SECRET)).await;
    // Job names are `owner/repo/workflow`: a 600-character workflow name is over the limit.
    let name = "w".repeat(600);
    let body = json!({"action": "completed", "repository": {"full_name": "octo/shop"},
        "workflow_run": {"id": 1, "name": name, "run_number": 1, "run_attempt": 1,
            "conclusion": "failure", "head_branch": "main",
            "updated_at": "2026-11-29T10:00:00Z"}})
    .to_string();
    let sig = github_signature(GITHUB_SECRET.as_bytes(), body.as_bytes());
    let (status, answer) = h
        .post(
            "/webhooks/github",
            &[
                ("X-GitHub-Event", "workflow_run"),
                ("X-Hub-Signature-256", sig.as_str()),
            ],
            body,
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["field"], "job_name", "{answer}");
    assert!(
        h.tap.drain(Duration::from_millis(300)).await.is_empty(),
        "nothing published"
    );
    assert_eq!(h.requests("github", "invalid"), 1.0);
    h.l.stop().await;
}
