//! Several runners at once: at-most-once execution, the concurrency limit across replicas,
//! leases (renewed while running, reaped when their runner died) and draining on shutdown.

use std::time::Duration;

use crate::common::{Harness, NewAction, action_calls};
use testkit::jenkins::FakeJenkinsConfig;

#[tokio::test]
async fn the_same_request_three_times_to_three_runners_runs_once() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    for _ in 0..3 {
        h.start_runner(|_| {}).await;
    }

    let action = h.insert(NewAction::restart("app", 5)).await;
    let env = Harness::requested(&action);
    for _ in 0..3 {
        h.publish(&env).await;
    }

    h.events.expect("action.completed", action.id).await;
    let seen = h.events.settle(Duration::from_millis(500), action.id).await;
    assert_eq!(seen, ["action.started", "action.completed"]);
    h.wait_status(action.id, "completed").await;
    assert_eq!(h.jenkins.triggers().len(), 1, "{:?}", h.action_calls());
    assert_eq!(h.jenkins.builds("app").len(), 2, "one new build");
    h.stop().await;
}

#[tokio::test]
async fn ten_requests_with_a_limit_of_two_across_three_runners() {
    let mut h = Harness::with_jenkins(FakeJenkinsConfig {
        csrf: true,
        queue_delay: Duration::from_millis(10),
        build_duration: Duration::from_millis(250),
        ..FakeJenkinsConfig::default()
    })
    .await;
    let jobs: Vec<String> = (0..10).map(|i| format!("svc-{i}")).collect();
    for job in &jobs {
        h.jenkins.add_build(job, 1, "FAILURE", &[]);
    }
    for _ in 0..3 {
        h.start_runner(|s| {
            s.own.guard.max_concurrent = 2;
            s.own.guard.max_wait_secs = 60;
            s.own.jenkins.wait_for_result = true;
        })
        .await;
    }

    let mut actions = Vec::new();
    for job in &jobs {
        actions.push(h.request(NewAction::restart(job, 1)).await);
    }
    for a in &actions {
        let done = h.events.expect("action.completed", a.id).await;
        assert_eq!(done.envelope.payload["result"]["build_result"], "SUCCESS");
    }

    assert!(
        h.jenkins.max_concurrent_building() <= 2,
        "{} builds ran at once",
        h.jenkins.max_concurrent_building()
    );
    assert_eq!(h.jenkins.triggers().len(), 10);
    for a in &actions {
        h.wait_status(a.id, "completed").await;
    }
    h.stop().await;
}

#[tokio::test]
async fn a_crashed_runners_action_fails_as_runner_lost_and_is_not_run_again() {
    let mut h = Harness::new().await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    // Left `running` by runners that died: one lease already expired, one about to.
    let expired = h.insert(NewAction::restart("app", 5)).await;
    let expiring = h.insert(NewAction::restart("app", 5)).await;
    for (action, lease) in [(&expired, "-1 second"), (&expiring, "3 seconds")] {
        sqlx::query(
            "UPDATE action_executions
             SET status = 'running', claimed_by = 'runner-dead', started_at = now(),
                 lease_expires_at = now() + $2::interval
             WHERE id = $1",
        )
        .bind(action.id)
        .bind(lease)
        .execute(h.db.pool())
        .await
        .unwrap();
    }
    h.start_runner(|_| {}).await;
    // Redelivered requests for both: the rows say they are running, so nothing runs.
    h.publish(&Harness::requested(&expired)).await;
    h.publish(&Harness::requested(&expiring)).await;

    let failed = h.events.expect("action.failed", expired.id).await;
    assert_eq!(failed.envelope.payload["reason"], "runner lost");
    assert_eq!(failed.envelope.payload["error_kind"], "runner_lost");
    assert_eq!(
        h.row(expiring.id).await.status,
        "running",
        "its lease holds"
    );

    let failed = h.events.expect("action.failed", expiring.id).await;
    assert_eq!(failed.envelope.payload["error_kind"], "runner_lost");
    for a in [&expired, &expiring] {
        let row = h.wait_status(a.id, "failed").await;
        assert_eq!(row.error.as_deref(), Some("runner lost"));
        assert_eq!(row.claimed_by.as_deref(), Some("runner-dead"));
        let seen = h.events.settle(Duration::from_millis(100), a.id).await;
        assert_eq!(seen, ["action.failed"], "no second execution");
    }
    assert!(
        action_calls(&h.jenkins).is_empty(),
        "{:?}",
        h.action_calls()
    );
    h.stop().await;
}

#[tokio::test]
async fn a_live_runner_keeps_its_lease_while_jenkins_works() {
    let mut h = Harness::with_jenkins(FakeJenkinsConfig {
        build_duration: Duration::from_millis(2_500),
        ..FakeJenkinsConfig::default()
    })
    .await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.start_runner(|s| {
        s.own.runner.lease_secs = 1;
        s.own.jenkins.wait_for_result = true;
    })
    .await;

    let action = h.request(NewAction::restart("app", 5)).await;
    h.events.expect("action.started", action.id).await;
    let first = h.row(action.id).await.lease_expires_at.unwrap();
    let done = h.events.expect("action.completed", action.id).await;
    assert_eq!(done.envelope.payload["result"]["build_result"], "SUCCESS");
    let row = h.wait_status(action.id, "completed").await;
    assert!(
        row.lease_expires_at.unwrap() > first,
        "the lease was renewed"
    );
    h.stop().await;
}

#[tokio::test]
async fn stopping_lets_the_action_in_hand_finish_and_report() {
    let mut h = Harness::with_jenkins(FakeJenkinsConfig {
        build_duration: Duration::from_millis(800),
        ..FakeJenkinsConfig::default()
    })
    .await;
    h.jenkins.add_build("app", 5, "FAILURE", &[]);
    h.start_runner(|s| s.own.jenkins.wait_for_result = true)
        .await;

    let action = h.request(NewAction::restart("app", 5)).await;
    h.events.expect("action.started", action.id).await;
    h.stop().await;

    let row = h.row(action.id).await;
    assert_eq!(row.status, "completed", "{row:?}");
    // Published on the way out: the outbox relay stops after the consumer has drained.
    let done = h.events.expect("action.completed", action.id).await;
    assert_eq!(done.envelope.payload["result"]["build_result"], "SUCCESS");
}
