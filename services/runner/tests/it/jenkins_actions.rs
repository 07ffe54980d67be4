//! The Jenkins client against the testkit's fake Jenkins, over real HTTP: restart, rollback and stop,
//! and the job names and build numbers they accept.
//! Every test asserts the outcome and the exact calls Jenkins received.

use std::time::Duration;

use crate::jenkins_common::*;
use runner::jenkins::{
    BuildResult, JenkinsAction, JenkinsClient, JenkinsError, JobName, JobNameError,
};
use testkit::jenkins::Endpoint;

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
    fake.add_build("a=b+c(d)e", 1, "FAILURE", &[]);
    let client = client(&fake);

    let folder = client
        .restart(&job("team/app"), 2)
        .await
        .expect("folder job");
    assert_eq!(folder.build_number, 3);
    let spaced = client.restart(&job("my app"), 1).await.expect("spaces");
    assert_eq!(spaced.build_number, 2);
    let odd = client
        .restart(&job("a=b+c(d)e"), 1)
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
                "GET /job/a%3Db%2Bc%28d%29e/1/api/json".into(),
                some("a=b+c(d)e")
            ),
            (
                "POST /job/a%3Db%2Bc%28d%29e/build".into(),
                some("a=b+c(d)e")
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
        // Globs and characters Jenkins never allows: the same rule as REST and MCP.
        ("deploy-*", JobNameError::Forbidden { character: '*' }),
        ("a?b#c", JobNameError::Forbidden { character: '?' }),
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
