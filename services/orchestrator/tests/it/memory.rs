//! The similar-incident memory is honest: build-tool boilerplate (`Finished: FAILURE`) never
//! makes failures alike, only earlier incidents are remembered or cited, the same job comes
//! first, and the memory says why they count. The labelled set (memory_set.rs) is scored.

use domain::Level;

use crate::common::{Orch, T, jenkins};
use crate::memory_set;

/// A build that prints `cause` (when any), then `Finished: FAILURE`; the incident's id and
/// its `incident.detected` payload.
async fn fail(
    o: &Orch,
    tap: &mut testkit::Tap,
    job: &str,
    build: i64,
    cause: Option<&str>,
) -> (i64, serde_json::Value) {
    if let Some(line) = cause {
        o.publish(jenkins(Level::Error, line, job, build)).await;
        o.wait_count(
            &format!("SELECT count(*) FROM logs_jenkins WHERE job_name = '{job}' AND build_number = {build}"),
            1,
        )
        .await;
    }
    o.publish(jenkins(Level::Error, "Finished: FAILURE", job, build))
        .await;
    let detected = tap.expect("incident.detected", T).await;
    let payload = detected.envelope.payload;
    let id = payload["incident"]["id"].as_i64().unwrap();
    (id, payload)
}

#[tokio::test]
async fn a_job_that_never_failed_is_not_remembered_for_the_boilerplate_every_failure_prints() {
    let o = Orch::start().await;
    let mut tap = o.events().await;
    for (job, cause) in [
        (
            "web",
            "npm ERR! 404 Not Found - GET https://registry.npmjs.org/left-padd",
        ),
        ("api", "could not connect to 10.0.0.5:5432 after 3 retries"),
        (
            "etl",
            "Error response from daemon: pull access denied for acme/base",
        ),
    ] {
        fail(&o, &mut tap, job, 1, Some(cause)).await;
    }
    // No cause printed at all: still nothing alike elsewhere.
    let (_, bare) = fail(&o, &mut tap, "docs", 1, None).await;
    assert!(bare.get("memory").is_none(), "{bare}");
    let (id, fresh) = fail(
        &o,
        &mut tap,
        "never-failed",
        1,
        Some("PKIX path building failed: unable to find valid certification path"),
    )
    .await;
    assert!(
        fresh.get("memory").is_none(),
        "a job that never failed, with a cause never seen, is not 'seen before': {fresh}"
    );
    let sig: String = sqlx::query_scalar("SELECT signature FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_one(o.pool())
        .await
        .unwrap();
    assert!(
        sig.starts_with("pkix path building failed"),
        "matched on the cause: {sig}"
    );
    let facts = o.services.postmortems.assemble_facts(id).await.unwrap();
    assert!(facts.similar.is_empty(), "{:?}", facts.similar);
}

#[tokio::test]
async fn the_same_cause_is_remembered_with_why_and_only_earlier_incidents_are_cited() {
    let o = Orch::start().await;
    let mut tap = o.events().await;
    let (first, _) = fail(
        &o,
        &mut tap,
        "api",
        1,
        Some("could not connect to 10.0.0.5:5432 after 3 retries"),
    )
    .await;
    let (_, other) = fail(
        &o,
        &mut tap,
        "billing",
        1,
        Some("could not connect to 10.9.0.1:6432 after 12 retries"),
    )
    .await;
    let m = &other["memory"];
    assert_eq!(m["seen_before"], 1, "{other}");
    assert_eq!(m["same_failure"], 0, "another job, the same cause: {m}");
    assert!(m["best_similarity"].as_f64().unwrap() >= 0.6, "{m}");
    // The post-mortem of the first cites nothing: the other was opened after it.
    let facts = o.services.postmortems.assemble_facts(first).await.unwrap();
    assert!(facts.similar.is_empty(), "{:?}", facts.similar);
    // The same job failing for another reason is not the same failure.
    o.publish(jenkins(Level::Info, "Finished: SUCCESS", "api", 2))
        .await;
    o.wait_count(
        &format!("SELECT count(*) FROM incidents WHERE id = {first} AND status = 'resolved'"),
        1,
    )
    .await;
    let (_, again) = fail(
        &o,
        &mut tap,
        "api",
        3,
        Some("npm ERR! 404 Not Found - GET https://registry.npmjs.org/left-padd"),
    )
    .await;
    assert!(again.get("memory").is_none(), "{again}");
}

#[tokio::test]
async fn the_labelled_set_scores() {
    let o = Orch::start().await;
    let threshold = o.settings.own.incidents.similarity_threshold;
    let s = memory_set::run(&o.tb.bus, o.pool(), threshold).await;
    println!(
        "memory set: {} incidents, precision {:.2}, recall {:.2}, {} false memories",
        s.incidents,
        s.precision(),
        s.recall(),
        s.false_memories
    );
    assert!(s.incidents >= 30);
    assert_eq!(s.false_memories, 0, "{s:?}");
    assert!(s.precision() >= 0.9, "{s:?}");
    assert!(s.recall() >= 0.8, "{s:?}");
}
