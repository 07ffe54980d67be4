//! Runbooks through the other doors: MCP `start_runbook` (a write tool, policy-checked and
//! audited like the others) and `get_runbook_run`. Real PostgreSQL and RabbitMQ.

use orchestrator::auth::Role;
use serde_json::json;

use super::runbooks::*;
use crate::common::*;
use crate::mcp_common::*;

#[tokio::test]
async fn agents_start_and_follow_runbooks_over_mcp_as_the_policy_allows() {
    let o = Orch::start_with(|s| {
        tweak("20s")(s);
        s.own.mcp.write_tools = true;
    })
    .await;
    // An incident without a runbook or action of its own.
    let incident = open(&o, "mcp-rb-job", "Finished: ABORTED").await;
    let start = json!({"incident_id": incident, "runbook": RUNBOOK});

    // A viewer neither sees nor may call the write tool.
    let viewer = connect(&o, agent("mcp:viewer", &[Role::Viewer])).await;
    assert!(
        !tool_names(&viewer)
            .await
            .contains(&"start_runbook".to_string())
    );
    let refused = fails(&viewer, "start_runbook", start.clone()).await;
    assert!(refused.contains("operator role"), "{refused}");

    let c = connect(&o, agent("mcp:agent", &[Role::Operator])).await;
    assert!(tool_names(&c).await.contains(&"start_runbook".to_string()));
    let bad = fails(
        &c,
        "start_runbook",
        json!({"incident_id": incident, "runbook": "nope"}),
    )
    .await;
    assert!(bad.contains("no runbook named `nope`"), "{bad}");
    assert_eq!(o.count("SELECT count(*) FROM runbook_runs").await, 0);

    let run = ok(&c, "start_runbook", start.clone()).await;
    assert_eq!(run["runbook"], RUNBOOK);
    let id = run["id"].as_i64().unwrap();
    let (on, by): (i64, String) =
        sqlx::query_as("SELECT incident_id, started_by FROM runbook_runs WHERE id = $1")
            .bind(id)
            .fetch_one(o.pool())
            .await
            .unwrap();
    assert_eq!((on, by.as_str()), (incident, "mcp:agent"));
    // One run per incident, through this door too.
    let again = fails(&c, "start_runbook", start).await;
    assert!(again.contains("already has runbook run"), "{again}");

    // Its restart acts as the runbook on the agent's behalf, judged for the MCP channel.
    let action = action_of(&o, id, "restart").await;
    let (by, via, channel): (String, Option<String>, String) = sqlx::query_as(
        "SELECT requested_by, requested_via, channel FROM action_executions WHERE id = $1",
    )
    .bind(action)
    .fetch_one(o.pool())
    .await
    .unwrap();
    assert_eq!(
        (by.as_str(), via.as_deref(), channel.as_str()),
        ("mcp:agent", Some("runbook:jenkins-build-failure"), "mcp")
    );

    // Anyone who may read follows the run.
    let got = ok(&viewer, "get_runbook_run", json!({"run_id": id})).await;
    assert_eq!(got["id"], id);
    let first = got["steps"][0].as_str().unwrap();
    assert!(first.starts_with("restart running"), "{got}");
    assert_eq!(got["status"], "running");
    let missing = fails(&viewer, "get_runbook_run", json!({"run_id": 999_999})).await;
    assert!(missing.contains("not found"), "{missing}");

    // Audited like every MCP call, and the start itself as `runbook.start`.
    let outcomes = mcp_audit_outcomes(&o, "start_runbook").await;
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    assert_eq!(outcomes[0], "denied", "the viewer's call");
    assert!(outcomes.contains(&"allowed".to_string()), "{outcomes:?}");
    assert_eq!(
        o.count(&format!(
            "SELECT count(*) FROM outbox_events WHERE routing_key = 'audit.runbook.start'
               AND payload->'payload'->>'target_id' = '{id}'
               AND payload->'payload'->>'channel' = 'mcp'"
        ))
        .await,
        1
    );
}
