//! The Jenkins client against the testkit's fake Jenkins, over real HTTP: Jenkins failures
//! (404s, 5xx, timeouts, cancelled queue items, an unreachable Jenkins) and retries.
//! Every test asserts the outcome and the exact calls Jenkins received.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::jenkins_common::*;
use runner::jenkins::{JenkinsClient, JenkinsError};

#[tokio::test]
async fn unknown_jobs_and_builds_are_not_found() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "SUCCESS", &[]);
    let client = client(&fake);

    let err = client
        .restart(&job("nope"), 1)
        .await
        .expect_err("unknown job");
    assert!(
        matches!(&err, JenkinsError::NotFound { what } if what == "build #1 of job 'nope'"),
        "{err:?}"
    );
    assert_eq!(err.kind(), "not_found");
    let err = client
        .restart(&job("app"), 2)
        .await
        .expect_err("unknown build");
    assert_eq!(err.kind(), "not_found");
    let err = client
        .rollback(&job("nope"), Some(3), None)
        .await
        .expect_err("unknown job");
    assert!(matches!(&err, JenkinsError::NotFound { what } if what == "job 'nope'"));
    let err = client
        .rollback(&job("nope"), None, Some(1))
        .await
        .expect_err("unknown job trigger");
    assert!(matches!(&err, JenkinsError::NotFound { .. }), "{err:?}");
    // 404s are answers, not failures to retry.
    assert_eq!(fake.calls_matching("GET", "/job/nope/1/").len(), 1);
    assert_eq!(fake.triggers().len(), 1);
}

#[tokio::test]
async fn a_500_on_a_trigger_is_a_server_error_and_is_not_retried() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "FAILURE", &[("V", "1")]);
    fake.fail_next(1, 500);

    let err = client(&fake)
        .restart(&job("app"), 1)
        .await
        .expect_err("500");

    assert!(
        matches!(
            err,
            JenkinsError::Server {
                operation: "trigger",
                status: 500
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), "jenkins_5xx");
    assert!(err.outcome_unknown());
    let triggers = fake.triggers();
    assert_eq!(triggers.len(), 1, "a trigger must never be sent twice");
    assert_eq!(triggers[0].status, Some(500));
    assert!(fake.calls_matching("GET", "/queue/").is_empty());
}

#[tokio::test]
async fn a_trigger_slower_than_the_request_timeout_times_out_and_is_not_retried() {
    let fake = fake(false).await;
    fake.add_build("app", 1, "FAILURE", &[]);
    fake.set_delay(Some("/job/app/build"), Duration::from_millis(800));
    let mut settings = fast_settings(&fake.url());
    settings.request_timeout_ms = 150;

    let err = JenkinsClient::new(settings)
        .expect("client")
        .restart(&job("app"), 1)
        .await
        .expect_err("timeout");

    assert!(
        matches!(
            err,
            JenkinsError::Timeout {
                operation: "trigger"
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), "timeout");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.triggers().len(), 1);
    assert!(fake.calls_matching("GET", "/queue/").is_empty());
}

#[tokio::test]
async fn a_500_on_a_read_is_retried() {
    let fake = fake(false).await;
    fake.add_build("app", 3, "FAILURE", &[]);
    fake.fail_next_matching("GET", "/job/app/3/api/json", 2, 500);

    let outcome = client(&fake)
        .restart(&job("app"), 3)
        .await
        .expect("restart");

    assert_eq!(outcome.build_number, 4);
    let reads = fake.calls_matching("GET", "/job/app/3/api/json");
    let statuses: Vec<_> = reads.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(fake.triggers().len(), 1);

    // Three failures in a row exhaust the attempts.
    fake.clear_calls();
    fake.fail_next_matching("GET", "/job/app/3/api/json", 3, 502);
    let err = client(&fake)
        .restart(&job("app"), 3)
        .await
        .expect_err("502");
    assert!(matches!(
        err,
        JenkinsError::Server {
            operation: "get_build",
            status: 502
        }
    ));
    assert_eq!(fake.calls().len(), 3);
}

#[tokio::test]
async fn a_cancelled_queue_item_is_reported() {
    let fake = fake(false).await;
    fake.add_build("app", 1, "FAILURE", &[]);
    fake.cancel_next_queue_items(1);

    let err = client(&fake)
        .restart(&job("app"), 1)
        .await
        .expect_err("cancelled");

    assert!(
        matches!(err, JenkinsError::QueueCancelled { queue_id: 1 }),
        "{err:?}"
    );
    assert_eq!(err.kind(), "queue_cancelled");
    assert_eq!(fake.builds("app").len(), 1);
}

#[tokio::test]
async fn ping_retries_a_jenkins_that_is_down_then_reports_it() {
    let fake = fake(false).await;
    fake.set_down(true);
    let client = client(&fake);

    let err = client.ping().await.expect_err("down");
    assert!(matches!(
        err,
        JenkinsError::Server {
            operation: "ping",
            status: 503
        }
    ));
    assert_eq!(fake.calls().len(), 3);

    fake.set_down(false);
    client.ping().await.expect("up again");
}

#[tokio::test]
async fn an_unreachable_jenkins_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut settings = fast_settings(&format!("http://127.0.0.1:{port}"));
    settings.username = "runbooks".into();
    settings.api_token = TOKEN.into();
    let client = JenkinsClient::new(settings).expect("client");

    let err = client.ping().await.expect_err("refused");
    assert!(
        matches!(
            err,
            JenkinsError::Connect {
                operation: "ping",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), "connect");
    let err = client.stop(&job("app"), 1).await.expect_err("refused");
    assert_eq!(err.kind(), "connect");
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn a_post_is_retried_only_while_jenkins_cannot_be_reached() {
    let mut fake = fake(false).await;
    fake.add_build("app", 1, "FAILURE", &[]);
    let seen: Arc<Mutex<Vec<(&'static str, bool)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let client = JenkinsClient::with_latency_observer(
        fast_settings(&fake.url()),
        Arc::new(move |operation, _, ok| sink.lock().unwrap().push((operation, ok))),
    )
    .expect("client");
    // Learns that CSRF is off, so the next POST needs no read first.
    client.restart(&job("app"), 1).await.expect("restart");
    fake.shutdown().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    seen.lock().unwrap().clear();

    let err = client.stop(&job("app"), 2).await.expect_err("gone");

    assert!(
        matches!(
            err,
            JenkinsError::Connect {
                operation: "stop",
                ..
            }
        ),
        "{err:?}"
    );
    // Three connection attempts, none of which reached Jenkins.
    assert_eq!(*seen.lock().unwrap(), [("stop", false); 3]);
    assert!(fake.calls_matching("POST", "/job/app/2/stop").is_empty());
}
