//! One incident per failure (issue #19): the detections of one failed build — "Finished:
//! FAILURE" and the OutOfMemoryError that caused it — are one incident with the worst
//! severity and every rule listed, and the next successful build resolves it.

use crate::common::*;
use domain::{Level, LogRecord};
use orchestrator::logs::Incoming;

async fn ingest(o: &Orch, logs: &[LogRecord]) {
    let items: Vec<Incoming<'_>> = logs
        .iter()
        .map(|record| Incoming {
            record,
            message_id: None,
        })
        .collect();
    o.services.logs.ingest(&items, "test").await.unwrap();
}

fn at(mut r: LogRecord, secs_ago: i64) -> LogRecord {
    if let LogRecord::Jenkins(l) = &mut r {
        l.timestamp = ts(secs_ago);
    }
    r
}

type Row = (i64, String, String, Vec<String>, i64, String);

async fn incidents_of(o: &Orch, job: &str) -> Vec<Row> {
    sqlx::query_as(
        "SELECT id, rule, severity, rules, occurrences, status FROM incidents
         WHERE job_name = $1 ORDER BY id",
    )
    .bind(job)
    .fetch_all(o.pool())
    .await
    .unwrap()
}

const OOM: &str = "java.lang.OutOfMemoryError: Java heap space";

#[tokio::test]
async fn one_failed_build_is_one_incident_and_its_recovery_resolves_it() {
    let o = Orch::start().await;
    // The build's console as the Jenkins webhook sends it: the cause, then the verdict.
    ingest(
        &o,
        &[
            jenkins(Level::Error, OOM, "deploy-prod", 42),
            jenkins(Level::Error, "Finished: FAILURE", "deploy-prod", 42),
        ],
    )
    .await;
    let rows = incidents_of(&o, "deploy-prod").await;
    assert_eq!(rows.len(), 1, "one incident for deploy-prod #42: {rows:?}");
    let (id, rule, severity, rules, occurrences, _) = &rows[0];
    assert_eq!(rule, "jenkins_out_of_resources", "the worst rule opens it");
    assert_eq!(severity, "critical");
    assert_eq!(
        rules,
        &["jenkins_out_of_resources", "jenkins_build_failure"],
        "every matched rule is listed"
    );
    assert_eq!(*occurrences, 2);
    // REST shows the rules too.
    let (status, body) = rest_incident(&o, *id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["rules"],
        serde_json::json!(["jenkins_out_of_resources", "jenkins_build_failure"])
    );
    // Both logs are its evidence.
    let linked = o
        .count(&format!(
            "SELECT count(*) FROM incident_logs WHERE incident_id = {id}"
        ))
        .await;
    assert_eq!(linked, 2);

    ingest(
        &o,
        &[jenkins(Level::Info, "Finished: SUCCESS", "deploy-prod", 43)],
    )
    .await;
    let rows = incidents_of(&o, "deploy-prod").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].5, "resolved", "the recovery resolves it: {rows:?}");
}

async fn rest_incident(o: &Orch, id: i64) -> (u16, serde_json::Value) {
    let r = o.get(&format!("/api/incidents/{id}")).send().await.unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    let incident = body.get("incident").cloned().unwrap_or(body);
    (status, incident)
}

#[tokio::test]
async fn a_later_rule_of_the_same_build_joins_raises_the_severity_and_acts_once() {
    let o = Orch::start().await;
    let mut tap = o.events().await;
    ingest(
        &o,
        &[jenkins(Level::Error, "Finished: FAILURE", "deploy-app", 7)],
    )
    .await;
    tap.expect("incident.detected", T).await;
    ingest(&o, &[jenkins(Level::Error, OOM, "deploy-app", 7)]).await;
    let rows = incidents_of(&o, "deploy-app").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (_, rule, severity, rules, occurrences, status) = &rows[0];
    assert_eq!(rule, "jenkins_build_failure");
    assert_eq!(severity, "critical", "raised to the worst rule's");
    assert_eq!(
        rules,
        &["jenkins_build_failure", "jenkins_out_of_resources"]
    );
    assert_eq!((*occurrences, status.as_str()), (2, "open"));
    let m = tap.expect("incident.updated", T).await;
    let p = &m.envelope.payload;
    assert_eq!(p["reason"], "correlated", "{p}");
    assert_eq!(p["incident"]["severity"], "critical", "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("jenkins_out_of_resources"),
        "{p}"
    );
    // The restart the build failure asked for is the only action.
    let actions = o
        .count("SELECT count(*) FROM action_executions WHERE target_job = 'deploy-app'")
        .await;
    assert_eq!(actions, 1);
}

#[tokio::test]
async fn another_build_joins_within_the_window_only() {
    let o = Orch::start_with(|s| s.own.incidents.correlation_window_secs = 60).await;
    // Build 1 failed two minutes ago; build 2's tests fail now: beyond the window.
    ingest(
        &o,
        &[at(
            jenkins(Level::Error, "Finished: FAILURE", "web", 1),
            120,
        )],
    )
    .await;
    ingest(
        &o,
        &[jenkins(
            Level::Error,
            "Tests run: 10, Failures: 2",
            "web",
            2,
        )],
    )
    .await;
    let rows = incidents_of(&o, "web").await;
    assert_eq!(
        rows.len(),
        2,
        "outside the window: its own incident: {rows:?}"
    );
    // Within the window another rule of the job joins the latest one.
    ingest(&o, &[jenkins(Level::Error, "Build timed out", "web", 3)]).await;
    let rows = incidents_of(&o, "web").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[1].3,
        ["jenkins_test_failures", "jenkins_build_timeout_or_aborted"]
    );
    // Other jobs are other failures.
    ingest(&o, &[jenkins(Level::Error, OOM, "other-job", 3)]).await;
    assert_eq!(incidents_of(&o, "other-job").await.len(), 1);
    assert_eq!(incidents_of(&o, "web").await.len(), 2);
}
