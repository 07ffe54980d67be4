//! Batched ingest from the bus, detection, dedup and dead-lettering.

use std::time::Duration;

use crate::common::*;
use domain::names::queue;
use domain::{Level, LogRecord};

#[tokio::test]
async fn a_thousand_mixed_logs_are_stored_once_with_the_expected_incident() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let mut sent = Vec::new();
    for i in 0..1000 {
        let rec = match i % 50 {
            // 20 failures of one job
            0 => jenkins(
                Level::Error,
                "BUILD FAILED: compilation error",
                "deploy-prod",
                100 + i,
            ),
            n if n % 2 == 0 => {
                jenkins(Level::Info, "Building in workspace", &format!("job-{n}"), i)
            }
            _ => api(200, "/orders", 12.0),
        };
        sent.push(o.publish(rec).await);
    }
    o.wait_count(
        "SELECT (SELECT count(*) FROM logs_jenkins) + (SELECT count(*) FROM logs_api)",
        1000,
    )
    .await;
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT rule, occurrences, status FROM incidents")
            .fetch_all(o.pool())
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![("jenkins_build_failure".to_string(), 20, "open".to_string())]
    );
    let detected = events.expect("incident.detected", T).await;
    assert_eq!(
        detected.envelope.payload["incident"]["job_name"],
        "deploy-prod"
    );
    assert_eq!(
        detected.envelope.payload["first_log"]["message"],
        "BUILD FAILED: compilation error"
    );
    events.drain(Duration::from_millis(500)).await;

    // The same batch again (a broker redelivery): nothing new anywhere.
    let outbox_before = o.count("SELECT count(*) FROM outbox_events").await;
    for env in &sent {
        o.republish(env).await;
    }
    testkit::wait_until("redeliveries consumed", T, || async {
        o.tb.bus
            .queue_depth(queue::ORCHESTRATOR_LOGS)
            .await
            .unwrap()
            == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        o.count("SELECT (SELECT count(*) FROM logs_jenkins) + (SELECT count(*) FROM logs_api)")
            .await,
        1000
    );
    assert_eq!(o.count("SELECT occurrences FROM incidents").await, 20);
    assert_eq!(
        o.count("SELECT count(*) FROM outbox_events").await,
        outbox_before
    );
    assert!(
        events.drain(Duration::from_millis(500)).await.is_empty(),
        "no new events"
    );
}

#[tokio::test]
async fn malformed_and_constraint_breaking_logs_are_dead_lettered_alone() {
    let o = Orch::start().await;
    // Publish while the consumer is busy so that all land in one batch.
    let mut garbage = bus::OutgoingMessage::to(
        domain::names::exchange::LOGS,
        "logs.jenkins.error",
        &domain::Envelope::with_kind("log.jenkins", "x", ()),
    );
    garbage.body = b"{\"id\": 1".to_vec();
    for i in 0..10 {
        o.publish(jenkins(Level::Info, "ok", "job-a", i + 1)).await;
        if i == 3 {
            o.tb.bus.publish_message(&garbage).await.unwrap();
            // PostgreSQL text cannot hold a NUL: it is stored as U+FFFD rather than refused.
            o.publish(jenkins(Level::Info, "bad \u{0} byte", "job-a", 99))
                .await;
            // Blank and oversized source ids are refused at once, naming the field.
            for id in ["  ".to_string(), "x".repeat(3000)] {
                let domain::LogRecord::Jenkins(mut l) = jenkins(Level::Info, "id", "job-a", 5)
                else {
                    unreachable!()
                };
                l.source_id = Some(id);
                o.publish(domain::LogRecord::Jenkins(l)).await;
            }
            // Negative build numbers are invalid before they reach the database.
            o.publish(jenkins(Level::Info, "negative", "job-a", -4))
                .await;
        }
    }
    o.wait_count("SELECT count(*) FROM logs_jenkins", 11).await;
    let dlq = format!("{}.dlq", queue::ORCHESTRATOR_LOGS);
    testkit::wait_until("four dead letters", T, || async {
        o.tb.bus.queue_depth(&dlq).await.unwrap() == 4
    })
    .await;
    let mut reasons = Vec::new();
    while let Some(m) = o.tb.bus.fetch(&dlq).await.unwrap() {
        // Refused without retries: the first delivery was the last.
        assert_eq!(m.headers[bus::header::ATTEMPTS], "1", "{:?}", m.headers);
        reasons.push(m.headers[bus::header::DEATH_REASON].clone());
    }
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("build_number -4 is negative")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("malformed")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("source_id must not be empty or blank")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("source_id has 3000 characters, at most 256 allowed")),
        "{reasons:?}"
    );
    assert_eq!(
        o.count("SELECT count(*) FROM logs_jenkins WHERE message = 'bad \u{FFFD} byte'")
            .await,
        1
    );
    assert_eq!(
        o.count("SELECT count(*) FROM logs_jenkins WHERE message = 'ok'")
            .await,
        10
    );
}

#[tokio::test]
async fn a_threshold_rule_opens_on_the_fifth_5xx_within_its_window() {
    let o = Orch::start().await;
    for _ in 0..4 {
        o.publish(api(503, "/checkout", 40.0)).await;
    }
    o.wait_count("SELECT count(*) FROM logs_api", 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        o.count("SELECT count(*) FROM incidents").await,
        0,
        "four are not enough"
    );
    o.publish(api(502, "/checkout", 40.0)).await;
    o.wait_count(
        "SELECT count(*) FROM incidents WHERE rule = 'api_5xx_burst'",
        1,
    )
    .await;
    assert_eq!(o.count("SELECT occurrences FROM incidents").await, 5);
    // Another path is another group.
    o.publish(api(500, "/cart", 40.0)).await;
    o.wait_count("SELECT count(*) FROM logs_api", 6).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(o.count("SELECT count(*) FROM incidents").await, 1);
}

#[tokio::test]
async fn a_success_log_resolves_the_jobs_build_failure() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    o.publish(jenkins(Level::Error, "Finished: FAILURE", "api-gateway", 7))
        .await;
    o.wait_count("SELECT count(*) FROM incidents WHERE status = 'open'", 1)
        .await;
    o.publish(jenkins(Level::Info, "Finished: SUCCESS", "api-gateway", 8))
        .await;
    o.wait_count(
        "SELECT count(*) FROM incidents WHERE status = 'resolved'",
        1,
    )
    .await;
    let (method, by, mttr): (String, String, f64) =
        sqlx::query_as("SELECT resolution_method, resolved_by, mttr_seconds FROM incidents")
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!(method, "auto_recovered");
    assert_eq!(by, "rule:jenkins_build_recovered");
    assert!(mttr >= 0.0);
    let resolved = events.expect("incident.resolved", T).await;
    assert_eq!(
        resolved.envelope.payload["resolution_method"],
        "auto_recovered"
    );
    // Another job's success changes nothing.
    o.publish(jenkins(Level::Error, "BUILD FAILED", "other", 1))
        .await;
    o.publish(jenkins(Level::Info, "BUILD SUCCESS", "api-gateway", 9))
        .await;
    o.wait_count("SELECT count(*) FROM logs_jenkins", 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        o.count("SELECT count(*) FROM incidents WHERE status = 'open'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_log_record_from_a_foreign_producer_is_treated_like_the_listeners() {
    let o = Orch::start().await;
    // Any AMQP client: hand-written JSON, uppercase level, @timestamp, no source_id.
    let body = serde_json::json!({
        "id": uuid::Uuid::now_v7(), "type": "log.jenkins", "version": 1,
        "occurred_at": "2026-11-22T10:00:00Z", "producer": "fluent-bit",
        "payload": {"@timestamp": chrono::Utc::now(), "level": "ERROR",
                    "message": "BUILD FAILED", "job_name": "legacy", "build_number": 3}
    });
    let mut msg = bus::OutgoingMessage::to(
        domain::names::exchange::LOGS,
        "logs.jenkins.error",
        &domain::Envelope::with_kind("log.jenkins", "x", ()),
    );
    msg.body = body.to_string().into_bytes();
    o.tb.bus.publish_message(&msg).await.unwrap();
    o.tb.bus.publish_message(&msg).await.unwrap();
    o.wait_count(
        "SELECT count(*) FROM incidents WHERE job_name = 'legacy'",
        1,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        o.count("SELECT count(*) FROM logs_jenkins").await,
        1,
        "stored once, keyed by the envelope id"
    );
}

#[tokio::test]
async fn incident_updates_are_sent_at_most_once_per_interval() {
    let o = Orch::start_with(|s| s.own.incidents.update_interval_secs = 3600).await;
    let mut events = o.events().await;
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-prod", 1))
        .await;
    events.expect("incident.detected", T).await;
    // The first new occurrences may notify once the interval since detection has passed;
    // make the detection look old so exactly one update is due.
    sqlx::query("UPDATE incidents SET last_notified_at = now() - interval '2 hours'")
        .execute(o.pool())
        .await
        .unwrap();
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-prod", 2))
        .await;
    let updated = events.expect("incident.updated", T).await;
    assert_eq!(updated.envelope.payload["reason"], "occurrences");
    assert_eq!(updated.envelope.payload["incident"]["occurrences"], 2);
    for b in 3..6 {
        o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-prod", b))
            .await;
    }
    o.wait_count("SELECT occurrences FROM incidents", 5).await;
    let later = events.drain(Duration::from_millis(500)).await;
    assert!(
        later.iter().all(|m| m.envelope.kind != "incident.updated"),
        "no second update within the interval"
    );
}

#[tokio::test]
async fn old_logs_are_stored_but_open_nothing_and_stale_ones_trigger_no_action() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let at = |rec: LogRecord, secs_ago: i64| match rec {
        LogRecord::Jenkins(mut l) => {
            l.timestamp = ts(secs_ago);
            LogRecord::Jenkins(l)
        }
        other => other,
    };
    // Weeks old (a replay): stored, no incident.
    o.publish(at(
        jenkins(Level::Error, "BUILD FAILED", "replayed", 3),
        14 * 86_400,
    ))
    .await;
    // Twenty minutes old: an incident, but no automatic restart.
    o.publish(at(jenkins(Level::Error, "BUILD FAILED", "stale", 4), 1_200))
        .await;
    o.wait_count("SELECT count(*) FROM logs_jenkins", 2).await;
    let detected = events.expect("incident.detected", T).await;
    assert_eq!(detected.envelope.payload["incident"]["job_name"], "stale");
    assert!(detected.envelope.payload["action_id"].is_null());
    let later = events.drain(Duration::from_millis(500)).await;
    assert!(
        later.iter().all(
            |m| m.envelope.kind != "incident.detected" && m.envelope.kind != "action.requested"
        ),
        "{:?}",
        later.iter().map(|m| &m.envelope.kind).collect::<Vec<_>>()
    );
    assert_eq!(o.count("SELECT count(*) FROM incidents").await, 1);
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, 0);
    let metrics = reqwest::get(format!("{}/metrics", o.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"runbooks_logs_too_old_for_detection_total{source="jenkins",service="orchestrator"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"runbooks_actions_skipped_old_log_total{service="orchestrator"} 1"#),
        "{metrics}"
    );
}
