//! The `approve` step: a human gate inside a run, approved through REST by distinct
//! approvers other than the run's starter, with a stored deadline and its `on_timeout`
//! branch. Real PostgreSQL and RabbitMQ.

use domain::Level;
use orchestrator::settings::Settings;
use serde_json::json;

use super::runbooks::*;
use crate::common::*;

/// The shipped runbooks plus a gated restart: two approvals, then restart, verify, resolve.
fn gated(gate_timeout: &str) -> String {
    let gated = format!(
        r#"
[[runbook]]
name = "gated-restart"
version = 1

[[runbook.step]]
name = "gate"
kind = "approve"
timeout = "{gate_timeout}"
params = {{ approvals = 2 }}
on_timeout = "page"

[[runbook.step]]
name = "restart"
kind = "restart"
timeout = "20s"
on_failure = "page"

[[runbook.step]]
name = "check"
kind = "verify"
params = {{ condition = "next_build_success" }}
timeout = "20s"
on_failure = "page"

[[runbook.step]]
name = "done"
kind = "resolve"

[[runbook.step]]
name = "page"
kind = "escalate"
"#
    );
    format!("{}\n{gated}", ::runbooks::DEFAULT_RUNBOOKS)
}

fn with_gate(gate_timeout: &'static str) -> impl FnOnce(&mut Settings) {
    move |s| {
        tweak("20s")(s);
        s.own.runbooks.path = Some(write_temp("runbooks.toml", &gated(gate_timeout)));
    }
}

/// An incident without a runbook of its own, and `who` starting the gated runbook on it.
async fn gated_run(o: &Orch, job: &str, who: &str) -> (i64, i64) {
    o.publish(jenkins(Level::Error, "Tests run: 10, Failures: 2", job, 9))
        .await;
    let incident = incident_for(o, job).await;
    let r = o
        .as_(
            who,
            reqwest::Method::POST,
            &format!("/api/incidents/{incident}/runbook"),
        )
        .json(&json!({"runbook": "gated-restart"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let run: serde_json::Value = r.json().await.unwrap();
    let run = run["id"].as_i64().unwrap();
    wait_step(o, run, "gate", "running").await;
    (incident, run)
}

async fn approve(o: &Orch, who: &str, run: i64) -> (u16, serde_json::Value) {
    let r = o
        .as_(
            who,
            reqwest::Method::POST,
            &format!("/api/runbook-runs/{run}/approve"),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn two_distinct_approvers_open_the_gate_and_the_starter_cannot() {
    let o = Orch::start_with(with_gate("1h")).await;
    // olga is operator and approver: she may start, but never approve her own run.
    let (incident, run) = gated_run(&o, "gated-build", "olga").await;
    let (s, b) = approve(&o, "olga", run).await;
    assert_eq!(s, 403, "{b}");
    assert!(b.to_string().contains("cannot approve"), "{b}");
    // A viewer may not approve at all.
    assert_eq!(approve(&o, "vera", run).await.0, 403);
    let (s, b) = approve(&o, "anna", run).await;
    assert_eq!(s, 200, "{b}");
    // One approval of two: the gate holds, nothing is requested.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(step_status(&o, run, "gate").await, "running");
    assert_eq!(
        o.count(&format!(
            "SELECT count(*) FROM action_executions WHERE incident_id = {incident}"
        ))
        .await,
        0
    );
    // The same approver twice does not count twice.
    assert_eq!(approve(&o, "anna", run).await.0, 403);
    assert_eq!(approve(&o, "abel", run).await.0, 200);
    wait_step(&o, run, "gate", "succeeded").await;
    let details: serde_json::Value =
        sqlx::query_scalar("SELECT details FROM runbook_steps WHERE run_id = $1 AND step = 'gate'")
            .bind(run)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!(details["approved_by"], json!(["anna", "abel"]), "{details}");
    // The flow goes on: the restart, its verification, the resolution.
    runner_finishes(&o, action_of(&o, run, "restart").await, "completed").await;
    wait_step(&o, run, "check", "running").await;
    o.publish(jenkins(Level::Info, "Finished: SUCCESS", "gated-build", 10))
        .await;
    wait_run(&o, run, "resolved").await;
    assert_eq!(
        path_of(&o, run).await,
        pairs(&[
            ("gate", "succeeded"),
            ("restart", "succeeded"),
            ("check", "succeeded"),
            ("done", "succeeded")
        ])
    );
    // A run past its gate has nothing to approve; approvals and refusals are audited.
    assert_eq!(approve(&o, "ada", run).await.0, 409);
    assert_eq!(approve(&o, "ada", 999_999).await.0, 404);
    let audited = |verb: &str| {
        format!(
            "SELECT count(*) FROM outbox_events WHERE routing_key = '{verb}'
               AND payload->'payload'->>'target_id' = '{run}'"
        )
    };
    assert_eq!(o.count(&audited("audit.runbook.approve")).await, 2);
    assert!(o.count(&audited("audit.denied")).await >= 2);
    // Documented.
    let doc: serde_json::Value = o
        .get("/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/runbook-runs/{id}/approve"]["post"].is_object());
}

#[tokio::test]
async fn a_gate_not_approved_in_time_takes_its_timeout_branch() {
    let o = Orch::start_with(with_gate("2s")).await;
    let (incident, run) = gated_run(&o, "late-gate", "otto").await;
    assert_eq!(approve(&o, "anna", run).await.0, 200);
    wait_run(&o, run, "escalated").await;
    assert_eq!(
        path_of(&o, run).await,
        pairs(&[("gate", "timed_out"), ("page", "succeeded")])
    );
    let details: serde_json::Value =
        sqlx::query_scalar("SELECT details FROM runbook_steps WHERE run_id = $1 AND step = 'gate'")
            .bind(run)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!(details["approved_by"], json!(["anna"]));
    assert_eq!(
        o.count(&format!(
            "SELECT count(*) FROM action_executions WHERE incident_id = {incident}"
        ))
        .await,
        0
    );
    // Too late now.
    assert_eq!(approve(&o, "abel", run).await.0, 409);
}
