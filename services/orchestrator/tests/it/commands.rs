//! The `command.*` RPC for chatops, the rules CLI and reloads, and retention.

use crate::common::*;
use domain::Level;
use domain::commands::{ErrorCode, key};
use serde_json::json;

#[tokio::test]
async fn rpc_commands_serve_the_same_operations_as_rest() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-prod", 3))
        .await;
    o.wait_count("SELECT count(*) FROM incidents", 1).await;
    let bus = &o.tb.bus;

    let list = bus
        .request(key::INCIDENTS_LIST, json!({"status": "active"}))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(list["total"], 1);
    let id = list["items"][0]["id"].as_i64().unwrap();
    let got = bus
        .request(key::INCIDENTS_GET, json!({"id": id}))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(got["incident"]["job_name"], "deploy-prod");

    // As chatops does: the trusted service acts on behalf of Slack users, whose roles the
    // policy decides. Bodies name nobody.
    let as_ = |who: &str| bus::RequestOptions::on_behalf_of(who);
    // A payload naming who acts is refused whole, and changes nothing.
    let named = bus
        .request_with(
            key::INCIDENTS_ACK,
            json!({"id": id, "user": "U_BOSS"}),
            as_("slack:U_OPS"),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(named.code, ErrorCode::BadRequest);
    assert!(
        named.message.contains("unknown field `user`"),
        "{}",
        named.message
    );
    assert_eq!(
        o.count("SELECT count(*) FROM incidents WHERE status = 'acknowledged'")
            .await,
        0
    );
    let acked = bus
        .request_with(key::INCIDENTS_ACK, json!({"id": id}), as_("slack:U_OPS"))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(
        acked["acknowledged_by"], "slack:U_OPS",
        "the actor is the user the sender acts for"
    );
    let audit = events.expect("audit.incident.acknowledge", T).await;
    let p = &audit.envelope.payload;
    assert_eq!(
        p["channel"], "slack",
        "chatops requests are audited as slack"
    );
    assert_eq!(p["actor"], format!("amqp:{}", o.tb.settings.user()));
    assert_eq!(p["on_behalf_of"], "slack:U_OPS");
    assert_eq!(p["clause"], "role:operator");

    // A Slack user with no role beyond viewer is refused, with the reason.
    let err = bus
        .request_with(key::INCIDENTS_ACK, json!({"id": id}), as_("slack:U_NEW"))
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(
        err.message.contains("needs the operator role"),
        "{}",
        err.message
    );
    assert_eq!(err.details.unwrap()["missing_role"], "operator");

    let action = bus
        .request_with(
            key::ACTIONS_REQUEST,
            json!({"action_type": "rollback", "target_job": "deploy-prod", "target_build": 3}),
            as_("slack:U_OPS"),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(action["status"], "pending_approval");
    assert_eq!(action["requested_by"], "slack:U_OPS");
    assert_eq!(
        action["requested_via"],
        format!("amqp:{}", o.tb.settings.user())
    );
    assert_eq!(
        action["approvals_required"], 2,
        "production rollbacks need two approvers"
    );
    let aid = action["id"].as_i64().unwrap();
    // The requester holds no approver role; an operator+approver group member who requested
    // could not approve either (see identity tests).
    let err = bus
        .request_with(key::ACTIONS_APPROVE, json!({"id": aid}), as_("slack:U_OPS"))
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    for approver in ["slack:U_APP1", "slack:U_APP2"] {
        bus.request_with(key::ACTIONS_APPROVE, json!({"id": aid}), as_(approver))
            .await
            .unwrap()
            .into_result()
            .unwrap();
    }
    let got = bus
        .request_with(key::ACTIONS_GET, json!({"id": aid}), as_("slack:U_NEW"))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(got["status"], "approved");
    assert_eq!(got["approved_by"], "slack:U_APP2");
    let denied = bus
        .request_with(
            key::ACTIONS_DENY,
            json!({"id": aid, "reason": "changed my mind"}),
            as_("slack:U_APP1"),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(denied["status"], "rejected");

    let stats = bus
        .request(key::STATS_GET, json!({}))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(stats["by_status"]["acknowledged"], 1);
    let logs = bus
        .request(key::LOGS_SEARCH, json!({"job": "deploy-prod"}))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(logs["items"].as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(
        (logs["total"].as_i64(), logs["limit"].as_i64()),
        (Some(1), Some(100))
    );
    let resolved = bus
        .request_with(
            key::INCIDENTS_RESOLVE,
            json!({"job_name": "deploy-prod"}),
            bus::RequestOptions::on_behalf_of("slack:U_OPS"),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(resolved["resolved"].as_array().unwrap().len(), 1);

    let missing = bus
        .request(key::INCIDENTS_GET, json!({"id": 424242}))
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
    let bad = bus
        .request(key::INCIDENTS_GET, json!({"id": "seven"}))
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::BadRequest);
    assert!(
        bad.message.contains("command.incidents.get"),
        "{}",
        bad.message
    );
    let unknown = bus
        .request("command.incidents.explode", json!({}))
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::BadRequest);
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_orchestrator")
}

fn run(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(bin())
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const DEFAULT_RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../crates/rules/default.toml"
);

#[test]
fn rules_check_and_test_on_the_shipped_rules() {
    let (ok, out) = run(&["rules", "check", DEFAULT_RULES]);
    assert!(ok, "{out}");
    assert!(
        out.contains("jenkins_build_failure") && out.contains("api_5xx_burst"),
        "{out}"
    );

    let dir = std::env::temp_dir().join(format!("rb-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log.json");
    std::fs::write(&log, r#"{"timestamp": "2026-11-22T10:00:00Z", "level": "ERROR", "message": "BUILD FAILED", "job_name": "deploy-prod", "build_number": 7}"#).unwrap();
    let (ok, out) = run(&[
        "rules",
        "test",
        DEFAULT_RULES,
        "--log",
        log.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.contains(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("jenkins_build_failure").starts_with("MATCH"), "{out}");
    assert!(line("jenkins_out_of_resources").starts_with("no"), "{out}");
    assert!(
        line("api_5xx_burst").contains("api"),
        "says why an API rule does not match: {out}"
    );

    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "[[rule]]\nname = \"x\"\nsource = \"jenkins\"\nseverity = \"high\"\ntitle = \"t\"\n[rule.when]\nmessage_regex = \"(unclosed\"\n").unwrap();
    let (ok, out) = run(&["rules", "check", broken.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains("`x`") && out.to_lowercase().contains("regex"),
        "{out}"
    );
}

#[tokio::test]
async fn a_failed_reload_keeps_the_rules_in_use() {
    let dir = std::env::temp_dir().join(format!("rb-reload-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.toml");
    std::fs::write(&path, std::fs::read_to_string(DEFAULT_RULES).unwrap()).unwrap();
    let p = path.clone();
    let o = Orch::start_with(move |s| s.own.rules.path = Some(p)).await;
    let mut events = o.events().await;
    let before = o.services.rules.current().len();
    std::fs::write(&path, "[[rule]]\nname = \"only\"\n").unwrap();
    // Reloading is for admins.
    let resp = o
        .as_("otto", reqwest::Method::POST, "/api/rules/reload")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = o
        .as_("ada", reqwest::Method::POST, "/api/rules/reload")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let b: serde_json::Value = resp.json().await.unwrap();
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("rules not reloaded"),
        "{b}"
    );
    assert_eq!(o.services.rules.current().len(), before);
    // Detection still works with the old rules.
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-prod", 1))
        .await;
    o.wait_count("SELECT count(*) FROM incidents", 1).await;

    // A good file replaces them.
    std::fs::write(&path, "[[rule]]\nname = \"any_error\"\nsource = \"jenkins\"\nseverity = \"low\"\ntitle = \"error\"\n[rule.when]\nlevels = [\"error\"]\n").unwrap();
    let resp = o
        .as_("ada", reqwest::Method::POST, "/api/rules/reload")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let b: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (b["rules"].as_u64(), b["replicas"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(o.services.rules.current().len(), 1);
    let audit = events.expect("audit.rules.reload", T).await;
    assert_eq!(audit.envelope.payload["actor"], "ada");
    assert_eq!(audit.envelope.payload["details"]["rules"], 1);
}

#[tokio::test]
async fn retention_deletes_old_logs_but_keeps_incident_evidence() {
    let o = Orch::start().await;
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-prod", 1))
        .await;
    o.publish(jenkins(Level::Info, "noise", "deploy-prod", 1))
        .await;
    o.publish(api(200, "/x", 1.0)).await;
    o.wait_count(
        "SELECT (SELECT count(*) FROM logs_jenkins) + (SELECT count(*) FROM logs_api)",
        3,
    )
    .await;
    o.wait_count("SELECT count(*) FROM incidents", 1).await;
    sqlx::query("UPDATE logs_jenkins SET timestamp = now() - interval '90 days'")
        .execute(o.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE logs_api SET timestamp = now() - interval '90 days'")
        .execute(o.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO detection_hits (rule, group_key, seen_at) VALUES ('r', 'g', now() - interval '3 days')").execute(o.pool()).await.unwrap();
    o.services.retention.sweep().await.unwrap();
    assert_eq!(
        o.count("SELECT count(*) FROM logs_jenkins").await,
        1,
        "the incident's log stays"
    );
    assert_eq!(
        o.count("SELECT count(*) FROM logs_jenkins WHERE message = 'BUILD FAILED'")
            .await,
        1
    );
    assert_eq!(o.count("SELECT count(*) FROM logs_api").await, 0);
    assert_eq!(o.count("SELECT count(*) FROM detection_hits").await, 0);
}

#[tokio::test]
async fn a_reload_reaches_every_replica_and_says_how_many_confirmed() {
    let dir = std::env::temp_dir().join(format!("rb-reload2-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.toml");
    std::fs::write(&path, std::fs::read_to_string(DEFAULT_RULES).unwrap()).unwrap();
    let p = path.clone();
    let o = Orch::start_with(move |s| s.own.rules.path = Some(p)).await;
    let second = orchestrator::Application::build(o.settings.clone())
        .await
        .unwrap();
    let second_services = second.services().clone();
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(second.run_until_stopped(cancel.clone()));
    std::fs::write(&path, "[[rule]]\nname = \"any_error\"\nsource = \"jenkins\"\nseverity = \"low\"\ntitle = \"error\"\n[rule.when]\nlevels = [\"error\"]\n").unwrap();
    // The listeners subscribe as the replicas start; give them a moment.
    testkit::wait_until("both replicas reload", T, || async {
        let resp = o
            .as_("ada", reqwest::Method::POST, "/api/rules/reload")
            .send()
            .await
            .unwrap();
        let b: serde_json::Value = resp.json().await.unwrap();
        b["replicas"] == 2
    })
    .await;
    assert_eq!(o.services.rules.current().len(), 1);
    assert_eq!(
        second_services.rules.current().len(),
        1,
        "the other replica reloaded too"
    );
    cancel.cancel();
}
