//! The Jenkins client against the testkit's fake Jenkins, over real HTTP: CSRF crumbs,
//! basic auth and keeping the API token secret.
//! Every test asserts the outcome and the exact calls Jenkins received.

use std::time::Duration;

use crate::jenkins_common::*;
use runner::jenkins::{JenkinsClient, JenkinsError};
use testkit::jenkins::{FakeJenkins, FakeJenkinsConfig};

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
