//! MCP over its two transports: `orchestrator mcp` as a child process on stdio, and
//! streamable HTTP at `/mcp` with bearer tokens, the Host allow-list and Origin checks.

use std::process::Stdio;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Value, json};

use crate::common::*;
use crate::mcp_common::*;

async fn tool_json(c: &Client, tool: &str, args: Value) -> Value {
    let r = c
        .call_tool(
            CallToolRequestParams::new(tool.to_string())
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{tool}: {r:?}");
    r.structured_content.unwrap()
}

#[tokio::test]
async fn orchestrator_mcp_serves_stdio_as_the_configured_principal() {
    let o = Orch::start().await;
    let id = open(&o, "stdio-job", "Finished: ABORTED").await;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.arg("mcp")
        .envs(testkit::process::service_env(&o.db, &o.tb))
        .env(
            "RUNBOOKS__POLICY__PATH",
            o.settings.own.policy.path.as_ref().unwrap(),
        )
        .env("RUNBOOKS__MCP__STDIO_PRINCIPAL", "desk")
        .env("RUNBOOKS__MCP__STDIO_ROLES", "viewer")
        .env("RUNBOOKS__OUTBOX__POLL_INTERVAL_MS", "100");
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("orchestrator mcp starts");
    let c = client_info("claude-desktop")
        .serve(transport)
        .await
        .expect("initialize over stdio");
    let info = c.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().unwrap().name, "runbooks");
    assert!(info.capabilities.tools.is_some() && info.capabilities.prompts.is_some());
    assert_eq!(tool_names(&c).await, READ_TOOLS);
    let page = tool_json(&c, "get_active_incidents", json!({})).await;
    assert_eq!(page["items"][0]["id"], id);
    assert_eq!(page["items"][0]["job_name"], "stdio-job");
    // The call is audited as the configured principal, with the client's name.
    let audits = mcp_audits(&o, "get_active_incidents").await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].0, "mcp:desk");
    assert_eq!(audits[0].1["client"], "claude-desktop");
    c.cancel().await.unwrap();
}

fn http_client(o: &Orch, token: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", o.base))
            .auth_header(token.to_string()),
    )
}

#[tokio::test]
async fn mcp_over_http_acts_as_the_tokens_principal() {
    let o = Orch::start_with(|s| s.own.mcp.write_tools = true).await;
    let id = open(&o, "http-job", "Finished: ABORTED").await;
    let c = client_info("ide")
        .serve(http_client(&o, &token_of("otto")))
        .await
        .expect("initialize over http");
    let names = tool_names(&c).await;
    assert!(
        names.contains(&"request_jenkins_restart".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"approve_action".to_string()),
        "otto is no approver"
    );
    let page = tool_json(&c, "get_active_incidents", json!({})).await;
    assert_eq!(page["items"][0]["id"], id);
    let r = tool_json(
        &c,
        "request_jenkins_restart",
        json!({"job": "http-job", "build": 3, "incident_id": id}),
    )
    .await;
    assert_eq!(r["action"]["requested_by"], "otto");
    assert_eq!(r["action"]["channel"], "mcp");
    let audits = mcp_audits(&o, "request_jenkins_restart").await;
    assert_eq!(
        (audits[0].0.as_str(), &audits[0].1["client"]),
        ("otto", &json!("ide"))
    );
    c.cancel().await.unwrap();

    // A viewer's token, on the same server, sees the read tools only.
    let v = client_info("ide")
        .serve(http_client(&o, &token_of("vera")))
        .await
        .unwrap();
    assert_eq!(tool_names(&v).await, READ_TOOLS);
    v.cancel().await.unwrap();
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "curl", "version": "1"}}})
}

async fn post(o: &Orch, port: u16, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = o
        .http
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&initialize());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn port(o: &Orch) -> u16 {
    o.base.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn http_needs_a_token_a_configured_host_and_an_allowed_origin() {
    let o = Orch::start_with(|s| {
        s.own.mcp.allowed_origins = vec!["https://console.example.com:443".into()];
    })
    .await;
    let p = port(&o);
    let auth = format!("Bearer {}", token_of("vera"));
    let (s, body) = post(&o, p, &[]).await;
    assert_eq!(s, 401, "{body}");
    assert!(body.contains("missing bearer token"), "{body}");
    let (s, _) = post(&o, p, &[("authorization", "Bearer wrong")]).await;
    assert_eq!(s, 401);
    let (s, body) = post(&o, p, &[("authorization", &auth)]).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("\"runbooks\""), "{body}");
    let (s, _) = post(&o, p, &[("authorization", &auth), ("host", "evil.example")]).await;
    assert_eq!(s, 403, "a Host that is not configured");
    let (s, _) = post(
        &o,
        p,
        &[("authorization", &auth), ("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(s, 403, "an Origin that is not allowed");
    let (s, _) = post(
        &o,
        p,
        &[
            ("authorization", &auth),
            ("origin", "https://console.example.com"),
        ],
    )
    .await;
    assert_eq!(s, 200, "the allowed Origin");
    // The server listens on 127.0.0.1: pages on this machine (the MCP Inspector) may call it.
    for local in ["http://localhost:6274", "http://127.0.0.1:6274"] {
        let (s, body) = post(&o, p, &[("authorization", &auth), ("origin", local)]).await;
        assert_eq!(s, 200, "{local}: {body}");
    }
    // The REST routes under /mcp are untouched.
    let r = o
        .as_("otto", reqwest::Method::POST, "/mcp/logs/jenkins")
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn allowed_hosts_are_configurable_for_proxies() {
    let o = Orch::start_with(|s| {
        s.own.mcp.allowed_hosts = vec!["runbooks.internal".into()];
    })
    .await;
    let p = port(&o);
    let auth = format!("Bearer {}", token_of("vera"));
    let host = format!("runbooks.internal:{p}");
    let (s, body) = post(&o, p, &[("authorization", &auth), ("host", &host)]).await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = post(&o, p, &[("authorization", &auth)]).await;
    assert_eq!(s, 403, "127.0.0.1 is no longer configured");
}

#[tokio::test]
async fn bad_mcp_settings_stop_the_start_naming_the_key() {
    for (key, value, named) in [
        (
            "RUNBOOKS__MCP__STDIO_ROLES",
            "viewer,wizard",
            "mcp.stdio_roles",
        ),
        (
            "RUNBOOKS__MCP__STDIO_PRINCIPAL",
            "a b",
            "mcp.stdio_principal",
        ),
        (
            "RUNBOOKS__MCP__ALLOWED_ORIGINS",
            "console.example.com",
            "mcp.allowed_origins",
        ),
        (
            "RUNBOOKS__MCP__WRITE_CALLS_PER_MINUTE",
            "0",
            "mcp.write_calls_per_minute",
        ),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestrator"))
            .arg("mcp")
            .env(key, value)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{key}={value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{key}: {stderr}");
        assert!(out.stdout.is_empty(), "stdout is the protocol's alone");
    }
}

/// A session started on one replica continues on another (the store in PostgreSQL), with
/// the client's name: no sticky sessions needed behind a load balancer.
#[tokio::test]
async fn an_http_session_continues_on_another_replica() {
    let a = Orch::start().await;
    let id = open(&a, "replicated", "Finished: ABORTED").await;
    let b = orchestrator::Application::build(a.settings.clone())
        .await
        .expect("a second replica starts");
    let b_port = b.port();
    tokio::spawn(b.run_until_stopped(a.cancel.clone()));

    let auth = format!("Bearer {}", token_of("vera"));
    let resp = a
        .http
        .post(format!("{}/mcp", a.base))
        .header("authorization", &auth)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let session = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM mcp_sessions WHERE session_id = $1")
        .bind(&session)
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(stored, 1);
    let send = |port: u16, body: Value| {
        a.http
            .post(format!("http://127.0.0.1:{port}/mcp"))
            .header("authorization", &auth)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body)
            .send()
    };
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        send(port(&a), initialized).await.unwrap().status().as_u16(),
        202
    );
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "get_active_incidents", "arguments": {}}});
    let resp = send(b_port, call).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains(&format!("\\\"id\\\":{id}")) || body.contains(&format!("\"id\":{id}")),
        "{body}"
    );
    // The replica that never saw `initialize` still knows the client.
    let audits = mcp_audits(&a, "get_active_incidents").await;
    assert_eq!(audits[0].1["client"], "curl");
    // DELETE ends it everywhere.
    let deleted = a
        .http
        .delete(format!("http://127.0.0.1:{b_port}/mcp"))
        .header("authorization", &auth)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM mcp_sessions")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
}
