//! The binary starts, gets ready, beats and stops cleanly on SIGTERM (in dry run, there is no
//! Jenkins here); without Jenkins it refuses to start unless told to dry-run.

const BIN: &str = env!("CARGO_BIN_EXE_runner");

#[tokio::test]
async fn binary_starts_beats_and_exits_cleanly_on_sigterm() {
    testkit::process::assert_service_lifecycle_with(BIN, "runner", &[("DRY_RUN", "true")]).await;
}

#[tokio::test]
async fn without_jenkins_url_the_binary_refuses_to_start() {
    let out = tokio::process::Command::new(BIN)
        .env_remove("JENKINS_URL")
        .env_remove("DRY_RUN")
        .env(
            "RUNBOOKS__DATABASE__URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("jenkins.url"), "{stderr}");
}
