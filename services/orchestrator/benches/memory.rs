//! `make bench`: the similar-incident memory scored on the labelled set of
//! `tests/it/memory_set.rs` (36 Jenkins failures, which earlier ones are the same failure),
//! played through the real orchestrator. Prints precision and recall at the configured
//! threshold and around it; asserts nothing.

use std::collections::HashMap;

use orchestrator::Application;
use testkit::{TestBus, TestDb};
use tokio_util::sync::CancellationToken;

#[path = "../tests/it/memory_set.rs"]
mod memory_set;

#[tokio::main]
async fn main() {
    let db = TestDb::new().await;
    let tb = TestBus::new().await;
    let (mut common, own): (
        runtime::CommonSettings,
        orchestrator::settings::OrchestratorSections,
    ) = runtime::load_with_env("", None, Some(HashMap::new())).unwrap();
    common.database = db.settings.clone();
    common.bus = tb.settings.clone();
    common.http.host = "127.0.0.1".into();
    common.http.port = 0;
    common.telemetry.log_level = "warn".into();
    let configured = own.incidents.similarity_threshold;
    let app = Application::build(orchestrator::Settings { common, own })
        .await
        .unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    let first = memory_set::run(&tb.bus, db.pool(), configured).await;
    println!(
        "similar-incident memory, labelled set of {} incidents",
        first.incidents
    );
    println!("threshold  precision  recall  false memories  (pairs counted / expected)");
    for t in [0.3_f32, 0.45, configured, 0.75, 0.9] {
        let s = if t == configured {
            first
        } else {
            memory_set::score(db.pool(), t).await
        };
        println!(
            "{t:>9.2}  {:>9.2}  {:>6.2}  {:>14}  ({}/{}){}",
            s.precision(),
            s.recall(),
            s.false_memories,
            s.predicted,
            s.expected,
            if t == configured {
                "  <- configured"
            } else {
                ""
            }
        );
    }
    stop.cancel();
}
