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
