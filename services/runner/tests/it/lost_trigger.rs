//! A runner lost during Jenkins' trigger POST: the trigger is marked as sent before the POST,
//! and the reaper finds out from Jenkins what became of it — followed to its end when found,
//! "nothing ran" when Jenkins shows no trace of it, "unknown — may have run" when it cannot
//! tell — and never sends it again.

use std::time::Duration;

use domain::action::ActionSummary;
use testkit::jenkins::FakeJenkinsConfig;

use crate::common::{Harness, NewAction, WAIT};

/// Leaves `action` as a runner killed during its trigger POST leaves it: running, lease
/// expired, trigger marked as sent towards build `next_build` of `job`, Jenkins' answer
/// never recorded.
async fn lost_during_post(h: &Harness, action: &ActionSummary, job: &str, next_build: i64) {
    sqlx::query(
        "UPDATE action_executions
         SET status = 'running', claimed_by = 'runner-killed', started_at = now(),
             lease_expires_at = now() - interval '1 second',
             trigger_sent_at = now(), jenkins_job = $2, trigger_next_build = $3,
             trigger_params = '[]'::jsonb
         WHERE id = $1",
    )
    .bind(action.id)
    .bind(job)
    .bind(next_build)
    .execute(h.db.pool())
    .await
    .unwrap();
}

/// The POST the killed runner sent, as Jenkins received it.
async fn post_build(h: &Harness, job: &str) {
    let answer = reqwest::Client::new()
        .post(format!("{}/job/{job}/build", h.jenkins.url()))
        .header("Jenkins-Crumb", h.jenkins.crumb())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
}

#[tokio::test]
async fn the_trigger_is_marked_as_sent_before_its_post() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.jenkins
        .set_delay(Some("/job/app/build"), Duration::from_millis(1500));
    h.start_runner(|_| {}).await;
    let action = h.request(NewAction::restart("app", 5)).await;

    testkit::wait_for("the trigger POST to reach jenkins", WAIT, || async {
        (!h.jenkins
            .calls_matching("POST", "/job/app/build")
            .is_empty())
        .then_some(())
    })
    .await;
    let (sent, triggered, next): (bool, bool, Option<i64>) = sqlx::query_as(
        "SELECT trigger_sent_at IS NOT NULL, triggered_at IS NOT NULL, trigger_next_build
         FROM action_executions WHERE id = $1",
    )
    .bind(action.id)
    .fetch_one(h.db.pool())
    .await
    .unwrap();
    assert!(sent, "marked as sent while the POST is in flight");
    assert!(!triggered, "jenkins has not answered yet");
    assert_eq!(
        next,
        Some(6),
        "the job's next build number, read before the POST"
    );
    h.events.expect("action.completed", action.id).await;
    h.stop().await;
}

#[tokio::test]
async fn a_build_jenkins_started_for_a_lost_trigger_completes_the_action() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    let action = h.insert(NewAction::restart("app", 5)).await;
    lost_during_post(&h, &action, "app", 6).await;
    post_build(&h, "app").await;

    h.start_runner(|s| s.own.jenkins.wait_for_result = true)
        .await;
    let done = h.events.expect("action.completed", action.id).await;
    assert_eq!(done.envelope.payload["result"]["build_number"], 6);
    assert_eq!(done.envelope.payload["result"]["build_result"], "SUCCESS");
    let row = h.wait_status(action.id, "completed").await;
    assert_eq!(
        row.jenkins_queue_id,
        Some(1),
        "recorded from the build's queueId"
    );
    assert_eq!(h.jenkins.triggers().len(), 1, "never sent again");
    h.stop().await;
}

#[tokio::test]
async fn a_failed_build_for_a_lost_trigger_fails_the_action_as_built() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.jenkins.push_results(&["FAILURE"]);
    let action = h.insert(NewAction::restart("app", 5)).await;
    lost_during_post(&h, &action, "app", 6).await;
    post_build(&h, "app").await;

    h.start_runner(|s| s.own.jenkins.wait_for_result = true)
        .await;
    let failed = h.events.expect("action.failed", action.id).await;
    assert_eq!(failed.envelope.payload["error_kind"], "build_failed");
    assert_eq!(
        failed.envelope.payload["reason"],
        "build #6 of job 'app' ended FAILURE"
    );
    assert_eq!(h.jenkins.triggers().len(), 1, "never sent again");
    h.stop().await;
}

#[tokio::test]
async fn a_lost_trigger_still_queued_in_jenkins_is_followed() {
    let mut h = Harness::with_jenkins(FakeJenkinsConfig {
        csrf: true,
        queue_delay: Duration::from_millis(2500),
        ..FakeJenkinsConfig::default()
    })
    .await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    let action = h.insert(NewAction::restart("app", 5)).await;
    lost_during_post(&h, &action, "app", 6).await;
    post_build(&h, "app").await;

    h.start_runner(|_| {}).await;
    let done = h.events.expect("action.completed", action.id).await;
    assert_eq!(done.envelope.payload["result"]["build_number"], 6);
    assert_eq!(done.envelope.payload["result"]["queue_id"], 1);
    assert!(
        !h.jenkins
            .calls_matching("GET", "/queue/api/json")
            .is_empty(),
        "the queue was asked"
    );
    assert_eq!(h.jenkins.triggers().len(), 1, "never sent again");
    h.stop().await;
}

#[tokio::test]
async fn a_lost_trigger_jenkins_never_received_fails_as_not_run() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    let action = h.insert(NewAction::restart("app", 5)).await;
    lost_during_post(&h, &action, "app", 6).await;

    h.start_runner(|_| {}).await;
    let failed = h.events.expect("action.failed", action.id).await;
    assert_eq!(failed.envelope.payload["error_kind"], "not_triggered");
    let reason = failed.envelope.payload["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("nothing ran"), "{reason}");
    assert!(h.jenkins.triggers().is_empty(), "not sent by the reaper");
    h.stop().await;
}

#[tokio::test]
async fn two_builds_that_could_be_a_lost_trigger_leave_it_unknown() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    let action = h.insert(NewAction::restart("app", 5)).await;
    lost_during_post(&h, &action, "app", 6).await;
    // Someone else built the job with the same parameters in the same window.
    post_build(&h, "app").await;
    post_build(&h, "app").await;
    testkit::wait_for("both builds", WAIT, || async {
        (h.jenkins.builds("app").len() == 3).then_some(())
    })
    .await;

    h.start_runner(|_| {}).await;
    let failed = h.events.expect("action.failed", action.id).await;
    assert_eq!(failed.envelope.payload["error_kind"], "outcome_unknown");
    let reason = failed.envelope.payload["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.starts_with("unknown — may have run"), "{reason}");
    assert!(reason.contains("[6, 7]"), "{reason}");
    assert_eq!(h.jenkins.triggers().len(), 2, "never sent again");
    let row = h.wait_status(action.id, "failed").await;
    assert_eq!(row.error_kind.as_deref(), Some("outcome_unknown"));
    h.stop().await;
}
