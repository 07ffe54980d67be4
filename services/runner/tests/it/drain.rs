//! SIGTERM drains: nothing new is claimed, a trigger in flight finishes and is recorded at
//! once, and an action still followed at the drain deadline is handed over and resumed by
//! the next runner instead of being declared lost. A runner whose lease is gone never
//! calls Jenkins.

use std::time::Duration;

use crate::common::{Harness, NewAction, WAIT};
use testkit::jenkins::FakeJenkinsConfig;

/// Waits until Jenkins has received `n` trigger POSTs (answered or not).
async fn triggers_received(h: &Harness, n: usize) {
    testkit::wait_until("the trigger reaches jenkins", WAIT, || async {
        h.jenkins.triggers().len() >= n
    })
    .await;
}

#[tokio::test]
async fn sigterm_during_a_slow_trigger_hands_the_action_over_and_it_completes() {
    let mut h = Harness::with_jenkins(FakeJenkinsConfig {
        csrf: true,
        build_duration: Duration::from_secs(4),
        ..FakeJenkinsConfig::default()
    })
    .await;
    h.jenkins.add_build("app", 5, "FAILURE", &[("ENV", "prod")]);
    // Jenkins takes its time to answer the trigger; the build itself outlasts the grace.
    h.jenkins
        .set_delay(Some("/job/app/buildWithParameters"), Duration::from_secs(1));
    let short_grace = |s: &mut runner::Settings| {
        // The drain deadline fires 0.75 s before the end of the grace.
        s.common.shutdown.grace_secs = 3;
        s.own.jenkins.wait_for_result = true;
    };
    h.start_runner(short_grace).await;
    let action = h.request(NewAction::restart("app", 5)).await;
    h.events.expect("action.started", action.id).await;
    triggers_received(&h, 1).await;

    // SIGTERM while Jenkins has not answered yet.
    h.stop_runner(0).await;
    let row = h.row(action.id).await;
    assert_eq!(row.status, "running", "handed over, not failed: {row:?}");
    assert!(
        row.jenkins_queue_id.is_some(),
        "the queue item was recorded as soon as jenkins answered: {row:?}"
    );
    assert!(
        row.lease_expires_at.unwrap() <= chrono::Utc::now(),
        "the lease was released for the next runner"
    );

    // The runner comes back (or another replica takes over): it follows the build.
    h.start_runner(short_grace).await;
    let done = h.events.expect("action.completed", action.id).await;
    assert_eq!(done.envelope.payload["result"]["build_result"], "SUCCESS");
    let row = h.wait_status(action.id, "completed").await;
    assert_eq!(row.error, None);
    assert_eq!(
        row.result.as_ref().unwrap()["queue_id"],
        row.jenkins_queue_id.unwrap()
    );
    assert_eq!(h.jenkins.triggers().len(), 1, "{:?}", h.action_calls());
    assert!(
        h.events.all("action.failed").is_empty(),
        "never declared lost"
    );
    let metrics = h.runners[0].metrics().await;
    assert!(
        metrics.contains("runbooks_runner_actions_resumed_total{service=\"runner\"} 1"),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test]
async fn sigterm_during_a_slow_trigger_within_the_grace_finishes_the_action() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.jenkins
        .set_delay(Some("/job/app/build"), Duration::from_millis(1500));
    h.start_runner(|s| {
        s.own.jenkins.wait_for_result = true;
        s.own.guard.max_concurrent = 1;
    })
    .await;
    let action = h.request(NewAction::restart("app", 5)).await;
    triggers_received(&h, 1).await;
    // This one waits for the only slot; at SIGTERM it is not claimed but given back.
    let late = h.request(NewAction::restart("app", 5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    h.stop_runner(0).await;

    let row = h.row(action.id).await;
    assert_eq!(row.status, "completed", "{row:?}");
    h.events.expect("action.completed", action.id).await;
    assert_eq!(h.jenkins.triggers().len(), 1);
    assert_eq!(
        h.row(late.id).await.status,
        "requested",
        "left for another runner"
    );
    let back =
        h.tb.bus
            .fetch(domain::names::queue::ACTION_REQUESTS)
            .await
            .unwrap()
            .expect("its request is back in the queue");
    assert!(
        !back.headers.contains_key(bus::header::ATTEMPTS),
        "without an attempt counted: {:?}",
        back.headers
    );
}

#[tokio::test]
async fn a_runner_whose_lease_was_taken_never_calls_jenkins() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    // Reading the build to restart is slow: the claim changes hands meanwhile.
    h.jenkins
        .set_delay(Some("/job/app/5/api/json"), Duration::from_millis(1500));
    h.start_runner(|_| {}).await;
    let action = h.request(NewAction::restart("app", 5)).await;
    h.events.expect("action.started", action.id).await;
    testkit::wait_until("the build is being read", WAIT, || async {
        !h.jenkins
            .calls_matching("GET", "/job/app/5/api/json")
            .is_empty()
    })
    .await;
    sqlx::query("UPDATE action_executions SET claimed_by = 'another-runner' WHERE id = $1")
        .bind(action.id)
        .execute(h.db.pool())
        .await
        .unwrap();

    testkit::wait_until("the read answered", WAIT, || async {
        h.jenkins
            .calls_matching("GET", "/job/app/5/api/json")
            .iter()
            .any(|c| c.status.is_some())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        h.jenkins.triggers().is_empty(),
        "no trigger from a runner without its lease: {:?}",
        h.action_calls()
    );
    let row = h.row(action.id).await;
    assert_eq!(row.claimed_by.as_deref(), Some("another-runner"));
    assert_eq!(row.status, "running", "left to its new holder");
    h.stop().await;
}
