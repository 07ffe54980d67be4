//! Slack ChatOps against a real orchestrator: every `/devops` command travels as a
//! `command.*` request on behalf of the Slack user, the orchestrator's answers (and refusals)
//! come back to Slack, and its events reach the incident's thread.

use std::collections::HashMap;
use std::time::Duration;

use domain::{Envelope, JenkinsLog, Level, LogRecord};
use runtime::ServiceSettings;
use serde_json::{Value, json};
use testkit::ollama::FakeOllama;
use testkit::slack::{FakeSlack, FakeSlackConfig};
use testkit::{TestBus, TestDb, wait_for, wait_until};
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(30);
const SECRET: &str = "e2e-signing-secret";

/// Who may do what from Slack: everyone looks; Alice operates; Bob operates and approves;
/// Carol approves; the `S0OPS` user group operates.
const POLICY: &str = r#"
[roles]
"rule:*" = ["operator"]
"amqp:*" = ["viewer"]
"slack:*" = ["viewer"]
"slack:U0ALICE" = ["operator"]
"slack:U0BOB" = ["operator", "approver"]
"slack:U0CAROL" = ["approver"]
"slack-group:S0OPS" = ["operator"]

[[actions]]
name = "stop"
actions = ["stop"]
roles = ["operator"]
channels = ["api", "slack"]
approvals = 1

[[actions]]
name = "rollback"
actions = ["rollback"]
roles = ["operator"]
approvals = 1

[[actions]]
name = "restart"
actions = ["restart"]
roles = ["operator"]
approvals = 0
"#;

struct Stack {
    _db: TestDb,
    tb: TestBus,
    slack: FakeSlack,
    ollama: FakeOllama,
    chatops_port: u16,
    http: reqwest::Client,
    cancel: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn stack() -> Stack {
    testkit::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let slack = FakeSlack::start(FakeSlackConfig::default()).await;
    slack.set_group("S0OPS", "ops-oncall", &["U0DAVE"]);
    let ollama = FakeOllama::start("llama3.2").await;
    let policy =
        std::env::temp_dir().join(format!("rb-policy-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&policy, POLICY).unwrap();
    let env: HashMap<String, String> = [
        ("RUNBOOKS__POLICY__PATH", policy.display().to_string()),
        ("RUNBOOKS__HEARTBEAT__INTERVAL_SECS", "1".into()),
        ("DATABASE_URL", db.url().to_string()),
        ("RABBITMQ_URL", tb.settings.url.clone()),
        ("RUNBOOKS__BUS__NAMESPACE", tb.namespace.clone()),
        ("RUNBOOKS__HTTP__HOST", "127.0.0.1".into()),
        ("RUNBOOKS__HTTP__PORT", "0".into()),
        ("RUNBOOKS__OUTBOX__POLL_INTERVAL_MS", "100".into()),
        ("RUNBOOKS__API__TOKENS", "t".into()),
        ("RUNBOOKS__GUARD__ALLOWED_JOBS", "deploy-*".into()),
        ("SLACK_BOT_TOKEN", slack.bot_token().to_string()),
        ("SLACK_API_URL", slack.api_url()),
        ("SLACK_SIGNING_SECRET", SECRET.into()),
        (
            "RUNBOOKS__SLACK__RESPONSE_URL_PREFIXES",
            slack.response_url_prefix(),
        ),
        ("OLLAMA_URL", ollama.url()),
        ("OLLAMA_MODEL", "llama3.2".into()),
        ("RUNBOOKS__NOTIFY__MIN_INTERVAL_MS", "50".into()),
        ("RUNBOOKS__NOTIFY__POLL_INTERVAL_MS", "50".into()),
        // Generous: a loaded CI machine runs several stacks at once.
        ("RUNBOOKS__BOT__COMMAND_TIMEOUT_MS", "10000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cancel = CancellationToken::new();
    let (common, own) =
        runtime::load_with_env(orchestrator::settings::DEFAULTS, None, Some(env.clone())).unwrap();
    let orch = orchestrator::Application::build(orchestrator::Settings { common, own })
        .await
        .unwrap();
    tokio::spawn(orch.run_until_stopped(cancel.clone()));
    let (common, own) =
        runtime::load_with_env(health_monitor::settings::DEFAULTS, None, Some(env.clone()))
            .unwrap();
    let hm = health_monitor::Application::build(health_monitor::settings::Settings { common, own })
        .await
        .unwrap();
    tokio::spawn(hm.run_until_stopped(cancel.clone()));
    let chat =
        chatops::Application::build(chatops::Settings::load_with_env(None, Some(env)).unwrap())
            .await
            .unwrap();
    let chatops_port = chat.port();
    tokio::spawn(chat.run_until_stopped(cancel.clone()));
    Stack {
        _db: db,
        tb,
        slack,
        ollama,
        chatops_port,
        http: reqwest::Client::new(),
        cancel,
    }
}

impl Stack {
    async fn signed(&self, path: &str, content_type: &str, body: String) -> reqwest::Response {
        let ts = chrono::Utc::now().timestamp();
        self.http
            .post(format!("http://127.0.0.1:{}{path}", self.chatops_port))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", testkit::slack::sign(SECRET, ts, &body))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `/devops <text>` from `user`: the answer, inline or (when slow) via `response_url`.
    async fn devops(&self, user: &str, text: &str) -> String {
        let response_url = self.slack.response_url();
        let id = response_url.rsplit('/').next().unwrap().to_string();
        let body = serde_urlencoded::to_string([
            ("command", "/devops"),
            ("text", text),
            ("user_id", user),
            ("channel_id", "C0OPS"),
            ("response_url", response_url.as_str()),
        ])
        .unwrap();
        let res = self
            .signed("/slack/commands", "application/x-www-form-urlencoded", body)
            .await;
        assert_eq!(res.status(), 200);
        let inline: Value = res.json().await.unwrap();
        let text = inline["text"].as_str().unwrap().to_string();
        if !text.starts_with("⏳ Working on it") {
            return text;
        }
        wait_for("the answer through response_url", T, || async {
            self.slack
                .responses()
                .into_iter()
                .find(|(rid, _)| *rid == id)
                .and_then(|(_, b)| b["text"].as_str().map(str::to_string))
        })
        .await
    }

    fn parent_ts(&self, needle: &str) -> Option<String> {
        self.slack
            .ok_calls("chat.postMessage")
            .into_iter()
            .find(|c| c.thread_ts.is_none() && c.all_text().contains(needle))
            .and_then(|c| c.ts)
    }

    fn thread(&self, ts: &str) -> Vec<String> {
        self.slack
            .ok_calls("chat.postMessage")
            .into_iter()
            .filter(|c| c.thread_ts.as_deref() == Some(ts))
            .map(|c| c.all_text())
            .collect()
    }
}

/// Waits like `wait_for`, and says what it saw when it gives up.
async fn eventually<T, F, Fut>(what: &str, mut check: F, seen: impl Fn() -> String) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + T;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out waiting for {what}; saw {}", seen());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `#12` in "Action *#12*: …".
fn action_id(text: &str) -> i64 {
    let start = text.find("*#").expect("an action id") + 2;
    text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

async fn open_incident(s: &Stack) -> i64 {
    let mut events =
        s.tb.tap(domain::names::exchange::EVENTS, &["incident.detected"])
            .await;
    let log = LogRecord::Jenkins(JenkinsLog {
        timestamp: chrono::Utc::now(),
        level: Level::Error,
        message: "Build timed out (after 30 minutes). Marking the build as aborted.".into(),
        job_name: Some("deploy-prod".into()),
        build_number: Some(41),
        details: None,
        source_id: Some(format!("es-{}", uuid::Uuid::new_v4())),
    });
    s.tb.bus
        .publish(&Envelope::new("listener", log))
        .await
        .unwrap();
    let detected = events.expect("incident.detected", T).await;
    detected.envelope.payload["incident"]["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn every_devops_command_goes_through_the_orchestrator_on_behalf_of_the_user() {
    let s = stack().await;
    let mut audit =
        s.tb.tap(domain::names::exchange::EVENTS, &["audit.#"])
            .await;
    let id = open_incident(&s).await;
    let title = "Build timed out or aborted: deploy-prod #41";
    wait_until("the incident's message in Slack", T, || async {
        s.parent_ts(title).is_some()
    })
    .await;
    let parent = s.parent_ts(title).unwrap();

    let help = s.devops("U0VIEW", "help").await;
    assert!(help.contains("/devops rollback <job> [build]"), "{help}");

    // Anyone may look.
    let list = s.devops("U0VIEW", "incidents").await;
    assert!(
        list.contains(&format!("*#{id}*")) && list.contains(title),
        "{list}"
    );
    let none = s.devops("U0VIEW", "incidents critical").await;
    assert!(none.contains("No active critical incidents"), "{none}");
    let one = s.devops("U0VIEW", &format!("incident {id}")).await;
    assert!(one.contains(title) && one.contains("open"), "{one}");
    let missing = s.devops("U0VIEW", "incident 999999").await;
    assert!(missing.starts_with("🔍 Not found"), "{missing}");

    // A viewer may not act: the policy's reason is shown.
    let viewer_ack = s.devops("U0VIEW", &format!("ack {id}")).await;
    assert!(
        viewer_ack.starts_with("⛔ Not allowed:") && viewer_ack.contains("operator"),
        "{viewer_ack}"
    );
    let viewer_restart = s.devops("U0VIEW", "restart deploy-prod 41").await;
    assert!(
        viewer_restart.starts_with("⛔ Not allowed:")
            && viewer_restart.contains("`restart`")
            && viewer_restart.contains("operator"),
        "{viewer_restart}"
    );

    // Dave operates through his Slack user group (read from usergroups.list).
    let ack = s.devops("U0DAVE", &format!("ack {id}")).await;
    assert!(
        ack.contains(&format!("Incident #{id} acknowledged by <@U0DAVE>")),
        "{ack}"
    );
    wait_until("the acknowledgement in the thread", T, || async {
        s.thread(&parent)
            .iter()
            .any(|t| t.contains("Acknowledged by <@U0DAVE>"))
    })
    .await;

    // Rollbacks need an approval: not the requester's own, not a viewer's, an approver's.
    let rollback = s.devops("U0BOB", "rollback deploy-prod").await;
    assert!(
        rollback.contains("waiting for 1 approval(s) by someone else"),
        "{rollback}"
    );
    assert!(rollback.contains("(policy `rollback`)"), "{rollback}");
    let action = action_id(&rollback);
    let own = s.devops("U0BOB", &format!("approve {action}")).await;
    assert!(
        own.starts_with("⛔ Not allowed:") && own.contains("cannot approve it"),
        "{own}"
    );
    let viewer = s.devops("U0VIEW", &format!("approve {action}")).await;
    assert!(
        viewer.starts_with("⛔ Not allowed:") && viewer.contains("approver"),
        "{viewer}"
    );
    let approved = s.devops("U0CAROL", &format!("approve {action}")).await;
    assert!(
        approved.contains(&format!("Action #{action} approved by <@U0CAROL>")),
        "{approved}"
    );

    let stop = s.devops("U0ALICE", "stop deploy-prod 41").await;
    let stop_id = action_id(&stop);
    let denied = s
        .devops("U0CAROL", &format!("deny {stop_id} not during the release"))
        .await;
    assert!(
        denied.contains(&format!("Action #{stop_id} denied")),
        "{denied}"
    );
    let again = s.devops("U0CAROL", &format!("deny {stop_id}")).await;
    assert!(again.starts_with("⚠️ Cannot do that now"), "{again}");

    let restart = s.devops("U0ALICE", "restart deploy-prod 41").await;
    assert!(
        restart.contains("restart of `deploy-prod` #41"),
        "{restart}"
    );
    let outside = s.devops("U0ALICE", "restart prod-db 3").await;
    assert!(outside.contains("not in the allow-list"), "{outside}");

    let resolved = s
        .devops("U0ALICE", &format!("resolve {id} cleared the agent"))
        .await;
    assert!(
        resolved.contains(&format!("Incident #{id} resolved by <@U0ALICE>"))
            && resolved.contains("MTTR"),
        "{resolved}"
    );
    wait_until(
        "the resolution in the thread and on the parent",
        T,
        || async {
            s.thread(&parent).iter().any(|t| t.contains("Resolved by"))
                && s.slack
                    .message(&parent)
                    .is_some_and(|m| m.contains("resolved") && m.contains("MTTR"))
        },
    )
    .await;

    // The health-monitor answers `status` once it has heard the services' heartbeats.
    wait_until("the health-monitor's status", T, || async {
        let st = s.devops("U0VIEW", "status").await;
        st.contains("services up") && st.contains("`orchestrator`") && st.contains("`chatops`")
    })
    .await;
    // Post-mortems are the orchestrator's to serve; whatever it answers is shown.
    let pm = s.devops("U0VIEW", "postmortem 1").await;
    assert!(
        pm.starts_with("📝")
            || pm.starts_with("❓")
            || pm.starts_with("🔍")
            || pm.starts_with("⏳"),
        "{pm}"
    );

    // The orchestrator audited the changes with the Slack user as the principal acted for,
    // refusals included; chatops audited each command with its Slack channel.
    let records = audit.drain(Duration::from_secs(2)).await;
    let on_behalf: Vec<&str> = records
        .iter()
        .filter_map(|m| m.envelope.payload["on_behalf_of"].as_str())
        .collect();
    for who in [
        "slack:U0DAVE",
        "slack:U0BOB",
        "slack:U0CAROL",
        "slack:U0VIEW",
    ] {
        assert!(
            on_behalf.iter().any(|p| p.eq_ignore_ascii_case(who)),
            "{who} missing from {on_behalf:?}"
        );
    }
    assert!(
        records
            .iter()
            .any(|m| m.envelope.payload["verb"] == "denied"),
        "refusals are audited"
    );
    assert!(
        records
            .iter()
            .any(|m| m.envelope.payload["verb"] == "chatops.command"
                && m.envelope.payload["details"]["slack_channel"] == "C0OPS"),
        "chatops audits the command with its Slack channel"
    );
}

#[tokio::test]
async fn a_mention_becomes_a_rollback_through_the_models_tool_call_and_approval_buttons_work() {
    let s = stack().await;
    s.ollama.tool_call(
        "request_jenkins_rollback",
        json!({"job": "deploy-prod", "build": "40"}),
    );
    s.slack.add_user_message(
        "C0OPS",
        "1700000100.000100",
        "revierte deploy-prod al build 40",
    );
    let body = json!({
        "type": "event_callback", "team_id": "T0FAKE", "event_id": "EvE2E1",
        "event": {"type": "app_mention", "user": "U0ALICE", "channel": "C0OPS",
                  "ts": "1700000100.000100", "text": "<@U0BOT> revierte deploy-prod al build 40"}
    });
    let res = s
        .signed("/slack/events", "application/json", body.to_string())
        .await;
    assert_eq!(res.status(), 200);
    let replies = eventually(
        "the bot's two replies",
        || async {
            let t = s.thread("1700000100.000100");
            (t.len() == 2).then_some(t)
        },
        || {
            format!(
                "{:?}",
                s.slack
                    .calls()
                    .iter()
                    .map(|c| (&c.method, &c.outcome, c.all_text()))
                    .collect::<Vec<_>>()
            )
        },
    )
    .await;
    assert!(
        replies[0].contains("Understood: roll back `deploy-prod` to build #40"),
        "{replies:?}"
    );
    assert!(
        replies[1].contains("waiting for 1 approval(s) by someone else"),
        "{replies:?}"
    );
    let action = action_id(&replies[1]);

    // The action.requested event becomes a card with Approve / Deny; Bob clicks Approve.
    let card = eventually(
        "the action card",
        || async {
            s.slack.ok_calls("chat.postMessage").into_iter().find(|c| {
                c.all_text().contains(&format!("Action #{action}"))
                    && c.all_text().contains("action_approve")
            })
        },
        || {
            format!(
                "{:?}",
                s.slack
                    .calls()
                    .iter()
                    .map(|c| (&c.method, &c.outcome, c.all_text()))
                    .collect::<Vec<_>>()
            )
        },
    )
    .await;
    let click = |user: &str| {
        json!({
            "type": "block_actions",
            "user": {"id": user},
            "channel": {"id": "C0OPS"},
            "response_url": s.slack.response_url(),
            "actions": [{"action_id": "action_approve", "value": action.to_string(), "type": "button"}]
        })
    };
    let texts = || -> Vec<String> {
        s.slack
            .responses()
            .into_iter()
            .filter_map(|(_, b)| b["text"].as_str().map(str::to_string))
            .collect()
    };
    // Alice asked for it: her click is refused. Then Carol's counts.
    for (user, answer) in [
        ("U0ALICE", "⛔ Not allowed:".to_string()),
        (
            "U0CAROL",
            format!("Action #{action} approved by <@U0CAROL>"),
        ),
    ] {
        let form = serde_urlencoded::to_string([("payload", click(user).to_string())]).unwrap();
        let r = s
            .signed(
                "/slack/interactions",
                "application/x-www-form-urlencoded",
                form,
            )
            .await;
        assert_eq!(r.status(), 200);
        eventually(
            &format!("the answer to {user}'s click"),
            || async { texts().iter().any(|t| t.contains(&answer)).then_some(()) },
            || format!("{:?}", texts()),
        )
        .await;
    }
    let card_ts = card.ts.unwrap();
    eventually(
        "the card to show the approval without buttons",
        || async {
            s.slack
                .message(&card_ts)
                .is_some_and(|m| {
                    m.contains("approved by <@U0CAROL>") && !m.contains("action_approve")
                })
                .then_some(())
        },
        || format!("{:?}", s.slack.message(&card_ts)),
    )
    .await;
    // The model saw the tools and only the user's words.
    let req = &s.ollama.requests()[0];
    assert_eq!(
        req["messages"].as_array().unwrap().last().unwrap()["content"],
        "revierte deploy-prod al build 40"
    );
}
