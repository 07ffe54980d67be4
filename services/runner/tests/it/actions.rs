//! Each action type end to end against real PostgreSQL and RabbitMQ and a fake Jenkins:
//! the exact Jenkins calls, the row, and the `action.*` events.

use std::time::Duration;

use crate::common::{Harness, NewAction, action_calls};
use serde_json::json;
use testkit::jenkins::Endpoint;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn restart_rebuilds_the_build_and_reports_it() {
    let mut h = Harness::new().await;
    let params = [("VERSION", "1.4.2"), ("REGION", "eu west")];
    h.jenkins.add_build("app", 5, "FAILURE", &params);
    let runner = h.start_runner(|_| {}).await.instance_id.clone();

    let action = h.request(NewAction::restart("app", 5)).await;

    let started = h.events.expect("action.started", action.id).await;
    assert_eq!(started.envelope.producer, "runner");
    let p = &started.envelope.payload;
    assert_eq!(p["runner"], runner.as_str());
    assert_eq!(p["dry_run"], false);
    assert_eq!(p["action"]["action_type"], "restart");
    assert_eq!(p["action"]["target_job"], "app");
    assert_eq!(p["action"]["target_build"], 5);
    let completed = h.events.expect("action.completed", action.id).await;
    let result = &completed.envelope.payload["result"];
    assert_eq!(result["queue_id"], 1);
    assert_eq!(result["build_number"], 6);
    assert_eq!(result["url"], format!("{}/job/app/6/", h.jenkins.url()));
    assert_eq!(result["dry_run"], false);

    let row = h.wait_status(action.id, "completed").await;
    assert_eq!(row.claimed_by.as_deref(), Some(runner.as_str()));
    assert_eq!(row.dry_run, Some(false));
    assert_eq!(row.result.as_ref(), Some(result));
    assert!(row.started_at.is_some() && row.completed_at.is_some());
    assert_eq!(row.error, None);

    assert_eq!(
        h.action_calls(),
        [
            "GET /job/app/5/api/json",
            "GET /job/app/api/json",
            "GET /crumbIssuer/api/json",
            "POST /job/app/buildWithParameters",
            "GET /queue/item/1/api/json",
        ]
    );
    let triggers = h.jenkins.triggers();
    assert_eq!(triggers.len(), 1);
    assert_eq!(triggers[0].form, pairs(&params));
    assert_eq!(
        triggers[0].crumb.as_deref(),
        Some(h.jenkins.crumb().as_str())
    );
    assert_eq!(h.jenkins.build("app", 6).unwrap().params, pairs(&params));

    // The in-flight gauge drops when the executor returns, just after the result is stored.
    let idle = r#"runbooks_runner_actions_in_flight{service="runner"} 0"#;
    testkit::wait_until(
        "the in-flight gauge back at 0",
        Duration::from_secs(5),
        || async { h.runners[0].metrics().await.contains(idle) },
    )
    .await;
    let metrics = h.runners[0].metrics().await;
    for line in [
        r#"runbooks_runner_actions_total{action_type="restart",outcome="completed",service="runner"} 1"#,
        r#"runbooks_runner_jenkins_request_duration_seconds_count{ok="true",operation="trigger",service="runner"} 1"#,
        idle,
    ] {
        assert!(metrics.contains(line), "missing {line} in:\n{metrics}");
    }
    h.stop().await;
}

#[tokio::test]
async fn rollback_triggers_the_rollback_job_towards_the_target() {
    let mut h = Harness::new().await;
    for (n, result) in [(3, "SUCCESS"), (4, "SUCCESS"), (5, "FAILURE")] {
        h.jenkins.add_build("app", n, result, &[]);
    }
    h.jenkins.add_job("app-rollback");
    h.start_runner(|s| {
        s.own
            .jenkins
            .rollback_jobs
            .insert("app".into(), "app-rollback".into());
    })
    .await;

    // An explicit target in params.
    let explicit = h
        .request(NewAction::rollback("app", Some(5)).params(json!({"target_build": 3})))
        .await;
    let done = h.events.expect("action.completed", explicit.id).await;
    assert_eq!(done.envelope.payload["result"]["build_number"], 1);
    h.wait_status(explicit.id, "completed").await;
    let triggers = h.jenkins.triggers();
    assert_eq!(triggers.len(), 1);
    assert_eq!(triggers[0].path, "/job/app-rollback/buildWithParameters");
    assert_eq!(
        triggers[0].form,
        pairs(&[("TARGET_JOB", "app"), ("TARGET_BUILD", "3")])
    );

    // No target: the last success before the failed build, read from Jenkins.
    h.jenkins.clear_calls();
    let default = h.request(NewAction::rollback("app", Some(5))).await;
    h.events.expect("action.completed", default.id).await;
    let calls = h.action_calls();
    assert_eq!(calls[0], "GET /job/app/api/json");
    assert!(
        calls.contains(&"POST /job/app-rollback/buildWithParameters".to_string()),
        "{calls:?}"
    );
    assert_eq!(
        h.jenkins.triggers()[0].form,
        pairs(&[("TARGET_JOB", "app"), ("TARGET_BUILD", "4")])
    );
    h.stop().await;
}

#[tokio::test]
async fn stop_aborts_the_running_build() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 7, None, &[]);
    h.start_runner(|_| {}).await;

    let action = h.request(NewAction::stop("app", 7)).await;

    let done = h.events.expect("action.completed", action.id).await;
    let result = &done.envelope.payload["result"];
    assert_eq!(result["build_number"], 7);
    assert!(result.get("queue_id").is_none(), "{result}");
    h.wait_status(action.id, "completed").await;
    assert_eq!(
        h.action_calls(),
        ["GET /crumbIssuer/api/json", "POST /job/app/7/stop"]
    );
    let build = h.jenkins.build("app", 7).unwrap();
    assert_eq!(build.result.as_deref(), Some("ABORTED"));
    assert!(!build.building);
    h.stop().await;
}

#[tokio::test]
async fn dry_run_calls_nothing_and_completes_marked_dry_run() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.start_runner(|s| s.own.guard.dry_run = true).await;

    let restart = h.request(NewAction::restart("app", 5)).await;
    let stop = h.request(NewAction::stop("app", 5)).await;

    for action in [&restart, &stop] {
        let started = h.events.expect("action.started", action.id).await;
        assert_eq!(started.envelope.payload["dry_run"], true);
        let done = h.events.expect("action.completed", action.id).await;
        assert_eq!(done.envelope.payload["result"]["dry_run"], true);
        let row = h.wait_status(action.id, "completed").await;
        assert_eq!(row.dry_run, Some(true));
        assert_eq!(row.result.unwrap()["dry_run"], true);
    }
    assert!(h.jenkins.calls().is_empty(), "{:?}", h.jenkins.calls());
    let metrics = h.runners[0].metrics().await;
    assert!(
        metrics.contains(
            r#"runbooks_runner_actions_total{action_type="restart",outcome="dry_run",service="runner"} 1"#
        ),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test]
async fn an_action_needing_approval_runs_only_after_action_approved() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.jenkins.add_build("other", 1, "FAILURE", &[]);
    h.start_runner(|_| {}).await;

    let gated = h
        .request(NewAction::restart("app", 5).needing_approval())
        .await;
    // A request published after it: once it is done, the gated one has been seen too.
    let after = h.request(NewAction::restart("other", 1)).await;
    h.events.expect("action.completed", after.id).await;
    let seen = h.events.settle(Duration::from_millis(300), gated.id).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(h.row(gated.id).await.status, "pending_approval");
    assert!(
        action_calls(&h.jenkins)
            .iter()
            .all(|c| c.job.as_deref() != Some("app")),
        "jenkins was called for the gated action"
    );

    h.approve(&gated).await;

    h.events.expect("action.started", gated.id).await;
    h.events.expect("action.completed", gated.id).await;
    h.wait_status(gated.id, "completed").await;
    assert_eq!(h.jenkins.calls_matching("POST", "/job/app/").len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_jenkins_500_fails_the_action_with_the_reason() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.jenkins
        .fail_next_matching("POST", "/job/app/build", 1, 500);
    h.start_runner(|_| {}).await;

    let action = h.request(NewAction::restart("app", 5)).await;

    let failed = h.events.expect("action.failed", action.id).await;
    let p = &failed.envelope.payload;
    assert_eq!(p["error_kind"], "jenkins_5xx");
    let reason = p["reason"].as_str().unwrap();
    assert!(
        reason.contains("jenkins answered 500 during trigger"),
        "{reason}"
    );
    let row = h.wait_status(action.id, "failed").await;
    assert_eq!(row.error.as_deref(), Some(reason));
    assert_eq!(
        h.jenkins.triggers().len(),
        1,
        "a failed trigger is not retried"
    );
    let seen = h.events.settle(Duration::from_millis(200), action.id).await;
    assert_eq!(seen, ["action.started", "action.failed"]);
    h.stop().await;
}

#[tokio::test]
async fn a_jenkins_timeout_fails_the_action_without_a_second_trigger() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.jenkins
        .set_delay(Some("/job/app/build"), Duration::from_secs(2));
    h.start_runner(|s| s.own.jenkins.request_timeout_ms = 300)
        .await;

    let action = h.request(NewAction::restart("app", 5)).await;

    let failed = h.events.expect("action.failed", action.id).await;
    let p = &failed.envelope.payload;
    assert_eq!(p["error_kind"], "timeout");
    assert!(
        p["reason"]
            .as_str()
            .unwrap()
            .contains("timed out during trigger"),
        "{p}"
    );
    h.wait_status(action.id, "failed").await;
    assert_eq!(h.jenkins.triggers().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_build_that_fails_again_fails_the_action() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.jenkins.push_results(&["FAILURE"]);
    h.start_runner(|s| s.own.jenkins.wait_for_result = true)
        .await;

    let action = h.request(NewAction::restart("app", 5)).await;

    let failed = h.events.expect("action.failed", action.id).await;
    assert_eq!(failed.envelope.payload["error_kind"], "build_failed");
    assert_eq!(
        failed.envelope.payload["reason"],
        "build #6 of job 'app' ended FAILURE"
    );
    let row = h.wait_status(action.id, "failed").await;
    let result = row.result.expect("the started build is recorded");
    assert_eq!(result["build_number"], 6);
    assert_eq!(result["build_result"], "FAILURE");
    h.stop().await;
}

#[tokio::test]
async fn job_names_are_validated_and_encoded_never_passed_raw() {
    let mut h = Harness::new().await;
    let odd = "my app=1(x)";
    h.jenkins.add_build(odd, 1, "FAILURE", &[]);
    // Jenkins never allows these characters; the runner used to encode them and call it.
    h.jenkins.add_build("deploy-*", 1, "FAILURE", &[]);
    h.jenkins
        .add_build("my app?x=1#frag;y=%2e", 1, "FAILURE", &[]);
    h.start_runner(|_| {}).await;

    let traversal = h.request(NewAction::restart("../../script", 1)).await;
    let hidden = h.request(NewAction::restart("team/../admin", 1)).await;
    let glob = h.request(NewAction::restart("deploy-*", 1)).await;
    let query = h
        .request(NewAction::restart("my app?x=1#frag;y=%2e", 1))
        .await;
    let spaced = h.request(NewAction::restart(odd, 1)).await;

    for bad in [&traversal, &hidden, &glob, &query] {
        let rejected = h.events.expect("action.rejected", bad.id).await;
        let reason = rejected.envelope.payload["reason"].as_str().unwrap();
        assert!(reason.starts_with("invalid job name"), "{reason}");
        assert_eq!(rejected.envelope.payload["rejected_by"], "guard");
        h.wait_status(bad.id, "rejected").await;
    }
    h.events.expect("action.completed", spaced.id).await;

    let calls = action_calls(&h.jenkins);
    assert!(!calls.is_empty());
    for c in &calls {
        assert!(
            !c.path.contains(".."),
            "raw traversal reached jenkins: {}",
            c.path
        );
        assert!(
            !c.path.contains(' '),
            "raw space reached jenkins: {}",
            c.path
        );
        if c.endpoint != Endpoint::CrumbIssuer && c.endpoint != Endpoint::QueueItem {
            assert_eq!(c.job.as_deref(), Some(odd), "{c:?}");
        }
    }
    assert!(
        calls
            .iter()
            .any(|c| c.path == "/job/my%20app%3D1%28x%29/build"),
        "{:?}",
        h.action_calls()
    );
    h.stop().await;
}

#[tokio::test]
async fn other_events_and_unknown_actions_are_dead_lettered() {
    let mut h = Harness::new().await;
    h.start_runner(|_| {}).await;
    let queue = domain::names::queue::ACTION_REQUESTS;

    // An event the runner does not take, put straight on its queue.
    let stray = domain::Envelope::new(
        "someone",
        domain::Event::ActionRejected(domain::events::ActionRejected {
            action: domain::events::ActionRef {
                action_id: 1,
                action_type: domain::ActionType::Stop,
                target_job: "app".into(),
                target_build: Some(1),
                incident_id: None,
            },
            reason: "x".into(),
            rejected_by: "bob".into(),
            rejected_at: chrono::Utc::now(),
        }),
    );
    let direct = bus::OutgoingMessage::to("", &h.tb.bus.names().queue(queue), &stray);
    h.tb.bus.publish_message(&direct).await.unwrap();
    // A request for a row that does not exist.
    let mut ghost = h.insert(NewAction::stop("app", 1)).await;
    ghost.id += 1_000;
    h.publish(&Harness::requested(&ghost)).await;

    let dlq = format!("{queue}.dlq");
    let mut reasons = Vec::new();
    while reasons.len() < 2 {
        let msg = testkit::wait_for("a dead letter", crate::common::WAIT, || async {
            h.tb.bus.fetch(&dlq).await.unwrap()
        })
        .await;
        reasons.push(msg.headers[bus::header::DEATH_REASON].clone());
    }
    reasons.sort();
    assert!(
        reasons[0].contains(&format!("action {} does not exist", ghost.id)),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("unexpected `action.rejected` event"),
        "{reasons:?}"
    );
    assert!(h.jenkins.triggers().is_empty());
    h.stop().await;
}
