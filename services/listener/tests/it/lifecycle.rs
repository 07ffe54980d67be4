//! The binary starts, gets ready, beats and stops cleanly on SIGTERM.

use testkit::elasticsearch::{FakeElasticsearch, FakeEsConfig};

#[tokio::test]
async fn binary_starts_beats_and_exits_cleanly_on_sigterm() {
    let es = FakeElasticsearch::start(FakeEsConfig::default()).await;
    testkit::process::assert_service_lifecycle_with(
        env!("CARGO_BIN_EXE_listener"),
        "listener",
        &[("RUNBOOKS__ELASTICSEARCH__URL", &es.url())],
    )
    .await;
}
