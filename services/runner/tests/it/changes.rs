//! `command.jenkins.changes`: the commits of a build, read through the runner's Jenkins
//! client for whoever trusted asks; never an action, not even in a dry run.

use std::time::Duration;

use domain::commands::{CommandError, ErrorCode, key};
use domain::postmortem::BuildChanges;
use serde_json::{Value, json};
use testkit::jenkins::FakeCommit;

use crate::common::*;

const ASK: Duration = Duration::from_secs(10);

async fn ask(h: &Harness, payload: Value) -> Result<Value, CommandError> {
    h.tb.bus
        .request_with_timeout(key::JENKINS_CHANGES, payload, ASK)
        .await
        .expect("the runner answers")
        .into_result()
}

fn seed(h: &Harness) {
    h.jenkins.add_pipeline_job("team/app");
    h.jenkins.add_build("team/app", 41, "SUCCESS", &[]);
    h.jenkins.add_build("team/app", 42, "FAILURE", &[]);
    h.jenkins.set_commits(
        "team/app",
        42,
        vec![
            FakeCommit::new(
                "a1b2c3d",
                "Ann Lee",
                "Raise the pool size\n\nFor the load test.",
            )
            .paths(&["config/pool.yaml"])
            .at(1_795_946_400_000),
            FakeCommit::new("e4f5a6b", "Bo", "Drop the retry on deploy")
                .paths(&["Jenkinsfile", "deploy/run.sh"])
                .at(1_795_946_460_000),
        ],
    );
}

#[tokio::test]
async fn the_commits_of_a_build_come_back_and_jenkins_is_only_read() {
    let mut h = Harness::new().await;
    seed(&h);
    h.start_runner(|_| {}).await;
    let data = ask(&h, json!({"job_name": "team/app", "build_number": 42}))
        .await
        .unwrap();
    let changes: BuildChanges = serde_json::from_value(data).unwrap();
    assert_eq!(
        (changes.job_name.as_str(), changes.build_number),
        ("team/app", 42)
    );
    assert!(!changes.truncated);
    let ids: Vec<_> = changes.commits.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a1b2c3d", "e4f5a6b"]);
    let first = &changes.commits[0];
    assert_eq!(first.author.as_deref(), Some("Ann Lee"));
    assert_eq!(first.message, "Raise the pool size\n\nFor the load test.");
    assert_eq!(first.paths, ["config/pool.yaml"]);
    assert_eq!(
        first.timestamp.unwrap().to_rfc3339(),
        "2026-11-29T10:00:00+00:00"
    );

    // A build without commits is an empty list, not an error.
    let none = ask(&h, json!({"job_name": "team/app", "build_number": 41}))
        .await
        .unwrap();
    assert_eq!(none["commits"], json!([]));

    let calls = action_calls(&h.jenkins);
    assert!(
        calls.iter().all(|c| c.method == "GET"),
        "read-only: {calls:?}"
    );
    let read = calls
        .iter()
        .find(|c| c.path == "/job/team/job/app/42/api/json")
        .expect("the build was read");
    assert_eq!(
        read.query,
        vec![(
            "tree".to_string(),
            runner::jenkins::CHANGES_TREE.to_string()
        )]
    );
    let metrics = h.runners[0].metrics().await;
    assert!(
        metrics
            .contains(r#"runbooks_runner_changes_requests_total{outcome="ok",service="runner"} 2"#),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test]
async fn unknown_builds_are_not_found_and_bad_requests_name_their_field() {
    let mut h = Harness::new().await;
    seed(&h);
    h.start_runner(|_| {}).await;
    for payload in [
        json!({"job_name": "team/app", "build_number": 99}),
        json!({"job_name": "nope", "build_number": 1}),
    ] {
        let err = ask(&h, payload.clone()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound, "{payload}: {}", err.message);
    }
    for (payload, field) in [
        (
            json!({"job_name": "team/app", "build_number": 42, "url": "http://elsewhere"}),
            "url",
        ),
        (
            json!({"job_name": "team/app", "build_number": 0}),
            "build_number",
        ),
        (
            json!({"job_name": "team/../x", "build_number": 3}),
            "job_name",
        ),
    ] {
        let err = ask(&h, payload.clone()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest, "{payload}");
        assert_eq!(err.details.unwrap()["field"], field, "{payload}");
        assert!(err.message.contains(field), "{}", err.message);
    }
    // Nothing invalid reached Jenkins.
    assert!(
        action_calls(&h.jenkins)
            .iter()
            .all(|c| c.build != Some(0) && !c.path.contains("elsewhere")),
        "{:?}",
        h.jenkins.calls()
    );
    let metrics = h.runners[0].metrics().await;
    for line in [
        r#"runbooks_runner_changes_requests_total{outcome="not_found",service="runner"} 2"#,
        r#"runbooks_runner_changes_requests_total{outcome="bad_request",service="runner"} 3"#,
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }
    h.stop().await;
}

#[tokio::test]
async fn jenkins_down_or_not_configured_is_unavailable() {
    let mut h = Harness::new().await;
    seed(&h);
    h.start_runner(|_| {}).await;
    h.jenkins.set_down(true);
    let err = ask(&h, json!({"job_name": "team/app", "build_number": 42}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable, "{}", err.message);
    assert!(err.message.contains("503"), "{}", err.message);
    h.jenkins.set_down(false);
    h.jenkins.shutdown().await;
    let err = ask(&h, json!({"job_name": "team/app", "build_number": 42}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable, "{}", err.message);
    assert!(err.message.contains("cannot connect"), "{}", err.message);
    h.stop().await;

    // A dry-run runner without a Jenkins URL says so.
    h.start_runner(|s| {
        s.own.jenkins.url = String::new();
        s.own.guard.dry_run = true;
    })
    .await;
    let err = ask(&h, json!({"job_name": "team/app", "build_number": 42}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert!(
        err.message.contains("jenkins is not configured"),
        "{}",
        err.message
    );
    h.stop().await;
}

#[tokio::test]
async fn a_dry_run_runner_reads_changes_but_still_never_builds_or_stops() {
    let mut h = Harness::new().await;
    seed(&h);
    h.start_runner(|s| s.own.guard.dry_run = true).await;
    let restart = h.request(NewAction::restart("team/app", 42)).await;
    let data = ask(&h, json!({"job_name": "team/app", "build_number": 42}))
        .await
        .unwrap();
    assert_eq!(data["commits"].as_array().unwrap().len(), 2);
    let done = h.events.expect("action.completed", restart.id).await;
    assert_eq!(done.envelope.payload["result"]["dry_run"], true);
    let calls = h.jenkins.calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect::<Vec<_>>(),
        ["GET /job/team/job/app/42/api/json"],
        "the one read asked for, no trigger, no health ping"
    );
    h.stop().await;
}

#[tokio::test]
async fn requests_from_an_untrusted_rabbitmq_user_are_refused() {
    let mut h = Harness::new().await;
    seed(&h);
    h.start_runner(|_| {}).await;
    let user = testkit::amqp::TempUser::create("rb-untrusted");
    let cancel = tokio_util::sync::CancellationToken::new();
    let stranger = bus::Bus::connect(
        &bus::BusSettings {
            url: user.url(),
            ..h.tb.settings.clone()
        },
        "stranger",
        &cancel,
    )
    .await
    .unwrap();
    let payload = json!({"job_name": "team/app", "build_number": 42});
    let err = stranger
        .request_with_timeout(key::JENKINS_CHANGES, payload.clone(), ASK)
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(
        err.message
            .contains(&format!("RabbitMQ user `{}` is not trusted", user.name)),
        "{}",
        err.message
    );
    assert!(
        h.jenkins.calls_matching("GET", "/job/").is_empty(),
        "nothing was read for a stranger"
    );
    h.stop().await;

    // Listed as trusted (with the runner's own user), the same sender is answered.
    let me = h.tb.settings.user();
    let name = user.name.clone();
    h.start_runner(move |s| s.own.commands.trusted_users = vec![me, name])
        .await;
    let data = stranger
        .request_with_timeout(key::JENKINS_CHANGES, payload, ASK)
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(data["commits"][1]["id"], "e4f5a6b");
    cancel.cancel();
    h.stop().await;
}
