//! The binary starts, gets ready, beats and stops cleanly on SIGTERM.

#[tokio::test]
async fn binary_starts_beats_and_exits_cleanly_on_sigterm() {
    // No Slack token (console sink) and no Ollama: nothing external to be degraded by.
    testkit::process::assert_service_lifecycle_with(
        env!("CARGO_BIN_EXE_chatops"),
        "chatops",
        &[("RUNBOOKS__OLLAMA__ENABLED", "false")],
    )
    .await;
}

/// Two replicas polled every 0.5 s made 837 `auth.test` calls in 221 s: the answer is reused
/// for `slack.check_cache_secs`.
#[tokio::test]
async fn ready_probes_do_not_call_slack_each_time() {
    let h = crate::common::Harness::start(&[]).await;
    for _ in 0..20 {
        let resp = h.http.get(h.url("/ready")).send().await.unwrap();
        assert!(resp.status().is_success() || resp.status() == 503);
    }
    let calls = h
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "auth.test")
        .count();
    assert_eq!(
        calls, 1,
        "one auth.test for 20 probes within the cache interval"
    );
}
