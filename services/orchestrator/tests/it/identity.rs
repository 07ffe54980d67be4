//! Identity and policy at every door: the token (or the broker-checked RabbitMQ user) is
//! the actor, bodies cannot lower the bar, approvals are by distinct people.

use crate::common::*;
use crate::rest_common::*;
use domain::commands::{ErrorCode, key};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn me_says_who_the_token_is() {
    let o = Orch::start().await;
    let (s, me) = send(&o, "olga", Method::GET, "/api/me", None).await;
    assert_eq!(s, 200);
    assert_eq!(me["principal"], "olga");
    assert_eq!(me["roles"], json!(["operator", "approver"]));
    assert_eq!(me["development_token"], false);
    let (_, dev) = get_json(&o, "/api/me").await;
    assert_eq!(dev["roles"], json!(["admin"]));
    assert_eq!(dev["development_token"], true);
    assert!(dev["principal"].as_str().unwrap().starts_with("dev-"));
    // A token with no role at all may not even read.
    let (s, b) = send(&o, "nobody", Method::GET, "/api/incidents", None).await;
    assert_eq!((s, b["missing_role"].as_str()), (403, Some("viewer")));
}

#[tokio::test]
async fn a_viewer_cannot_request_and_the_refusal_is_audited() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let (s, b) = send(
        &o,
        "vera",
        Method::POST,
        "/api/actions",
        Some(json!({"action_type": "restart", "target_job": "deploy-prod", "target_build": 3})),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["clause"], "restart");
    assert_eq!(b["missing_role"], "operator");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("policy clause `restart`"),
        "{b}"
    );
    let audit = events.expect("audit.denied", T).await;
    let p = &audit.envelope.payload;
    assert_eq!(
        (p["actor"].as_str(), p["outcome"].as_str()),
        (Some("vera"), Some("denied"))
    );
    assert_eq!(p["clause"], "restart");
    assert_eq!(p["details"]["attempted"], "action.request");
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, 0);
}

#[tokio::test]
async fn a_two_person_action_runs_only_after_two_different_approvers() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let (_, a) = send(
        &o,
        "otto",
        Method::POST,
        "/api/actions",
        Some(json!({"action_type": "stop", "target_job": "nightly", "target_build": 9})),
    )
    .await;
    let id = a["id"].as_i64().unwrap();
    let approve = format!("/api/actions/{id}/approve");
    // Not the requester, not a viewer, not the same approver twice (however it is spelled).
    assert_eq!(
        send(&o, "otto", Method::POST, &approve, Some(json!({})))
            .await
            .0,
        403
    );
    assert_eq!(
        send(&o, "vera", Method::POST, &approve, Some(json!({})))
            .await
            .0,
        403
    );
    let (s, r) = send(&o, "anna", Method::POST, &approve, Some(json!({}))).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("pending_approval")));
    // A body cannot pass the approval off as someone else's.
    let (s, _) = send(
        &o,
        "anna",
        Method::POST,
        &approve,
        Some(json!({"user": "someone-else"})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, b) = send(&o, "anna", Method::POST, &approve, Some(json!({}))).await;
    assert_eq!(
        (s, b["clause"].as_str()),
        (403, Some("approvers-distinct")),
        "{b}"
    );
    let (s, r) = send(&o, "abel", Method::POST, &approve, Some(json!({}))).await;
    assert_eq!((s, r["status"].as_str()), (200, Some("approved")));
    // Both approvals, who and when, not only the last approver.
    let by: Vec<&str> = r["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["anna", "abel"], "{r}");
    assert_eq!(r["approvals"][0]["channel"], "api");
    let approved = events.expect("action.approved", T).await;
    assert_eq!(approved.envelope.payload["action"]["id"], id);
    let later = events.drain(std::time::Duration::from_millis(300)).await;
    assert!(
        later.iter().all(|m| m.envelope.kind != "action.approved"),
        "approved once"
    );
    assert_eq!(
        o.count(&format!(
            "SELECT count(*) FROM action_approvals WHERE action_id = {id}"
        ))
        .await,
        2
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let req = json!({"action_type": "restart", "target_job": "nightly", "target_build": 4});
    let post = |key: &'static str, b: &Value| {
        o.as_("otto", Method::POST, "/api/actions")
            .header("Idempotency-Key", key)
            .json(b)
            .send()
    };
    let first = post("k-1", &req).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = post("k-1", &req).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    let (s, b) = body(
        post(
            "k-1",
            &json!({"action_type": "restart", "target_job": "other", "target_build": 4}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert!(b["message"].as_str().unwrap().contains("Idempotency-Key"));
    // Another principal's key is another key.
    let other = o
        .as_("olga", Method::POST, "/api/actions")
        .header("Idempotency-Key", "k-1")
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
    let (s, b) = body(
        o.as_("otto", Method::POST, "/api/actions")
            .header("Idempotency-Key", "")
            .json(&req)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["field"].as_str()), (400, Some("Idempotency-Key")));
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, 2);
    let requested = events
        .drain(std::time::Duration::from_millis(800))
        .await
        .into_iter()
        .filter(|m| m.envelope.kind == "action.requested")
        .count();
    assert_eq!(requested, 2, "no event for a replay");
}

#[tokio::test]
async fn the_same_command_delivered_twice_creates_one_action() {
    let o = Orch::start().await;
    let id = uuid::Uuid::now_v7();
    let opts = || bus::RequestOptions::on_behalf_of("slack:U_OPS").id(id);
    let req = json!({"action_type": "restart", "target_job": "nightly", "target_build": 7});
    let a =
        o.tb.bus
            .request_with(key::ACTIONS_REQUEST, req.clone(), opts())
            .await
            .unwrap()
            .into_result()
            .unwrap();
    let b =
        o.tb.bus
            .request_with(key::ACTIONS_REQUEST, req, opts())
            .await
            .unwrap()
            .into_result()
            .unwrap();
    assert_eq!(a["id"], b["id"]);
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, 1);
    assert_eq!(
        o.count("SELECT count(*) FROM outbox_events WHERE event_type = 'action.requested'")
            .await,
        1
    );
}

#[tokio::test]
async fn commands_from_an_untrusted_rabbitmq_user_are_refused() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let user = testkit::amqp::TempUser::create("rb-untrusted");
    let settings = bus::BusSettings {
        url: user.url(),
        ..o.tb.settings.clone()
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let stranger = bus::Bus::connect(&settings, "stranger", &cancel)
        .await
        .unwrap();
    let err = stranger
        .request_with(
            key::ACTIONS_REQUEST,
            json!({"action_type": "restart", "target_job": "nightly", "target_build": 7}),
            bus::RequestOptions::on_behalf_of("slack:U_OPS"),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(
        err.message
            .contains(&format!("RabbitMQ user `{}` is not trusted", user.name)),
        "{}",
        err.message
    );
    let audit = events.expect("audit.denied", T).await;
    assert_eq!(
        audit.envelope.payload["actor"],
        format!("amqp:{}", user.name)
    );
    assert_eq!(audit.envelope.payload["clause"], "bus:trusted-users");
    assert_eq!(o.count("SELECT count(*) FROM action_executions").await, 0);

    // Listed as trusted, the same user may act on behalf of a Slack user.
    let trusted_name = user.name.clone();
    let me = o.tb.settings.user();
    let o2 = Orch::start_with(move |s| s.own.commands.trusted_users = vec![me, trusted_name]).await;
    let stranger2 = bus::Bus::connect(
        &bus::BusSettings {
            url: user.url(),
            ..o2.tb.settings.clone()
        },
        "stranger",
        &cancel,
    )
    .await
    .unwrap();
    let mut events2 = o2.events().await;
    let ok = stranger2
        .request_with(
            key::ACTIONS_REQUEST,
            json!({"action_type": "restart", "target_job": "nightly", "target_build": 7}),
            bus::RequestOptions::on_behalf_of("slack:U_OPS"),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(ok["requested_by"], "slack:U_OPS");
    let audit = events2.expect("audit.action.request", T).await;
    assert_eq!(
        audit.envelope.payload["actor"],
        format!("amqp:{}", user.name)
    );
    assert_eq!(audit.envelope.payload["on_behalf_of"], "slack:U_OPS");
    assert_eq!(audit.envelope.payload["clause"], "restart");
    // Delegation is narrow: no acting as a rule or as an arbitrary name.
    for bad in ["rule:jenkins_build_failure", "otto", "slack:U 1"] {
        let err = stranger2
            .request_with(
                key::INCIDENTS_LIST,
                json!({}),
                bus::RequestOptions::on_behalf_of(bad),
            )
            .await
            .unwrap()
            .into_result()
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Forbidden, "{bad}");
    }
    // Groups sent by a trusted service give roles: on-call members are operators.
    let req = json!({"action_type": "restart", "target_job": "nightly", "target_build": 8});
    let err = stranger2
        .request_with(
            key::ACTIONS_REQUEST,
            req.clone(),
            bus::RequestOptions::on_behalf_of("slack:U_ANY"),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    let ok = stranger2
        .request_with(
            key::ACTIONS_REQUEST,
            req,
            bus::RequestOptions::on_behalf_of("slack:U_ANY").groups(["slack-group:S_ONCALL"]),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(ok["requested_by"], "slack:U_ANY");
    cancel.cancel();
}

fn cli(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(args)
        .env_remove("RUNBOOKS__POLICY__PATH")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn policy_check_and_explain_name_the_deciding_clause() {
    let policy = test_policy_file();
    let file = policy.to_str().unwrap();
    let (code, out) = cli(&["policy", "check", file]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("clause stop: stop on * by operator via api,slack, 2 approval(s)"),
        "{out}"
    );
    let (code, out) = cli(&[
        "policy",
        "explain",
        "--file",
        file,
        "--principal",
        "slack:U_OPS",
        "--action",
        "rollback",
        "--job",
        "deploy-prod",
        "--channel",
        "slack",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ALLOW by clause `rollback-production`: 2 distinct approver(s)"),
        "{out}"
    );
    let (code, out) = cli(&[
        "policy",
        "explain",
        "--file",
        file,
        "--principal",
        "slack:U_NEW",
        "--action",
        "restart",
        "--job",
        "x",
        "--channel",
        "slack",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DENY by clause `restart`"), "{out}");
    let (code, out) = cli(&[
        "policy",
        "explain",
        "--principal",
        "ana",
        "--role",
        "operator",
        "--action",
        "stop",
        "--job",
        "x",
        "--channel",
        "mcp",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("DENY by default deny"),
        "agents cannot stop builds: {out}"
    );
    let broken = policy.with_file_name("broken.toml");
    std::fs::write(
        &broken,
        "[[actions]]\nname = \"x\"\nactions = [\"stop\"]\nroles = [\"boss\"]\n",
    )
    .unwrap();
    let (code, out) = cli(&["policy", "check", broken.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        out.contains("actions[0] (x): roles: unknown role `boss`"),
        "{out}"
    );
}

#[tokio::test]
async fn a_token_made_by_the_cli_authenticates_with_its_roles() {
    let (code, out) = cli(&[
        "token", "new", "carla", "--role", "operator", "--role", "approver",
    ]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let token = lines
        .iter()
        .find(|l| l.starts_with("rbk_"))
        .unwrap()
        .to_string();
    let line = lines
        .iter()
        .find(|l| l.starts_with("carla:"))
        .unwrap()
        .to_string();
    assert!(!line.contains(&token));
    let o = Orch::start_with(move |s| s.own.api.tokens.push(line.into())).await;
    let me: Value = o
        .http
        .get(format!("{}/api/me", o.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["principal"], "carla");
    assert_eq!(me["roles"], json!(["operator", "approver"]));
    let (code, out) = cli(&["token", "new", "carla"]);
    assert_ne!(code, 0, "a role is required: {out}");
}
