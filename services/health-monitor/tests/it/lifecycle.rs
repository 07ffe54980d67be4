//! The binary starts, gets ready, beats and stops cleanly on SIGTERM.

#[tokio::test]
async fn binary_starts_beats_and_exits_cleanly_on_sigterm() {
    testkit::process::assert_service_lifecycle(
        env!("CARGO_BIN_EXE_health-monitor"),
        "health-monitor",
    )
    .await;
}
