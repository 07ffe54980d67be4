//! The Jenkins client against the testkit's fake Jenkins, over real HTTP.
//! Every test asserts the outcome and the exact calls Jenkins received.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner::jenkins::{
    BuildResult, JenkinsAction, JenkinsClient, JenkinsError, JenkinsSettings, JobName, JobNameError,
};
use testkit::jenkins::{Endpoint, FakeJenkins, FakeJenkinsConfig, RecordedCall};

const TOKEN: &str = "tok-7f3a-SECRET-9b2c";

fn fast_settings(url: &str) -> JenkinsSettings {
    let mut s = JenkinsSettings::new(url);
    s.request_timeout_ms = 2_000;
    s.poll_interval_ms = 5;
    s.queue_timeout_secs = 5;
    s.wait_timeout_secs = 5;
    s
}

fn client(fake: &FakeJenkins) -> JenkinsClient {
    JenkinsClient::new(fast_settings(&fake.url())).expect("client")
}

async fn fake(csrf: bool) -> FakeJenkins {
    FakeJenkins::start(FakeJenkinsConfig {
        csrf,
        queue_delay: Duration::from_millis(15),
        build_duration: Duration::from_millis(30),
        ..FakeJenkinsConfig::default()
    })
    .await
}

fn job(name: &str) -> JobName {
    JobName::parse(name).expect("valid job name")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `METHOD path` of every call, with consecutive repeats (queue polls) collapsed.
fn trace(calls: &[RecordedCall]) -> Vec<String> {
    let mut out: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    out.dedup();
    out
}

#[tokio::test]
async fn restart_rebuilds_with_the_original_parameters_and_follows_the_queue() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "SUCCESS", &[]);
    let params = [
        ("VERSION", "1.4.2"),
        ("ENVIRONMENT", "prod & eu"),
        ("DRY", "false"),
    ];
    fake.add_build("app", 2, "FAILURE", &params);

    let outcome = client(&fake)
        .restart(&job("app"), 2)
        .await
        .expect("restart");

    assert_eq!(outcome.action, JenkinsAction::Restart);
    assert_eq!(outcome.job, "app");
    assert_eq!(outcome.triggered_job, "app");
    assert_eq!(outcome.queue_id, Some(1));
    assert_eq!(outcome.build_number, 3);
    assert_eq!(
        outcome.build_url.as_deref(),
        Some(format!("{}/job/app/3/", fake.url()).as_str())
    );
    assert_eq!(outcome.parameters, pairs(&params));
    assert_eq!(outcome.result, None);
    assert!(outcome.duration > Duration::ZERO);

    let calls = fake.calls();
    assert_eq!(
        trace(&calls),
        [
            "GET /job/app/2/api/json",
            "GET /crumbIssuer/api/json",
            "POST /job/app/buildWithParameters",
            "GET /queue/item/1/api/json",
        ]
    );
    let triggers = fake.triggers();
    assert_eq!(triggers.len(), 1);
    assert_eq!(triggers[0].endpoint, Endpoint::BuildWithParameters);
    assert_eq!(triggers[0].form, pairs(&params));
    assert_eq!(triggers[0].crumb.as_deref(), Some(fake.crumb().as_str()));
    assert_eq!(triggers[0].status, Some(201));
    assert_eq!(triggers[0].started_build, Some(3));
    let new_build = fake.build("app", 3).expect("new build");
    assert_eq!(new_build.params, pairs(&params));
    assert_eq!(new_build.queue_id, Some(1));
}

#[tokio::test]
async fn restart_without_parameters_posts_build() {
    let fake = fake(true).await;
    fake.add_build("api-gateway", 7, "FAILURE", &[]);

    let outcome = client(&fake)
        .restart(&job("api-gateway"), 7)
        .await
        .expect("restart");

    assert_eq!(outcome.build_number, 8);
    assert!(outcome.parameters.is_empty());
    assert_eq!(
        trace(&fake.calls()),
        [
            "GET /job/api-gateway/7/api/json",
            "GET /crumbIssuer/api/json",
            "POST /job/api-gateway/build",
            "GET /queue/item/1/api/json",
        ]
    );
    let trigger = &fake.triggers()[0];
    assert_eq!(trigger.endpoint, Endpoint::Build);
    assert!(trigger.form.is_empty());
    assert!(trigger.has_crumb());
}

#[tokio::test]
async fn folder_jobs_and_names_with_metacharacters_are_encoded() {
    let fake = fake(false).await;
    fake.add_build("team/app", 2, "FAILURE", &[("A", "b c")]);
    fake.add_build("my app", 1, "FAILURE", &[]);
    fake.add_build("a?b#c;d%e", 1, "FAILURE", &[]);
    let client = client(&fake);

    let folder = client
        .restart(&job("team/app"), 2)
        .await
        .expect("folder job");
    assert_eq!(folder.build_number, 3);
    let spaced = client.restart(&job("my app"), 1).await.expect("spaces");
    assert_eq!(spaced.build_number, 2);
    let odd = client
        .restart(&job("a?b#c;d%e"), 1)
        .await
        .expect("metachars");
    assert_eq!(odd.build_number, 2);

    let paths: Vec<(String, Option<String>)> = fake
        .calls()
        .into_iter()
        .filter(|c| c.endpoint != Endpoint::QueueItem && c.endpoint != Endpoint::CrumbIssuer)
        .map(|c| (format!("{} {}", c.method, c.path), c.job))
        .collect();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        paths,
        [
            ("GET /job/team/job/app/2/api/json".into(), some("team/app")),
            (
                "POST /job/team/job/app/buildWithParameters".into(),
                some("team/app")
            ),
            ("GET /job/my%20app/1/api/json".into(), some("my app")),
            ("POST /job/my%20app/build".into(), some("my app")),
            (
                "GET /job/a%3Fb%23c%3Bd%25e/1/api/json".into(),
                some("a?b#c;d%e")
            ),
            (
                "POST /job/a%3Fb%23c%3Bd%25e/build".into(),
                some("a?b#c;d%e")
            ),
        ]
    );
    assert!(fake.build("team/app", 3).is_some());
    assert!(fake.build("my app", 2).is_some());
}

#[tokio::test]
async fn invalid_job_names_and_build_numbers_are_rejected_before_any_call() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "SUCCESS", &[]);
    let client = client(&fake);

    let cases = [
        (
            "../etc",
            JobNameError::DotSegment {
                segment: "..",
                position: 0,
            },
        ),
        (
            "team/../../etc",
            JobNameError::DotSegment {
                segment: "..",
                position: 1,
            },
        ),
        (
            "team/./app",
            JobNameError::DotSegment {
                segment: ".",
                position: 1,
            },
        ),
        ("team//app", JobNameError::EmptySegment { position: 1 }),
        ("/app", JobNameError::EmptySegment { position: 0 }),
        ("", JobNameError::Empty),
        (
            "app\r\nX-Injected: 1",
            JobNameError::ControlCharacter { index: 3 },
        ),
        ("app\u{0}", JobNameError::ControlCharacter { index: 3 }),
    ];
    for (name, expected) in cases {
        let err = JobName::parse(name).expect_err(name);
        assert_eq!(err, expected, "{name:?}");
        let err = JenkinsError::from(err);
        assert_eq!(err.kind(), "invalid_job");
    }
    let long = "x".repeat(513);
    assert_eq!(
        JobName::parse(&long),
        Err(JobNameError::TooLong { len: 513, max: 512 })
    );

    let app = job("app");
    for result in [
        client.restart(&app, 0).await,
        client.restart(&app, -4).await,
        client.stop(&app, 0).await,
        client.rollback(&app, Some(0), None).await,
        client.rollback(&app, None, Some(-1)).await,
    ] {
        let err = result.expect_err("invalid build");
        assert!(
            matches!(err, JenkinsError::InvalidBuild(n) if n <= 0),
            "{err:?}"
        );
        assert_eq!(err.kind(), "invalid_build");
    }
    assert!(client.wait_for_build(&app, 0).await.is_err());

    assert!(fake.calls().is_empty(), "calls: {:?}", trace(&fake.calls()));
}

#[tokio::test]
async fn rollback_triggers_the_configured_job_with_the_last_success_before_the_failure() {
    let fake = fake(true).await;
    for (n, result) in [
        (1, "SUCCESS"),
        (2, "SUCCESS"),
        (3, "FAILURE"),
        (4, "UNSTABLE"),
        (5, "FAILURE"),
        (6, "SUCCESS"),
    ] {
        fake.add_build("app", n, result, &[]);
    }
    fake.add_job("ops/rollback-app");
    let mut settings = fast_settings(&fake.url());
    settings
        .rollback_jobs
        .insert("app".into(), "ops/rollback-app".into());
    let client = JenkinsClient::new(settings).expect("client");

    let outcome = client
        .rollback(&job("app"), Some(5), None)
        .await
        .expect("rollback");

    assert_eq!(outcome.action, JenkinsAction::Rollback);
    assert_eq!(outcome.job, "app");
    assert_eq!(outcome.triggered_job, "ops/rollback-app");
    assert_eq!(outcome.rollback_target, Some(2));
    assert_eq!(outcome.build_number, 1);
    let expected = pairs(&[("TARGET_JOB", "app"), ("TARGET_BUILD", "2")]);
    assert_eq!(outcome.parameters, expected);

    let calls = fake.calls();
    assert_eq!(
        trace(&calls),
        [
            "GET /job/app/api/json",
            "GET /crumbIssuer/api/json",
            "POST /job/ops/job/rollback-app/buildWithParameters",
            "GET /queue/item/1/api/json",
        ]
    );
    assert_eq!(calls[0].query, pairs(&[("tree", "builds[number,result]")]));
    let trigger = &fake.triggers()[0];
    assert_eq!(trigger.job.as_deref(), Some("ops/rollback-app"));
    assert_eq!(trigger.form, expected);
    assert!(trigger.has_crumb());
    assert_eq!(
        fake.build("ops/rollback-app", 1).expect("build").params,
        expected
    );
    // The failed job itself was not rebuilt.
    assert_eq!(fake.builds("app").len(), 6);
}

#[tokio::test]
async fn rollback_without_a_configured_job_triggers_the_job_itself() {
    let fake = fake(false).await;
    fake.add_build("app", 1, "SUCCESS", &[]);
    fake.add_build("app", 2, "SUCCESS", &[]);
    fake.add_build("app", 3, "FAILURE", &[]);
    let client = client(&fake);

    // No failed build given: the last successful build overall.
    let outcome = client
        .rollback(&job("app"), None, None)
        .await
        .expect("rollback");
    assert_eq!(outcome.rollback_target, Some(2));
    assert_eq!(outcome.triggered_job, "app");
    assert_eq!(outcome.build_number, 4);

    // An explicit target skips the lookup.
    fake.clear_calls();
    let outcome = client
        .rollback(&job("app"), Some(3), Some(1))
        .await
        .expect("rollback to 1");
    assert_eq!(outcome.rollback_target, Some(1));
    assert_eq!(
        trace(&fake.calls()),
        [
            "POST /job/app/buildWithParameters",
            "GET /queue/item/2/api/json"
        ]
    );
    assert_eq!(
        fake.triggers()[0].form,
        pairs(&[("TARGET_JOB", "app"), ("TARGET_BUILD", "1")])
    );
}

#[tokio::test]
async fn rollback_without_a_successful_build_is_refused() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "FAILURE", &[]);
    fake.add_build("app", 2, "SUCCESS", &[]);
    fake.add_build("app", 3, "FAILURE", &[]);

    let err = client(&fake)
        .rollback(&job("app"), Some(2), None)
        .await
        .expect_err("no target");

    assert!(
        matches!(&err, JenkinsError::NoRollbackTarget { job, before: Some(2) } if job == "app"),
        "{err:?}"
    );
    assert_eq!(err.kind(), "no_rollback_target");
    assert!(fake.triggers().is_empty());
    assert_eq!(trace(&fake.calls()), ["GET /job/app/api/json"]);
}

#[tokio::test]
async fn stop_posts_stop_and_the_build_ends_aborted() {
    let fake = fake(true).await;
    fake.add_build("team/app", 9, None, &[]);
    assert_eq!(fake.running_builds(), 1);
    let client = client(&fake);

    let outcome = client.stop(&job("team/app"), 9).await.expect("stop");

    assert_eq!(outcome.action, JenkinsAction::Stop);
    assert_eq!(outcome.build_number, 9);
    assert_eq!(outcome.queue_id, None);
    assert_eq!(
        outcome.build_url.as_deref(),
        Some(format!("{}/job/team/job/app/9/", fake.url()).as_str())
    );
    let calls = fake.calls();
    assert_eq!(
        trace(&calls),
        ["GET /crumbIssuer/api/json", "POST /job/team/job/app/9/stop"]
    );
    // The 302 to the build page was not followed.
    assert_eq!(calls[1].status, Some(302));
    assert!(calls[1].has_crumb());
    let build = fake.build("team/app", 9).expect("build");
    assert!(!build.building);
    assert_eq!(build.result.as_deref(), Some("ABORTED"));
    assert_eq!(fake.running_builds(), 0);
    let result = client
        .wait_for_build(&job("team/app"), 9)
        .await
        .expect("wait");
    assert_eq!(result, BuildResult::Aborted);

    let err = client
        .stop(&job("team/app"), 10)
        .await
        .expect_err("unknown build");
    assert!(
        matches!(&err, JenkinsError::NotFound { what } if what.contains("#10")),
        "{err}"
    );
}

#[tokio::test]
async fn the_crumb_is_fetched_once_and_reused() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "FAILURE", &[("V", "1")]);
    fake.add_build("app", 50, None, &[]);
    let client = client(&fake);

    client.restart(&job("app"), 1).await.expect("restart 1");
    client.restart(&job("app"), 1).await.expect("restart 2");
    client.stop(&job("app"), 50).await.expect("stop");

    assert_eq!(fake.calls_matching("GET", "/crumbIssuer/").len(), 1);
    let posts = fake.calls_matching("POST", "/");
    assert_eq!(posts.len(), 3);
    let crumb = fake.crumb();
    for post in posts {
        assert_eq!(post.crumb.as_deref(), Some(crumb.as_str()));
        assert!(matches!(post.status, Some(201 | 302)));
    }
}

#[tokio::test]
async fn an_expired_crumb_is_refreshed_and_the_post_retried_once() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "FAILURE", &[]);
    let client = client(&fake);
    client.restart(&job("app"), 1).await.expect("first restart");
    let old = fake.crumb();
    let new = fake.rotate_crumb();
    assert_ne!(old, new);
    fake.clear_calls();

    let outcome = client
        .restart(&job("app"), 1)
        .await
        .expect("second restart");

    assert_eq!(outcome.build_number, 3);
    assert_eq!(
        trace(&fake.calls()),
        [
            "GET /job/app/1/api/json",
            "POST /job/app/build",
            "GET /crumbIssuer/api/json",
            "POST /job/app/build",
            "GET /queue/item/2/api/json",
        ]
    );
    let triggers = fake.triggers();
    assert_eq!(triggers.len(), 2);
    assert_eq!(triggers[0].crumb.as_deref(), Some(old.as_str()));
    assert_eq!(triggers[0].status, Some(403));
    assert_eq!(triggers[1].crumb.as_deref(), Some(new.as_str()));
    assert_eq!(triggers[1].status, Some(201));
    // Only the accepted POST started a build.
    assert_eq!(fake.builds("app").len(), 3);
}

#[tokio::test]
async fn a_post_still_forbidden_after_a_fresh_crumb_fails_without_more_retries() {
    let fake = fake(true).await;
    fake.add_build("app", 1, "FAILURE", &[]);
    fake.fail_next(5, 403);

    let err = client(&fake)
        .restart(&job("app"), 1)
        .await
        .expect_err("forbidden");

    assert!(
        matches!(
            err,
            JenkinsError::Forbidden {
                operation: "trigger"
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), "forbidden");
    assert_eq!(fake.triggers().len(), 2);
    assert_eq!(fake.calls_matching("GET", "/crumbIssuer/").len(), 2);
}

#[tokio::test]
async fn without_a_crumb_issuer_posts_go_without_a_crumb() {
    let fake = fake(false).await;
    fake.add_build("app", 1, "FAILURE", &[]);
    fake.add_build("app", 2, None, &[]);
    let client = client(&fake);

    client.restart(&job("app"), 1).await.expect("restart");
    client.stop(&job("app"), 2).await.expect("stop");

    let crumb_calls = fake.calls_matching("GET", "/crumbIssuer/");
    assert_eq!(crumb_calls.len(), 1, "a 404 from the issuer is remembered");
    assert_eq!(crumb_calls[0].status, Some(404));
    let posts = fake.calls_matching("POST", "/");
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|p| !p.has_crumb()));
}

#[tokio::test]
async fn basic_auth_is_sent_and_a_wrong_token_is_unauthorized() {
    let fake = FakeJenkins::start(FakeJenkinsConfig {
        username: Some("runbooks".into()),
        token: Some(TOKEN.into()),
        ..FakeJenkinsConfig::default()
    })
    .await;

    let mut good = fast_settings(&fake.url());
    good.username = "runbooks".into();
    good.api_token = TOKEN.into();
    JenkinsClient::new(good)
        .expect("client")
        .ping()
        .await
        .expect("ping");
    assert!(fake.calls()[0].auth_present);
    assert_eq!(fake.calls()[0].status, Some(200));

    let mut bad = fast_settings(&fake.url());
    bad.username = "runbooks".into();
    bad.api_token = "not-the-token".into();
    let err = JenkinsClient::new(bad)
        .expect("client")
        .ping()
        .await
        .expect_err("401");
    assert!(
        matches!(err, JenkinsError::Unauthorized { operation: "ping" }),
        "{err:?}"
    );
    assert_eq!(err.kind(), "unauthorized");
    assert_eq!(err.status(), Some(401));
    // A 401 is not retried.
    assert_eq!(fake.calls().len(), 2);
}

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
async fn the_token_never_shows_in_debug_output_or_errors() {
    let fake = FakeJenkins::start(FakeJenkinsConfig {
        csrf: true,
        username: Some("runbooks".into()),
        token: Some("the-real-token".into()),
        ..FakeJenkinsConfig::default()
    })
    .await;
    let mut settings = fast_settings(&fake.url());
    settings.username = "runbooks".into();
    settings.api_token = TOKEN.into();
    assert!(!format!("{settings:?}").contains(TOKEN));
    assert!(!format!("{settings:#?}").contains(TOKEN));
    let client = JenkinsClient::new(settings.clone()).expect("client");
    assert!(!format!("{client:?}").contains(TOKEN));

    let mut errors = vec![
        client.ping().await.expect_err("401"),
        client.restart(&job("app"), 1).await.expect_err("401"),
        client.stop(&job("app"), 1).await.expect_err("401"),
    ];
    let mut closed = settings.clone();
    closed.url = "http://127.0.0.1:9".into();
    errors.push(
        JenkinsClient::new(closed)
            .expect("client")
            .ping()
            .await
            .expect_err("refused"),
    );
    let mut embedded = settings.clone();
    embedded.url = format!("http://runbooks:{TOKEN}@127.0.0.1:9/");
    errors.push(JenkinsClient::new(embedded).expect_err("credentials in url"));
    fake.set_delay(None, Duration::from_millis(500));
    let mut slow = settings;
    slow.request_timeout_ms = 50;
    errors.push(
        JenkinsClient::new(slow)
            .expect("client")
            .ping()
            .await
            .expect_err("timeout"),
    );

    let kinds: Vec<_> = errors.iter().map(JenkinsError::kind).collect();
    assert_eq!(
        kinds,
        [
            "unauthorized",
            "unauthorized",
            "unauthorized",
            "connect",
            "config",
            "timeout"
        ]
    );
    for err in &errors {
        assert!(!err.to_string().contains(TOKEN), "{err}");
        assert!(!format!("{err:?}").contains(TOKEN), "{err:?}");
    }
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
