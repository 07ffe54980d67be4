//! What the MCP tests share: an MCP client on an in-process server acting as a given
//! principal (over a duplex pipe, the production handler and service layer), and tool
//! results read as JSON or as error text.
//! Relies on the test crate's `mod common;`.

#![allow(dead_code)]

use domain::{Channel, Level};
use orchestrator::auth::{Actor, Role, Roles};
use orchestrator::mcp::{McpServer, Shared};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

use crate::common::{Orch, jenkins};

pub type Client = RunningService<RoleClient, ClientConfig>;

/// The name the test clients introduce themselves with.
pub const CLIENT: &str = "test-agent";

pub fn client_info(name: &str) -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new(name, "1.0.0"),
    )
}

/// An agent principal on the MCP channel.
pub fn agent(name: &str, roles: &[Role]) -> Actor {
    Actor::new(name, Channel::Mcp, Roles::of(roles.iter().copied()))
}

/// An MCP session with the production handler, acting as `actor`.
pub async fn connect(o: &Orch, actor: Actor) -> Client {
    let shared = Shared::new(
        o.services.clone(),
        o.tb.bus.clone(),
        o.settings.own.mcp.clone(),
    );
    let server = McpServer::acting_as(shared, actor);
    let (server_end, client_end) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    client_info(CLIENT)
        .serve(client_end)
        .await
        .expect("mcp session starts")
}

pub async fn call(c: &rmcp::Peer<RoleClient>, tool: &str, args: Value) -> CallToolResult {
    let args = args.as_object().cloned().unwrap_or_default();
    c.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: a protocol error instead of a result: {e}"))
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The structured result of a successful call.
pub async fn ok(c: &rmcp::Peer<RoleClient>, tool: &str, args: Value) -> Value {
    let r = call(c, tool, args).await;
    assert_ne!(r.is_error, Some(true), "{tool} failed: {}", text(&r));
    r.structured_content
        .unwrap_or_else(|| panic!("{tool} answered without structured content"))
}

/// The error text of a failed call.
pub async fn fails(c: &rmcp::Peer<RoleClient>, tool: &str, args: Value) -> String {
    let r = call(c, tool, args).await;
    assert_eq!(r.is_error, Some(true), "{tool} should fail: {:?}", r);
    text(&r)
}

pub async fn tool_names(c: &Client) -> Vec<String> {
    let mut names: Vec<String> = c
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

pub const READ_TOOLS: [&str; 9] = [
    "get_action_status",
    "get_active_incidents",
    "get_incident",
    "get_incident_stats",
    "get_postmortem",
    "get_related_incidents",
    "get_runbook_run",
    "get_service_health",
    "search_logs",
];

/// Opens an incident on `job` from a Jenkins log (`Finished: ABORTED` opens one without an
/// automatic action) and returns its id once stored.
pub async fn open(o: &Orch, job: &str, message: &str) -> i64 {
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents WHERE job_name = $1")
        .bind(job)
        .fetch_one(o.pool())
        .await
        .unwrap();
    o.publish(jenkins(Level::Error, message, job, 3)).await;
    let sql = format!("SELECT count(*) FROM incidents WHERE job_name = '{job}'",);
    o.wait_count(&sql, before + 1).await;
    sqlx::query_scalar("SELECT max(id) FROM incidents WHERE job_name = $1")
        .bind(job)
        .fetch_one(o.pool())
        .await
        .unwrap()
}

/// The `audit.mcp.call` rows written so far for `tool`, as (actor, details).
pub async fn mcp_audits(o: &Orch, tool: &str) -> Vec<(String, Value)> {
    sqlx::query_as::<_, (String, Value)>(
        "SELECT payload->'payload'->>'actor', payload->'payload'->'details' FROM outbox_events
         WHERE event_type = 'audit.mcp.call' AND payload->'payload'->>'target_id' = $1 ORDER BY id",
    )
    .bind(tool)
    .fetch_all(o.pool())
    .await
    .unwrap()
}

/// The `outcome` of each `audit.mcp.call` row for `tool`, oldest first.
pub async fn mcp_audit_outcomes(o: &Orch, tool: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>(
        "SELECT payload->'payload'->>'outcome' FROM outbox_events
         WHERE event_type = 'audit.mcp.call' AND payload->'payload'->>'target_id' = $1 ORDER BY id",
    )
    .bind(tool)
    .fetch_all(o.pool())
    .await
    .unwrap()
}

/// A stand-in for the health monitor's command consumer on the real bus, answering every
/// `command.health.status` with one service up; it stops when the token is cancelled.
pub fn health_stand_in(o: &Orch) -> tokio_util::sync::CancellationToken {
    let stop = tokio_util::sync::CancellationToken::new();
    let bus = o.tb.bus.clone();
    let token = stop.clone();
    tokio::spawn(async move {
        let opts = bus::ConsumerOptions::new(&bus, domain::names::queue::HEALTH_MONITOR_COMMANDS);
        bus.serve(
            opts,
            |_msg| async move {
                domain::commands::CommandReply::ok(serde_json::json!({
                    "healthy_services": 1, "total_services": 1,
                    "checked_at": "2026-11-29T10:00:00Z",
                    "services": [{"service": "runner", "status": "up", "instances": 1,
                                  "instances_up": 1, "kind": "runbooks"}]
                }))
            },
            token,
        )
        .await
    });
    stop
}
