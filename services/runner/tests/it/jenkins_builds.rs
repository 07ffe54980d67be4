//! The Jenkins client against the testkit's fake Jenkins, over real HTTP: following the new
//! build (waiting for its result, concurrent builds) and the latency observer.
//! Every test asserts the outcome and the exact calls Jenkins received.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::jenkins_common::*;
use runner::jenkins::{BuildResult, JenkinsClient, JenkinsError};
use testkit::jenkins::{FakeJenkins, FakeJenkinsConfig};

#[tokio::test]
async fn wait_for_result_includes_the_new_builds_result() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "FAILURE", &[]);
    let mut settings = fast_settings(&fake.url());
    settings.wait_for_result = true;
    let client = JenkinsClient::new(settings).expect("client");

    let outcome = client.restart(&job("app"), 1).await.expect("restart");
    assert_eq!(outcome.result, Some(BuildResult::Success));
    assert!(outcome.wait_error.is_none());

    fake.push_results(&["FAILURE"]);
    let outcome = client.restart(&job("app"), 1).await.expect("restart");
    assert_eq!(outcome.build_number, 3);
    assert_eq!(outcome.result, Some(BuildResult::Failure));
    assert_eq!(
        fake.build("app", 3).expect("build").result.as_deref(),
        Some("FAILURE")
    );
    let polls = fake.calls_matching("GET", "/job/app/3/api/json");
    assert!(!polls.is_empty());
}

#[tokio::test]
async fn a_wait_that_times_out_still_reports_the_new_build() {
    let fake = FakeJenkins::start(FakeJenkinsConfig {
        queue_delay: Duration::from_millis(5),
        build_duration: Duration::from_secs(5),
        ..FakeJenkinsConfig::default()
    })
    .await;
    fake.add_build("app", 1, "FAILURE", &[]);
    let mut settings = fast_settings(&fake.url());
    settings.wait_for_result = true;
    settings.wait_timeout_secs = 1;
    settings.poll_interval_ms = 100;

    let outcome = JenkinsClient::new(settings)
        .expect("client")
        .restart(&job("app"), 1)
        .await
        .expect("restart");

    assert_eq!(outcome.build_number, 2);
    assert_eq!(outcome.result, None);
    let wait_error = outcome.wait_error.expect("wait error");
    assert!(matches!(
        wait_error,
        JenkinsError::Timeout {
            operation: "wait_for_build"
        }
    ));
    assert!(fake.build("app", 2).expect("build").building);
}

#[tokio::test]
async fn concurrent_builds_are_tracked_by_the_fake() {
    let fake = FakeJenkins::start(FakeJenkinsConfig {
        queue_delay: Duration::from_millis(5),
        build_duration: Duration::from_millis(800),
        ..FakeJenkinsConfig::default()
    })
    .await;
    fake.add_build("app", 1, "FAILURE", &[]);
    let client = client(&fake);

    let app = job("app");
    let (a, b, c) = tokio::join!(
        client.restart(&app, 1),
        client.restart(&app, 1),
        client.restart(&app, 1)
    );
    let mut numbers = vec![
        a.unwrap().build_number,
        b.unwrap().build_number,
        c.unwrap().build_number,
    ];
    numbers.sort_unstable();
    assert_eq!(numbers, [2, 3, 4]);
    assert_eq!(fake.running_builds(), 3);
    assert!(fake.wait_until_idle(Duration::from_secs(3)).await);
    assert_eq!(fake.running_builds(), 0);
    assert_eq!(fake.max_concurrent_building(), 3);
}

#[tokio::test]
async fn request_latency_is_reported_to_the_observer() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "FAILURE", &[]);
    let seen: Arc<Mutex<Vec<(&'static str, bool)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let client = JenkinsClient::with_latency_observer(
        fast_settings(&fake.url()),
        Arc::new(move |operation, latency, ok| {
            assert!(latency < Duration::from_secs(5));
            sink.lock().unwrap().push((operation, ok));
        }),
    )
    .expect("client");

    client.restart(&job("app"), 1).await.expect("restart");
    client.restart(&job("nope"), 1).await.expect_err("404");

    let mut seen = seen.lock().unwrap().clone();
    seen.dedup();
    assert_eq!(
        seen,
        [
            ("get_build", true),
            ("crumb", true),
            ("trigger", true),
            ("queue", true),
            ("get_build", false),
        ]
    );
}
