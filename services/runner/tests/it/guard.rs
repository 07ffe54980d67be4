//! Every guard rule rejects with its reason: the row goes to `rejected` by `guard`,
//! `action.rejected` is published, and Jenkins hears nothing about the action.

use std::time::{Duration, Instant};

use crate::common::{Harness, NewAction, action_calls};
use chrono::{Datelike, Utc};
use domain::ActionType;

/// Requests `a`, expects its rejection and returns the reason.
async fn rejected(h: &mut Harness, a: NewAction) -> String {
    let action = h.request(a).await;
    let msg = h.events.expect("action.rejected", action.id).await;
    let p = &msg.envelope.payload;
    assert_eq!(p["rejected_by"], "guard");
    let reason = p["reason"].as_str().unwrap().to_string();
    let row = h.wait_status(action.id, "rejected").await;
    assert_eq!(row.rejected_by.as_deref(), Some("guard"));
    assert_eq!(row.rejection_reason.as_deref(), Some(reason.as_str()));
    assert_eq!(
        row.reason.as_deref(),
        Some("test request"),
        "the requester's reason is kept"
    );
    assert_eq!(row.started_at, None, "a rejected action never starts");
    let seen = h.events.settle(Duration::from_millis(100), action.id).await;
    assert_eq!(seen, ["action.rejected"]);
    reason
}

fn no_jenkins_call_for(h: &Harness, job: &str) {
    let calls = action_calls(&h.jenkins);
    assert!(
        calls.iter().all(|c| c.job.as_deref() != Some(job)),
        "jenkins was called for {job}: {calls:?}"
    );
}

#[tokio::test]
async fn jobs_not_allowed_or_denied_are_rejected() {
    let mut h = Harness::new().await;
    h.start_runner(|s| {
        s.own.guard.allowed_jobs = vec!["app".into(), "prod-*".into()];
        s.own.guard.denied_jobs = vec!["prod-db".into()];
    })
    .await;

    let reason = rejected(&mut h, NewAction::restart("other", 1)).await;
    assert_eq!(reason, "job \"other\" is not allowed by guard.allowed_jobs");
    let reason = rejected(&mut h, NewAction::restart("prod-db", 1)).await;
    assert_eq!(
        reason,
        "job \"prod-db\" is denied by guard.denied_jobs pattern \"prod-db\""
    );
    no_jenkins_call_for(&h, "other");
    no_jenkins_call_for(&h, "prod-db");

    let metrics = h.runners[0].metrics().await;
    for line in [
        r#"runbooks_runner_guard_rejections_total{reason="not_allowed",service="runner"} 1"#,
        r#"runbooks_runner_guard_rejections_total{reason="denied",service="runner"} 1"#,
        r#"runbooks_runner_actions_total{action_type="restart",outcome="rejected",service="runner"} 2"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in:\n{metrics}");
    }
    h.stop().await;
}

#[tokio::test]
async fn by_default_nothing_is_allowed() {
    let mut h = Harness::new().await;
    h.start_runner(|s| s.own.guard.allowed_jobs.clear()).await;
    let reason = rejected(&mut h, NewAction::restart("app", 1)).await;
    assert_eq!(
        reason,
        "job \"app\" is not allowed: guard.allowed_jobs is empty"
    );
    h.stop().await;
}

#[tokio::test]
async fn invalid_requests_are_rejected_with_the_reason() {
    let mut h = Harness::new().await;
    h.start_runner(|_| {}).await;
    let reason = rejected(&mut h, NewAction::new(ActionType::Restart, "app", None)).await;
    assert_eq!(reason, "restart needs a build number");
    let reason = rejected(&mut h, NewAction::new(ActionType::Stop, "app", None)).await;
    assert_eq!(reason, "stop needs a build number");
    let reason = rejected(&mut h, NewAction::stop("app", 0)).await;
    assert_eq!(
        reason,
        "target_build must be a positive build number, got 0"
    );
    let bad_target =
        NewAction::rollback("app", None).params(serde_json::json!({"target_build": "last"}));
    let reason = rejected(&mut h, bad_target).await;
    assert_eq!(
        reason,
        "params.target_build must be a positive build number"
    );
    no_jenkins_call_for(&h, "app");
    h.stop().await;
}

#[tokio::test]
async fn outside_business_hours_actions_are_rejected() {
    let mut h = Harness::new().await;
    // Every day but today, all day long: now is outside.
    let today = Utc::now().weekday();
    let days: Vec<String> = (1..7)
        .map(|i| {
            let mut d = today;
            for _ in 0..i {
                d = d.succ();
            }
            d.to_string().to_lowercase()
        })
        .collect();
    h.start_runner(|s| {
        let hours = &mut s.own.guard.business_hours;
        hours.enabled = true;
        hours.days = days;
        hours.start = "00:00".into();
        hours.end = "24:00".into();
        hours.timezone = "UTC".into();
    })
    .await;

    let reason = rejected(&mut h, NewAction::restart("app", 1)).await;
    assert!(reason.starts_with("outside business hours ("), "{reason}");
    assert!(reason.contains("00:00-24:00 UTC"), "{reason}");
    no_jenkins_call_for(&h, "app");
    h.stop().await;
}

#[tokio::test]
async fn the_cooldown_stops_restart_loops() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.start_runner(|s| {
        s.own.guard.cooldown_max_actions = 1;
        s.own.guard.cooldown_window_mins = 60;
    })
    .await;

    let first = h.request(NewAction::restart("app", 5)).await;
    h.events.expect("action.completed", first.id).await;
    h.wait_status(first.id, "completed").await;

    let reason = rejected(&mut h, NewAction::restart("app", 5)).await;
    assert_eq!(
        reason,
        "cooldown: 1 actions on job \"app\" in the last 60 minutes (limit 1)"
    );
    assert_eq!(h.jenkins.triggers().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_request_that_finds_no_free_slot_in_time_is_rejected() {
    let mut h = Harness::new().await;
    // Another replica holds the only slot, with a lease far in the future.
    let busy = h.insert(NewAction::restart("busy", 1)).await;
    sqlx::query(
        "UPDATE action_executions
         SET status = 'running', claimed_by = 'runner-elsewhere', started_at = now(),
             lease_expires_at = now() + interval '1 hour'
         WHERE id = $1",
    )
    .bind(busy.id)
    .execute(h.db.pool())
    .await
    .unwrap();
    h.start_runner(|s| {
        s.own.guard.max_concurrent = 1;
        s.own.guard.max_wait_secs = 1;
    })
    .await;

    let asked = Instant::now();
    let reason = rejected(&mut h, NewAction::restart("app", 1)).await;
    assert!(asked.elapsed() >= Duration::from_secs(1), "it waited first");
    assert_eq!(
        reason,
        "concurrency limit reached: 1 actions running (limit 1); no slot freed within 1 s"
    );
    no_jenkins_call_for(&h, "app");
    assert_eq!(h.row(busy.id).await.status, "running");
    h.stop().await;
}
