//! Socket Mode: with an app token, chatops opens the fake's WebSocket (through
//! `apps.connections.open`) and serves events and slash commands with the same handlers.

use chrono::Utc;
use serde_json::json;
use testkit::wait_until;

use crate::common::*;

#[tokio::test]
async fn socket_mode_serves_mentions_and_slash_commands() {
    let h = Harness::start(&[("SLACK_APP_TOKEN", "xapp-test-token")]).await;
    let socket = h.slack.socket().clone();
    wait_until("a socket mode connection", T, || async {
        socket.connected() >= 1
    })
    .await;
    assert!(
        !h.slack.ok_calls("apps.connections.open").is_empty(),
        "the URL came from apps.connections.open with the app token"
    );

    h.slack
        .add_user_message("C0OPS", "1700000300.000100", "help");
    let event = socket.push(
        "events_api",
        json!({
            "team_id": "T0FAKE", "api_app_id": "A0APP", "event_id": "EvSock1",
            "event_time": Utc::now().timestamp(),
            "event": {"type": "app_mention", "user": "U0ALICE", "channel": "C0OPS",
                      "ts": "1700000300.000100", "text": "<@U0BOT> help"}
        }),
    );
    wait_until("the mention's replies", T, || async {
        h.thread("1700000300.000100").len() == 2
    })
    .await;
    let thread = h.thread("1700000300.000100");
    assert!(
        thread[0].contains("Understood: show the help"),
        "{thread:?}"
    );
    assert!(thread[1].contains("What I can do"), "{thread:?}");
    wait_until("the event's ack", T, || async {
        socket.ack(&event).is_some()
    })
    .await;

    let command = socket.push(
        "slash_commands",
        json!({
            "team_id": "T0FAKE", "channel_id": "C0OPS", "user_id": "U0ALICE", "command": "/devops",
            "text": "restart deploy-prod", "response_url": h.slack.response_url(), "trigger_id": "1.2.3"
        }),
    );
    wait_until("the command's ack with its answer", T, || async {
        socket
            .ack(&command)
            .is_some_and(|a| a.to_string().contains("needs a build number"))
    })
    .await;
}
