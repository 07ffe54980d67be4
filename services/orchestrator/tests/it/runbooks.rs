//! Runbook runs end to end against real PostgreSQL and RabbitMQ: started by a rule,
//! advanced by the conductor, their actions committed as the runner commits them, their
//! verifications decided on the Jenkins logs the pipeline ingests.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::*;
use domain::Level;
use orchestrator::Application;
use orchestrator::settings::Settings;
use tokio_util::sync::CancellationToken;

pub(crate) const RUNBOOK: &str = "jenkins-build-failure";

/// The shipped runbook with test-sized deadlines.
pub(crate) fn runbooks_file(verify_timeout: &str) -> PathBuf {
    let text = ::runbooks::DEFAULT_RUNBOOKS
        .replace(
            "timeout = \"15m\"",
            &format!("timeout = \"{verify_timeout}\""),
        )
        .replace("timeout = \"10m\"", "timeout = \"20s\"")
        .replace("timeout = \"30m\"", "timeout = \"20s\"");
    write_temp("runbooks.toml", &text)
}

/// The shipped rules, the build failure starting the runbook instead of a one-step restart.
pub(crate) fn rules_file() -> PathBuf {
    let from = "[rule.action]\ntype = \"restart\"\nrequires_approval = false\n";
    assert!(rules::DEFAULT_RULES.contains(from));
    let text =
        rules::DEFAULT_RULES.replacen(from, &format!("[rule.runbook]\nname = \"{RUNBOOK}\"\n"), 1);
    write_temp("rules.toml", &text)
}

pub(crate) fn write_temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rb-runbooks-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn tweak(verify_timeout: &'static str) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.own.runbooks.path = Some(runbooks_file(verify_timeout));
        s.own.runbooks.poll_ms = 100;
        s.own.rules.path = Some(rules_file());
    }
}

/// What the runner commits when it finished an action (the orchestrator only reads it).
pub(crate) async fn runner_finishes(o: &Orch, id: i64, status: &str) {
    let done = sqlx::query(
        "UPDATE action_executions
         SET status = $2, claimed_by = 'runner-x', lease_expires_at = now(), started_at = now(),
             dry_run = false, result = '{}'::jsonb, completed_at = now(), updated_at = now()
         WHERE id = $1 AND status IN ('requested', 'approved')",
    )
    .bind(id)
    .bind(status)
    .execute(o.pool())
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1, "action {id} was claimable");
}

pub(crate) async fn run_of(o: &Orch, incident: i64) -> i64 {
    testkit::wait_until("a run exists", T, || async {
        o.count(&format!(
            "SELECT count(*) FROM runbook_runs WHERE incident_id = {incident}"
        ))
        .await
            == 1
    })
    .await;
    o.count(&format!(
        "SELECT id FROM runbook_runs WHERE incident_id = {incident}"
    ))
    .await
}

/// The action the run's step `step` requested, once it has.
pub(crate) async fn action_of(o: &Orch, run: i64, step: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM runbook_steps WHERE run_id = {run} AND step = '{step}' AND action_id IS NOT NULL"
    );
    o.wait_count(&sql, 1).await;
    o.count(&format!(
        "SELECT action_id FROM runbook_steps WHERE run_id = {run} AND step = '{step}'"
    ))
    .await
}

pub(crate) async fn step_status(o: &Orch, run: i64, step: &str) -> String {
    sqlx::query_scalar(
        "SELECT status FROM runbook_steps WHERE run_id = $1 AND step = $2 ORDER BY seq DESC LIMIT 1",
    )
    .bind(run)
    .bind(step)
    .fetch_optional(o.pool())
    .await
    .unwrap()
    .unwrap_or_default()
}

pub(crate) async fn wait_step(o: &Orch, run: i64, step: &str, status: &str) {
    let what = format!("step {step} of run {run} is {status}");
    testkit::wait_until(&what, T, || async {
        step_status(o, run, step).await == status
    })
    .await;
}

pub(crate) async fn wait_run(o: &Orch, run: i64, status: &str) {
    let sql = format!("SELECT count(*) FROM runbook_runs WHERE id = {run} AND status = '{status}'");
    o.wait_count(&sql, 1).await;
}

pub(crate) async fn incident_for(o: &Orch, job: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM incidents WHERE job_name = '{job}'");
    o.wait_count(&sql, 1).await;
    o.count(&format!(
        "SELECT id FROM incidents WHERE job_name = '{job}'"
    ))
    .await
}

pub(crate) async fn incident_state(o: &Orch, id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, resolved_by FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_one(o.pool())
        .await
        .unwrap()
}

pub(crate) async fn path_of(o: &Orch, run: i64) -> Vec<(String, String)> {
    sqlx::query_as("SELECT step, status FROM runbook_steps WHERE run_id = $1 ORDER BY seq")
        .bind(run)
        .fetch_all(o.pool())
        .await
        .unwrap()
}

pub(crate) fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn restart_verified_by_the_next_build_resolves_the_incident() {
    let o = Orch::start_with(tweak("20s")).await;
    o.publish(jenkins(Level::Error, "Finished: FAILURE", "app-build", 7))
        .await;
    let incident = incident_for(&o, "app-build").await;
    let run = run_of(&o, incident).await;
    let restart = action_of(&o, run, "restart").await;
    // The action acts as the runbook on behalf of the rule.
    let (by, via): (String, Option<String>) =
        sqlx::query_as("SELECT requested_by, requested_via FROM action_executions WHERE id = $1")
            .bind(restart)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!(by, "rule:jenkins_build_failure");
    assert_eq!(via.as_deref(), Some("runbook:jenkins-build-failure"));
    runner_finishes(&o, restart, "completed").await;
    wait_step(&o, run, "verify-restart", "running").await;
    // A completed action alone resolves nothing: the run waits for the next build.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(incident_state(&o, incident).await.0, "open");
    o.publish(jenkins(Level::Info, "Finished: SUCCESS", "app-build", 8))
        .await;
    wait_run(&o, run, "resolved").await;
    let (status, resolved_by) = incident_state(&o, incident).await;
    assert_eq!(status, "resolved");
    // Resolved by the verified run, not by the recovery rule that matched the same log.
    assert_eq!(
        resolved_by.as_deref(),
        Some("runbook:jenkins-build-failure")
    );
    assert_eq!(
        path_of(&o, run).await,
        pairs(&[
            ("restart", "succeeded"),
            ("verify-restart", "succeeded"),
            ("resolve", "succeeded")
        ])
    );
    let evidence: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM runbook_steps WHERE run_id = $1 AND step = 'verify-restart'",
    )
    .bind(run)
    .fetch_one(o.pool())
    .await
    .unwrap();
    assert_eq!(
        (evidence["build"].as_i64(), evidence["result"].as_str()),
        (Some(8), Some("SUCCESS"))
    );

    // REST shows the run with its steps.
    let r = o
        .get(&format!("/api/runbook-runs/{run}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "resolved");
    assert_eq!(body["steps"].as_array().unwrap().len(), 3);
    assert_eq!(body["steps"][0]["decision"]["clause"], "restart");
    let r = o
        .get(&format!("/api/runbook-runs?incident_id={incident}"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["runs"][0]["id"], run);
}

#[tokio::test]
async fn restart_fails_again_then_rollback_is_approved_and_verified() {
    let o = Orch::start_with(tweak("20s")).await;
    o.publish(jenkins(Level::Info, "Finished: SUCCESS", "svc-build", 4))
        .await;
    o.publish(jenkins(Level::Error, "Finished: FAILURE", "svc-build", 5))
        .await;
    let incident = incident_for(&o, "svc-build").await;
    let run = run_of(&o, incident).await;
    runner_finishes(&o, action_of(&o, run, "restart").await, "completed").await;
    wait_step(&o, run, "verify-restart", "running").await;
    // The restarted build fails again.
    o.publish(jenkins(Level::Error, "Finished: FAILURE", "svc-build", 6))
        .await;
    wait_step(&o, run, "verify-restart", "failed").await;
    let rollback = action_of(&o, run, "rollback").await;
    let (status, build): (String, Option<i64>) =
        sqlx::query_as("SELECT status, target_build FROM action_executions WHERE id = $1")
            .bind(rollback)
            .fetch_one(o.pool())
            .await
            .unwrap();
    // To the last build that succeeded, after a person's approval (the policy's one).
    assert_eq!((status.as_str(), build), ("pending_approval", Some(4)));
    let r = o
        .as_(
            "anna",
            reqwest::Method::POST,
            &format!("/api/actions/{rollback}/approve"),
        )
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    runner_finishes(&o, rollback, "completed").await;
    wait_step(&o, run, "verify-rollback", "running").await;
    o.publish(jenkins(Level::Info, "Finished: SUCCESS", "svc-build", 7))
        .await;
    wait_run(&o, run, "resolved").await;
    assert_eq!(
        path_of(&o, run).await,
        pairs(&[
            ("restart", "succeeded"),
            ("verify-restart", "failed"),
            ("rollback", "succeeded"),
            ("verify-rollback", "succeeded"),
            ("resolve", "succeeded"),
        ])
    );
    assert_eq!(incident_state(&o, incident).await.0, "resolved");
    assert_eq!(
        o.count(&format!(
            "SELECT count(*) FROM action_executions WHERE incident_id = {incident}"
        ))
        .await,
        2
    );
}

#[tokio::test]
async fn a_verification_deadline_escalates_and_the_incident_stays_open() {
    let o = Orch::start_with(tweak("1s")).await;
    o.publish(jenkins(Level::Error, "Finished: FAILURE", "late-build", 3))
        .await;
    let incident = incident_for(&o, "late-build").await;
    let run = run_of(&o, incident).await;
    runner_finishes(&o, action_of(&o, run, "restart").await, "completed").await;
    wait_step(&o, run, "verify-restart", "timed_out").await;
    // Timeout → rollback; with no successful build known to roll back to → escalate.
    wait_run(&o, run, "escalated").await;
    let rollback: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM runbook_steps WHERE run_id = $1 AND step = 'rollback'",
    )
    .bind(run)
    .fetch_one(o.pool())
    .await
    .unwrap();
    assert!(
        rollback["error"]
            .as_str()
            .unwrap()
            .contains("no successful build"),
        "{rollback}"
    );
    assert_eq!(
        path_of(&o, run).await,
        pairs(&[
            ("restart", "succeeded"),
            ("verify-restart", "timed_out"),
            ("rollback", "failed"),
            ("escalate", "succeeded"),
        ])
    );
    assert_eq!(
        incident_state(&o, incident).await,
        ("open".to_string(), None)
    );
    let pages = o
        .count(&format!(
            "SELECT count(*) FROM outbox_events WHERE routing_key = 'audit.runbook.escalated'
               AND payload->'payload'->'details'->>'run_id' = '{run}'"
        ))
        .await;
    assert_eq!(pages, 1);
}

#[tokio::test]
async fn a_deadline_survives_an_orchestrator_restart() {
    let o = Orch::start_with(tweak("3s")).await;
    // A second orchestrator on the same database and bus, which this test stops mid-wait.
    let first_cancel = CancellationToken::new();
    // The fixture's own app runs its conductor too: stop it, keep only apps built here.
    o.cancel.cancel();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let app = Application::build(o.settings.clone()).await.unwrap();
    tokio::spawn(app.run_until_stopped(first_cancel.clone()));
    o.publish(jenkins(Level::Error, "Finished: FAILURE", "slow-build", 11))
        .await;
    let incident = incident_for(&o, "slow-build").await;
    let run = run_of(&o, incident).await;
    runner_finishes(&o, action_of(&o, run, "restart").await, "completed").await;
    wait_step(&o, run, "verify-restart", "running").await;
    let deadline: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT deadline_at FROM runbook_steps WHERE run_id = $1 AND step = 'verify-restart'",
    )
    .bind(run)
    .fetch_one(o.pool())
    .await
    .unwrap();
    first_cancel.cancel();
    // Down past the deadline: nothing advances the run meanwhile.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(step_status(&o, run, "verify-restart").await, "running");
    assert!(chrono::Utc::now() > deadline);
    let second = CancellationToken::new();
    let app = Application::build(o.settings.clone()).await.unwrap();
    tokio::spawn(app.run_until_stopped(second.clone()));
    wait_step(&o, run, "verify-restart", "timed_out").await;
    let (kept, steps): (chrono::DateTime<chrono::Utc>, i64) = sqlx::query_as(
        "SELECT max(deadline_at) FILTER (WHERE step = 'verify-restart'),
                count(*) FILTER (WHERE step = 'verify-restart')
         FROM runbook_steps WHERE run_id = $1",
    )
    .bind(run)
    .fetch_one(o.pool())
    .await
    .unwrap();
    // The stored deadline was kept, the step not begun again.
    assert_eq!((kept, steps), (deadline, 1));
    assert_eq!(
        o.count(&format!("SELECT count(*) FROM action_executions WHERE incident_id = {incident} AND action_type = 'restart'")).await,
        1
    );
    second.cancel();
}

#[tokio::test]
async fn two_conductors_never_take_a_step_twice() {
    let o = Orch::start_with(tweak("20s")).await;
    let second = CancellationToken::new();
    let app = Application::build(o.settings.clone()).await.unwrap();
    let extra = app.services().runbooks.clone();
    tokio::spawn(app.run_until_stopped(second.clone()));
    const N: i64 = 20;
    for i in 0..N {
        o.publish(jenkins(
            Level::Error,
            "Finished: FAILURE",
            &format!("job-{i}"),
            1,
        ))
        .await;
    }
    o.wait_count("SELECT count(*) FROM runbook_runs", N).await;
    // Besides the two conductor loops, eight more passes race on the same runs.
    let mut racers = Vec::new();
    for k in 0..8 {
        let s = if k % 2 == 0 {
            o.services.runbooks.clone()
        } else {
            extra.clone()
        };
        racers.push(tokio::spawn(async move {
            for _ in 0..30 {
                s.tick().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    o.wait_count(
        "SELECT count(*) FROM runbook_steps WHERE step = 'restart' AND action_id IS NOT NULL",
        N,
    )
    .await;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT action_id FROM runbook_steps WHERE step = 'restart'")
            .fetch_all(o.pool())
            .await
            .unwrap();
    for id in ids {
        runner_finishes(&o, id, "completed").await;
    }
    for i in 0..N {
        o.publish(jenkins(
            Level::Info,
            "Finished: SUCCESS",
            &format!("job-{i}"),
            2,
        ))
        .await;
    }
    o.wait_count(
        "SELECT count(*) FROM runbook_runs WHERE status = 'resolved'",
        N,
    )
    .await;
    for r in racers {
        r.await.unwrap();
    }
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, N);
    assert_eq!(o.count("SELECT count(*) FROM runbook_steps").await, 3 * N);
    assert_eq!(
        o.count("SELECT count(*) FROM outbox_events WHERE routing_key = 'incident.resolved'")
            .await,
        N
    );
    second.cancel();
}

#[tokio::test]
async fn people_start_runbooks_through_rest_as_the_policy_allows() {
    let o = Orch::start_with(tweak("20s")).await;
    // An incident without a runbook of its own (this rule has no action or runbook).
    o.publish(jenkins(
        Level::Error,
        "Tests run: 10, Failures: 2",
        "unit-build",
        9,
    ))
    .await;
    let incident = incident_for(&o, "unit-build").await;
    assert_eq!(o.count("SELECT count(*) FROM runbook_runs").await, 0);
    let path = format!("/api/incidents/{incident}/runbook");
    let start = |who: &str, body: serde_json::Value| {
        o.as_(who, reqwest::Method::POST, &path).json(&body).send()
    };
    let r = start("vera", serde_json::json!({"runbook": RUNBOOK}))
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = start("otto", serde_json::json!({"runbook": "nope"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = start("otto", serde_json::json!({"runbook": RUNBOOK, "extra": 1}))
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(o.count("SELECT count(*) FROM runbook_runs").await, 0);
    let r = start("otto", serde_json::json!({"runbook": RUNBOOK}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let run: serde_json::Value = r.json().await.unwrap();
    assert_eq!(run["started_by"], "otto");
    // One run at a time per incident.
    let r = start("otto", serde_json::json!({"runbook": RUNBOOK}))
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let action = action_of(&o, run["id"].as_i64().unwrap(), "restart").await;
    let (by, via): (String, Option<String>) =
        sqlx::query_as("SELECT requested_by, requested_via FROM action_executions WHERE id = $1")
            .bind(action)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!(
        (by.as_str(), via.as_deref()),
        ("otto", Some("runbook:jenkins-build-failure"))
    );
    // Documented.
    let doc: serde_json::Value = o
        .get("/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/api/incidents/{id}/runbook",
        "/api/runbook-runs",
        "/api/runbook-runs/{id}",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} in the OpenAPI document");
    }
}
