//! MCP protocol features through a real rmcp client on the production handler: protocol
//! version negotiation for older clients, and the logging capability (setLevel, then the
//! session's log notifications at or above the level).
#![allow(deprecated)] // rmcp marks logging deprecated (SEP-2577); clients still use it.

use orchestrator::auth::Role;
use orchestrator::mcp::{McpServer, Shared};
use rmcp::model::{
    ClientConfig, LoggingLevel, LoggingMessageNotificationParam, ProtocolVersion,
    SetLevelRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::common::*;
use crate::mcp_common::*;

/// A client that keeps every log notification it receives.
struct LogClient {
    info: ClientConfig,
    logs: mpsc::UnboundedSender<LoggingMessageNotificationParam>,
}

impl ClientHandler for LogClient {
    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        let _ = self.logs.send(params);
    }
}

async fn connect_with(
    o: &Orch,
    info: ClientConfig,
) -> (
    RunningService<RoleClient, LogClient>,
    mpsc::UnboundedReceiver<LoggingMessageNotificationParam>,
) {
    let shared = Shared::new(
        o.services.clone(),
        o.tb.bus.clone(),
        o.settings.own.mcp.clone(),
    );
    let server = McpServer::acting_as(shared, agent("mcp:agent", &[Role::Viewer]));
    let (server_end, client_end) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let client = LogClient { info, logs: tx }
        .serve(client_end)
        .await
        .expect("mcp session starts");
    (client, rx)
}

fn negotiated(c: &RunningService<RoleClient, LogClient>) -> ProtocolVersion {
    c.peer_info().expect("server info").protocol_version.clone()
}

#[tokio::test]
async fn older_clients_get_the_version_they_asked_for_and_new_ones_the_newest() {
    let o = Orch::start().await;
    for asked in [ProtocolVersion::V_2025_03_26, ProtocolVersion::V_2025_06_18] {
        let info = client_info(CLIENT).with_protocol_version(asked.clone());
        let (c, _logs) = connect_with(&o, info).await;
        assert_eq!(negotiated(&c), asked);
        // The session works at that version.
        let page = ok(&c, "get_active_incidents", json!({})).await;
        assert!(page["items"].is_array(), "{page}");
        c.cancel().await.unwrap();
    }
    let (c, _logs) = connect_with(&o, client_info(CLIENT)).await;
    println!("default client negotiated {}", negotiated(&c));
    assert_eq!(negotiated(&c), ProtocolVersion::LATEST_WITH_INITIALIZE);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn log_notifications_follow_the_level_the_client_set() {
    let o = Orch::start().await;
    let (c, mut logs) = connect_with(&o, client_info(CLIENT)).await;
    let caps = c.peer_info().unwrap().capabilities.clone();
    assert!(caps.logging.is_some(), "logging is declared");

    // No level yet: nothing is sent.
    ok(&c, "get_active_incidents", json!({})).await;
    // Warnings and above: a successful call (info) is not sent, a bad argument (error) is.
    c.set_level(SetLevelRequestParams::new(LoggingLevel::Warning))
        .await
        .unwrap();
    ok(&c, "get_active_incidents", json!({})).await;
    fails(&c, "get_incident", json!({"incident_id": -1})).await;
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), logs.recv())
        .await
        .expect("a log notification")
        .unwrap();
    assert_eq!(first.level, LoggingLevel::Error);
    assert_eq!(first.logger.as_deref(), Some("runbooks"));
    assert_eq!(first.data["tool"], "get_incident", "{:?}", first.data);

    // Info: successful calls are sent too.
    c.set_level(SetLevelRequestParams::new(LoggingLevel::Info))
        .await
        .unwrap();
    ok(&c, "get_active_incidents", json!({})).await;
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), logs.recv())
        .await
        .expect("a log notification")
        .unwrap();
    assert_eq!(next.level, LoggingLevel::Info);
    assert_eq!(next.data["tool"], "get_active_incidents");
    assert!(logs.try_recv().is_err(), "one message per call");
    c.cancel().await.unwrap();
}
