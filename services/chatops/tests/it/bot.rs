//! The bot's HTTP surface: signatures, slash commands, mentions through the fake Ollama,
//! buttons on behalf of the clicking user.

use std::time::Duration;

use bus::{ConsumerOptions, Message};
use domain::commands::CommandReply;
use serde_json::{Value, json};
use testkit::wait_until;

use crate::common::*;

// Slack's documented example request (api.slack.com/authentication/verifying-requests-from-slack).
const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const DOC_TS: &str = "1531420618";
const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const DOC_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

#[tokio::test]
async fn only_fresh_correctly_signed_requests_are_accepted() {
    let h = Harness::start(&[]).await;
    let challenge = json!({"type": "url_verification", "token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}).to_string();
    let ok = h
        .signed("/slack/events", "application/json", &challenge)
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<Value>().await.unwrap()["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    // Signed with another secret.
    let now = chrono::Utc::now().timestamp();
    let forged = h
        .signed_at(
            "/slack/events",
            "application/json",
            &challenge,
            now,
            "not-the-secret",
        )
        .await;
    assert_eq!(forged.status(), 401);
    // No signature at all.
    let bare = h
        .http
        .post(h.url("/slack/commands"))
        .body("text=help")
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    // Correctly signed, but older than 5 minutes.
    let stale = h
        .signed_at(
            "/slack/events",
            "application/json",
            &challenge,
            now - 301,
            SECRET,
        )
        .await;
    assert_eq!(stale.status(), 401);
    // Slack's documented example is valid for its secret but years old.
    let doc = h
        .http
        .post(h.url("/slack/commands"))
        .header("x-slack-request-timestamp", DOC_TS)
        .header("x-slack-signature", DOC_SIG)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(DOC_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(doc.status(), 401);
    assert_eq!(
        testkit::slack::sign(DOC_SECRET, DOC_TS.parse().unwrap(), DOC_BODY),
        DOC_SIG,
        "the fake signs like Slack"
    );
    // A replay of an accepted request.
    let body = "command=%2Fdevops&text=help&user_id=U0ALICE&channel_id=C0OPS";
    let ts = now.to_string();
    let sig = testkit::slack::sign(SECRET, now, body);
    let send = || {
        h.http
            .post(h.url("/slack/commands"))
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", &sig)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(send().await.unwrap().status(), 401, "replayed");
}

#[tokio::test]
async fn slash_commands_answer_help_errors_and_refusals_at_once() {
    let h = Harness::start(&[]).await;
    let help = h.slash("U0ALICE", "help").await;
    assert!(
        help["text"]
            .as_str()
            .unwrap()
            .contains("/devops restart <job> <build>"),
        "{help}"
    );
    assert_eq!(help["response_type"], "ephemeral");

    let bad = h.slash("U0ALICE", "restart deploy-prod").await;
    let text = bad["text"].as_str().unwrap();
    assert!(
        text.contains("needs a build number") && text.contains("/devops help"),
        "{text}"
    );

    let outside = h.slash("U0ALICE", "restart prod-db 5").await;
    let text = outside["text"].as_str().unwrap();
    assert!(
        text.contains("`prod-db` is not in the allow-list (deploy-*)"),
        "{text}"
    );
}

/// Stands in for the health-monitor (built elsewhere) on its command queue.
async fn health_monitor(h: &Harness, reply: CommandReply) -> tokio_util::sync::CancellationToken {
    let cancel = tokio_util::sync::CancellationToken::new();
    let bus = h.tb.bus.clone();
    let opts = ConsumerOptions::new(&bus, domain::names::queue::HEALTH_MONITOR_COMMANDS);
    let c = cancel.clone();
    tokio::spawn(async move {
        bus.serve(
            opts,
            move |_m: Message<Value>| {
                let r = reply.clone();
                async move { r }
            },
            c,
        )
        .await
    });
    cancel
}

fn status_data() -> Value {
    json!({
        "healthy_services": 2, "total_services": 2, "checked_at": "2026-11-29T10:00:00Z",
        "services": [
            {"service": "orchestrator", "kind": "runbooks", "status": "up", "instances": 2, "instances_up": 2,
             "last_seen_at": "2026-11-29T10:00:00Z", "uptime_percent_24h": 99.9, "degraded": []},
            {"service": "chatops", "kind": "runbooks", "status": "degraded", "instances": 1, "instances_up": 1,
             "last_seen_at": "2026-11-29T10:00:00Z", "uptime_percent_24h": 100.0, "degraded": ["ollama"]}
        ]
    })
}

#[tokio::test]
async fn status_says_clearly_when_the_health_monitor_does_not_answer() {
    let h = Harness::start(&[("RUNBOOKS__BOT__COMMAND_TIMEOUT_MS", "500")]).await;
    let r = h.slash("U0ALICE", "status").await;
    let text = r["text"].as_str().unwrap();
    assert!(text.contains("health monitor is not answering"), "{text}");

    let _hm = health_monitor(&h, CommandReply::ok(status_data())).await;
    wait_until("the health monitor stand-in to answer", T, || async {
        let r = h.slash("U0ALICE", "status").await;
        let t = r["text"].as_str().unwrap_or("").to_string();
        t.contains("1/2 services up · 1 degraded: chatops (ollama)") && !t.contains("healthy")
    })
    .await;
}

#[tokio::test]
async fn a_mention_goes_through_the_models_tool_call_and_says_what_it_understood() {
    let h = Harness::start(&[]).await;
    let _hm = health_monitor(&h, CommandReply::ok(status_data())).await;
    h.ollama.tool_call("get_service_status", json!({}));
    let res = h
        .mention(
            "Ev001",
            "U0ALICE",
            "1700000001.000100",
            "¿cómo están los servicios?",
        )
        .await;
    assert_eq!(res.status(), 200);
    wait_until("the two replies", T, || async {
        h.thread("1700000001.000100").len() == 2
    })
    .await;
    let thread = h.thread("1700000001.000100");
    assert!(
        thread[0].contains("Understood: show the health of the services"),
        "{thread:?}"
    );
    assert!(thread[1].contains("services up"), "{thread:?}");
    // The model got the tools and the user's words as the user's message, nothing more.
    let req = &h.ollama.requests()[0];
    assert_eq!(req["model"], "llama3.2");
    let names: Vec<&str> = req["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"request_jenkins_restart") && names.contains(&"get_active_incidents"),
        "{names:?}"
    );
    let msgs = req["messages"].as_array().unwrap();
    assert_eq!(msgs.last().unwrap()["role"], "user");
    assert_eq!(
        msgs.last().unwrap()["content"],
        "¿cómo están los servicios?"
    );

    // Slack retries the same event (new signature, same event id): handled once.
    let again = h
        .mention_retry(
            "Ev001",
            "U0ALICE",
            "1700000001.000100",
            "¿cómo están los servicios?",
        )
        .await;
    assert_eq!(again.status(), 200);
    h.ollama.tool_call("show_help", json!({}));
    h.mention("Ev002", "U0ALICE", "1700000002.000100", "what can you do")
        .await;
    wait_until("the probe mention", T, || async {
        h.thread("1700000002.000100").len() == 2
    })
    .await;
    assert_eq!(
        h.ollama.requests().len(),
        2,
        "the retried event was not processed again"
    );
    assert_eq!(h.thread("1700000001.000100").len(), 2);
}

#[tokio::test]
async fn unknown_tools_and_jobs_outside_the_allowlist_are_refused() {
    let h = Harness::start(&[]).await;
    let mut commands =
        h.tb.tap(domain::names::exchange::COMMANDS, &["command.actions.#"])
            .await;
    h.ollama
        .tool_call("delete_all_jobs", json!({"confirm": true}));
    h.mention("Ev010", "U0ALICE", "1700000010.000100", "borra todo")
        .await;
    h.ollama.tool_call(
        "request_jenkins_restart",
        json!({"job": "prod-db", "build": 5}),
    );
    h.mention(
        "Ev011",
        "U0ALICE",
        "1700000011.000100",
        "reinicia el build 5 del job prod-db",
    )
    .await;
    wait_until("both refusals", T, || async {
        h.thread("1700000010.000100").len() == 1 && h.thread("1700000011.000100").len() == 1
    })
    .await;
    let a = &h.thread("1700000010.000100")[0];
    assert!(
        a.contains("`delete_all_jobs`, which is not one of my tools")
            && a.contains("Nothing was done"),
        "{a}"
    );
    let b = &h.thread("1700000011.000100")[0];
    assert!(
        b.contains("restart build #5 of `prod-db`") && b.contains("not in the allow-list"),
        "{b}"
    );
    assert!(
        commands.next(Duration::from_millis(500)).await.is_none(),
        "no action was requested"
    );
}

#[tokio::test]
async fn with_ollama_down_mentions_fall_back_to_the_grammar() {
    let h = Harness::start(&[("OLLAMA_URL", "http://127.0.0.1:9")]).await;
    h.mention(
        "Ev020",
        "U0ALICE",
        "1700000020.000100",
        "reinicia el build 123 del job deploy-prod",
    )
    .await;
    wait_until("the hint", T, || async {
        h.thread("1700000020.000100").len() == 1
    })
    .await;
    let hint = &h.thread("1700000020.000100")[0];
    assert!(
        hint.contains("the language model is unreachable")
            && hint.contains("@devops-bot restart deploy-prod 123"),
        "{hint}"
    );
    // The model's address and the transport error stay in the log (issue #19).
    assert!(
        !hint.contains("127.0.0.1") && !hint.contains("http://") && !hint.contains("/api/chat"),
        "{hint}"
    );
    // The grammar itself works without the model.
    let _hm = health_monitor(&h, CommandReply::ok(status_data())).await;
    h.mention("Ev021", "U0ALICE", "1700000021.000100", "status")
        .await;
    wait_until("the grammar's answer", T, || async {
        h.thread("1700000021.000100").len() == 2
    })
    .await;
}

#[tokio::test]
async fn buttons_act_on_behalf_of_the_user_who_clicked() {
    let h = Harness::start(&[]).await;
    let mut seen =
        h.tb.tap(
            domain::names::exchange::COMMANDS,
            &["command.actions.approve"],
        )
        .await;
    // A stand-in orchestrator refusing like the real one refuses a requester's own approval.
    let bus = h.tb.bus.clone();
    let opts = ConsumerOptions::new(&bus, domain::names::queue::ORCHESTRATOR_COMMANDS);
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        bus.serve(
            opts,
            |m: Message<Value>| async move {
                let user = m
                    .headers
                    .get(bus::header::ON_BEHALF_OF)
                    .cloned()
                    .unwrap_or_default();
                CommandReply::err(
                    domain::commands::ErrorCode::Forbidden,
                    format!("{user} requested action 7 and cannot approve it; someone else must"),
                )
            },
            c,
        )
        .await
    });
    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "team_id": "T0FAKE"},
        "channel": {"id": "C0OPS", "name": "incidents"},
        "team": {"id": "T0FAKE"},
        "response_url": h.slack.response_url(),
        "actions": [{"action_id": "action_approve", "block_id": "action:7", "value": "7", "type": "button"}]
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let res = h
        .signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            &body,
        )
        .await;
    assert_eq!(res.status(), 200);
    let msg = seen.next(T).await.expect("an approve command");
    assert_eq!(msg.envelope.payload, json!({"id": 7}));
    assert_eq!(
        msg.headers
            .get(bus::header::ON_BEHALF_OF)
            .map(String::as_str),
        Some("slack:U0ALICE")
    );
    wait_until("the refusal shown to the user", T, || async {
        h.slack.responses().iter().any(|(_, b)| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.contains("⛔ Not allowed: slack:U0ALICE requested action 7"))
                && b["response_type"] == "ephemeral"
        })
    })
    .await;
    cancel.cancel();
}

#[tokio::test]
async fn slow_slash_commands_are_acknowledged_at_once_and_answered_through_response_url() {
    let h = Harness::start(&[("RUNBOOKS__BOT__INLINE_REPLY_MS", "0")]).await;
    let _hm = health_monitor(&h, CommandReply::ok(status_data())).await;
    let started = std::time::Instant::now();
    let r = h.slash("U0ALICE", "status").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "Slack waits 3 s at most"
    );
    let text = r["text"].as_str().unwrap();
    assert!(
        text.starts_with("⏳ Working on it: show the health of the services"),
        "{text}"
    );
    wait_until("the answer through response_url", T, || async {
        h.slack.responses().iter().any(|(_, b)| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.contains("1/2 services up"))
                && b["response_type"] == "ephemeral"
        })
    })
    .await;
}

#[tokio::test]
async fn postmortem_asks_by_incident_waits_longer_and_renders_the_markdown() {
    // Commands give up after 500 ms; the post-mortem, written on the spot, may take longer.
    let h = Harness::start(&[("RUNBOOKS__BOT__COMMAND_TIMEOUT_MS", "500")]).await;
    let mut seen =
        h.tb.tap(
            domain::names::exchange::COMMANDS,
            &[domain::commands::key::POSTMORTEMS_GET],
        )
        .await;
    let bus = h.tb.bus.clone();
    let opts = ConsumerOptions::new(&bus, domain::names::queue::ORCHESTRATOR_COMMANDS);
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        bus.serve(
            opts,
            |m: Message<Value>| async move {
                tokio::time::sleep(Duration::from_millis(1200)).await;
                let id = m.envelope.payload["incident_id"].as_i64().unwrap_or(0);
                CommandReply::ok(json!({
                    "id": 31, "incident_id": id, "version": 2, "title": "Disk full",
                    "summary": "Logs filled the disk.", "writer": "llm",
                    "markdown": "# Disk full\n\n## Summary\nLogs **filled** the disk <!channel>.\n\n## Timeline\n- 10:00 detected",
                    "url": format!("https://runbooks.example/api/incidents/{id}/postmortem"),
                    "generated_at": "2026-11-29T10:00:00Z", "writer_note": null
                }))
            },
            c,
        )
        .await
    });
    let r = h.slash("U0ALICE", "postmortem 7").await;
    let text = r["text"].as_str().unwrap();
    let asked = seen.next(T).await.expect("a post-mortem request");
    assert_eq!(asked.envelope.payload, json!({"incident_id": 7}));
    assert!(
        text.starts_with("📝 *Post-mortem of incident #7 · v2: Disk full*\n_written by the LLM"),
        "{text}"
    );
    assert!(
        text.contains("*Summary*\nLogs *filled* the disk &lt;!channel&gt;."),
        "{text}"
    );
    assert!(text.contains("• 10:00 detected"), "{text}");
    assert!(
        text.ends_with("<https://runbooks.example/api/incidents/7/postmortem|Full report>"),
        "{text}"
    );
    assert_eq!(r["response_type"], "ephemeral");
    cancel.cancel();
}
