//! Runs a command as the chatops service on behalf of a Slack user: `command.*` requests on
//! the bus (the orchestrator's policy decides what that user may do), answers in Block Kit.

use std::time::Duration;

use bus::{Bus, BusError, RequestOptions};
use domain::commands::{CommandError, ErrorCode, key};
use domain::events::{AuditOutcome, AuditRecord, Event};
use domain::{Channel, Envelope};
use serde_json::{Value, json};

use super::grammar::{Command, USAGE};
use crate::slack::Content;
use crate::slack::text::{clip, escape, who};

#[derive(Clone)]
pub struct Executor {
    pub bus: Bus,
    pub timeout: Duration,
    /// `command.postmortems.get` may write the report first.
    pub postmortem_timeout: Duration,
    /// The caller's Slack user groups go with each request (the policy maps them to roles).
    pub groups: crate::slack::Groups,
}

/// Who asks, and from where.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    pub channel: String,
    /// `slash`, `mention`, `button`.
    pub source: &'static str,
}

impl Caller {
    pub fn principal(&self) -> String {
        format!("slack:{}", self.user)
    }
}

impl Executor {
    pub async fn options(&self, caller: &Caller) -> RequestOptions {
        RequestOptions::on_behalf_of(caller.principal())
            .groups(self.groups.of(&caller.user).await)
            .timeout(self.timeout)
    }

    async fn ask(&self, key: &str, payload: Value, caller: &Caller) -> Result<Value, Failure> {
        let mut opts = self.options(caller).await;
        if key == key::POSTMORTEMS_GET {
            opts = opts.timeout(self.postmortem_timeout);
        }
        match self.bus.request_with(key, payload, opts).await {
            Ok(reply) => reply.into_result().map_err(Failure::Refused),
            Err(BusError::RpcTimeout { .. }) => Err(Failure::Timeout(key.to_string())),
            Err(e) => Err(Failure::Bus(e.to_string())),
        }
    }

    /// Runs `cmd` and says how it went.
    pub async fn run(&self, cmd: &Command, caller: &Caller) -> Content {
        self.audit(cmd, caller).await;
        let user = caller.principal();
        let actor = |id: i64| json!({"id": id, "user": user, "channel": "slack"});
        let request = |action_type: &str, job: &str, build: Option<i64>| {
            json!({
                "action_type": action_type,
                "target_job": job,
                "target_build": build,
                "requested_by": user,
                "channel": "slack",
                "reason": format!("requested from Slack by {user}"),
            })
        };
        let result = match cmd {
            Command::Help => return help(),
            Command::Incidents { severity } => {
                let mut filter = json!({"status": "active", "limit": 20});
                if let Some(s) = severity {
                    filter["severity"] = json!(s.as_str());
                }
                self.ask(key::INCIDENTS_LIST, filter, caller)
                    .await
                    .map(|d| incidents(&d, *severity))
            }
            Command::Incident { id } => self
                .ask(key::INCIDENTS_GET, json!({"id": id}), caller)
                .await
                .map(|d| incident(&d)),
            Command::Ack { id } => {
                self.ask(key::INCIDENTS_ACK, actor(*id), caller)
                    .await
                    .map(|_| {
                        Content::text(format!("👀 Incident #{id} acknowledged by {}", who(&user)))
                    })
            }
            Command::Resolve { id, note } => {
                let mut body = actor(*id);
                body["note"] = json!(note);
                self.ask(key::INCIDENTS_RESOLVE, body, caller)
                    .await
                    .map(|d| {
                        let mttr = d
                            .get("mttr_seconds")
                            .and_then(Value::as_f64)
                            .map(|m| format!(" · MTTR {}", crate::notify::format::duration(m)))
                            .unwrap_or_default();
                        Content::text(format!(
                            "✅ Incident #{id} resolved by {}{mttr}",
                            who(&user)
                        ))
                    })
            }
            Command::Restart { job, build } => self
                .ask(
                    key::ACTIONS_REQUEST,
                    request("restart", job, Some(*build)),
                    caller,
                )
                .await
                .map(|d| action(&d)),
            Command::Rollback { job, build } => self
                .ask(
                    key::ACTIONS_REQUEST,
                    request("rollback", job, *build),
                    caller,
                )
                .await
                .map(|d| action(&d)),
            Command::Stop { job, build } => self
                .ask(
                    key::ACTIONS_REQUEST,
                    request("stop", job, Some(*build)),
                    caller,
                )
                .await
                .map(|d| action(&d)),
            Command::Approve { action: id } => self
                .ask(key::ACTIONS_APPROVE, actor(*id), caller)
                .await
                .map(|d| {
                    // With several approvals required, one is recorded and the action waits.
                    if s(&d, "status") == "pending_approval" {
                        Content::text(format!(
                            "👍 Your approval of action #{id} is recorded; it needs {} approval(s) in all before it runs.",
                            d.get("approvals_required").and_then(Value::as_i64).unwrap_or(1)
                        ))
                    } else {
                        Content::text(format!("👍 Action #{id} approved by {}", who(&user)))
                    }
                }),
            Command::Deny { action: id, reason } => {
                let mut body = actor(*id);
                body["reason"] = json!(reason);
                self.ask(key::ACTIONS_DENY, body, caller)
                    .await
                    .map(|_| Content::text(format!("⛔ Action #{id} denied by {}", who(&user))))
            }
            Command::Status => self
                .ask(key::HEALTH_STATUS, json!({}), caller)
                .await
                .map(|d| status(&d)),
            Command::Postmortem { incident } => self
                .ask(
                    key::POSTMORTEMS_GET,
                    json!({"incident_id": incident}),
                    caller,
                )
                .await
                .map(|d| super::postmortem::render(&d)),
        };
        result.unwrap_or_else(|f| f.explain(cmd))
    }

    /// Records who asked what from which Slack channel (`audit.chatops.command`); the
    /// orchestrator audits what it then does, with the same on-behalf-of principal.
    async fn audit(&self, cmd: &Command, caller: &Caller) {
        let rec = AuditRecord {
            verb: "chatops.command".into(),
            actor: crate::settings::SERVICE.into(),
            on_behalf_of: Some(caller.principal()),
            channel: Channel::Slack,
            outcome: AuditOutcome::Allowed,
            clause: None,
            target_type: "command".into(),
            target_id: Some(cmd.name().into()),
            details: Some(json!({
                "slack_channel": caller.channel,
                "source": caller.source,
                "understood": cmd.describe(),
            })),
            at: chrono::Utc::now(),
        };
        let env = Envelope::new(crate::settings::SERVICE, Event::Audit(rec));
        if let Err(e) = self.bus.publish(&env).await {
            tracing::warn!(error = %e, "audit record of a slack command not published");
        }
    }
}

/// Why a command did not go through.
enum Failure {
    Refused(CommandError),
    Timeout(String),
    Bus(String),
}

impl Failure {
    fn explain(self, cmd: &Command) -> Content {
        let text = match self {
            Failure::Timeout(k) if k == key::HEALTH_STATUS => {
                "⏱️ The health monitor is not answering, so service health is unknown right now. \
                 It may be down or restarting; try `/devops status` again in a minute."
                    .to_string()
            }
            Failure::Timeout(k) if k == key::POSTMORTEMS_GET => {
                "⏱️ The post-mortem was not ready in time (writing one can take a minute); \
                 try `/devops postmortem` again shortly."
                    .to_string()
            }
            Failure::Timeout(_) => format!(
                "⏱️ The orchestrator did not answer in time, so I cannot tell whether “{}” happened. \
                 Check with `/devops incidents` before trying again.",
                cmd.describe()
            ),
            Failure::Bus(e) => format!(
                "⚠️ Could not reach the message bus ({}); nothing was done.",
                escape(&clip(&e, 200))
            ),
            Failure::Refused(e) => {
                let msg = escape(&clip(&e.message, 500));
                match e.code {
                    ErrorCode::Forbidden | ErrorCode::Unauthorized => {
                        format!("⛔ Not allowed: {msg}")
                    }
                    ErrorCode::NotFound => format!("🔍 Not found: {msg}"),
                    ErrorCode::Conflict => format!("⚠️ Cannot do that now: {msg}"),
                    ErrorCode::BadRequest | ErrorCode::Unprocessable => {
                        format!(
                            "❓ {msg}\nType `/devops help` for the commands and their arguments."
                        )
                    }
                    ErrorCode::Unavailable => format!("⏳ Not available right now: {msg}"),
                    ErrorCode::Internal => format!("💥 The server failed: {msg}"),
                }
            }
        };
        Content::text(text)
    }
}

pub fn help() -> Content {
    Content::text(format!("*What I can do*\n{USAGE}"))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn severity_emoji(s: &str) -> &'static str {
    s.parse::<domain::Severity>()
        .map(crate::notify::format::severity_emoji)
        .unwrap_or("⚪")
}

fn incident_line(i: &Value) -> String {
    let job = match (
        i.get("job_name").and_then(Value::as_str),
        i.get("build_number").and_then(Value::as_i64),
    ) {
        (Some(j), Some(b)) => format!(" · `{}` #{b}", escape(j)),
        (Some(j), None) => format!(" · `{}`", escape(j)),
        _ => String::new(),
    };
    format!(
        "{} *#{}* [{}] {} — {}{job}",
        severity_emoji(s(i, "severity")),
        i.get("id").and_then(Value::as_i64).unwrap_or_default(),
        escape(s(i, "severity")),
        escape(&clip(s(i, "title"), 150)),
        escape(s(i, "status")),
    )
}

fn incidents(d: &Value, severity: Option<domain::Severity>) -> Content {
    let items = d
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = d
        .get("total")
        .and_then(Value::as_i64)
        .unwrap_or(items.len() as i64);
    let what = severity.map(|s| format!("{s} ")).unwrap_or_default();
    if items.is_empty() {
        return Content::text(format!("🎉 No active {what}incidents."));
    }
    let mut lines: Vec<String> = items.iter().map(incident_line).collect();
    if total > items.len() as i64 {
        lines.push(format!("…and {} more", total - items.len() as i64));
    }
    Content::text(format!(
        "*{total} active {what}incident(s)*\n{}",
        lines.join("\n")
    ))
}

/// `command.incidents.get` answers `{incident, logs, actions, timeline}`.
fn incident(d: &Value) -> Content {
    let i = d.get("incident").unwrap_or(d);
    let mut text = incident_line(i);
    text.push_str(&format!(
        "\nDetected {} · {} occurrence(s)",
        s(i, "detected_at"),
        i.get("occurrences").and_then(Value::as_i64).unwrap_or(1)
    ));
    if let Some(b) = i.get("acknowledged_by").and_then(Value::as_str) {
        text.push_str(&format!("\nAcknowledged by {}", who(b)));
    }
    if let Some(b) = i.get("resolved_by").and_then(Value::as_str) {
        let mttr = i
            .get("mttr_seconds")
            .and_then(Value::as_f64)
            .map(|m| format!(" · MTTR {}", crate::notify::format::duration(m)))
            .unwrap_or_default();
        text.push_str(&format!("\nResolved by {}{mttr}", who(b)));
    }
    let actions: Vec<String> = d
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(10)
        .map(|a| {
            format!(
                "• action #{} {} `{}` — {}",
                a.get("id").and_then(Value::as_i64).unwrap_or_default(),
                escape(s(a, "action_type")),
                escape(s(a, "target_job")),
                escape(&s(a, "status").replace('_', " "))
            )
        })
        .collect();
    if !actions.is_empty() {
        text.push_str(&format!("\n*Actions:*\n{}", actions.join("\n")));
    }
    if let Some(url) = i
        .get("runbook_url")
        .and_then(Value::as_str)
        .and_then(crate::slack::text::safe_url)
    {
        text.push_str(&format!("\n<{url}|Runbook>"));
    }
    Content::text(text)
}

fn action(a: &Value) -> Content {
    let id = a.get("id").and_then(Value::as_i64).unwrap_or_default();
    let status = s(a, "status");
    let build = a
        .get("target_build")
        .and_then(Value::as_i64)
        .map(|b| format!(" #{b}"))
        .unwrap_or_default();
    let next = match status {
        "pending_approval" => {
            let n = a
                .get("approvals_required")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                .max(1);
            format!(" — waiting for {n} approval(s) by someone else (`/devops approve {id}`)")
        }
        "rejected" => format!(" — {}", escape(s(a, "reason"))),
        _ => String::new(),
    };
    let clause = a
        .get("policy_clause")
        .and_then(Value::as_str)
        .map(|c| format!(" (policy `{}`)", escape(c)))
        .unwrap_or_default();
    Content::text(format!(
        "🔧 Action *#{id}*: {} of `{}`{build} is {}{next}{clause}",
        escape(s(a, "action_type")),
        escape(s(a, "target_job")),
        escape(&status.replace('_', " ")),
    ))
}

fn status(d: &Value) -> Content {
    let healthy = d
        .get("healthy_services")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let total = d.get("total_services").and_then(Value::as_i64).unwrap_or(0);
    let mut lines = vec![format!("*{healthy}/{total} services healthy*")];
    for svc in d
        .get("services")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let st = s(svc, "status");
        let emoji = match st {
            "up" => "🟢",
            "degraded" => "🟡",
            _ => "🔴",
        };
        let mut line = format!("{emoji} `{}` {}", escape(s(svc, "service")), escape(st));
        if let (Some(up), Some(n)) = (
            svc.get("instances_up").and_then(Value::as_i64),
            svc.get("instances").and_then(Value::as_i64),
        ) {
            line.push_str(&format!(" · {up}/{n} instances"));
        }
        if let Some(p) = svc.get("uptime_percent_24h").and_then(Value::as_f64) {
            line.push_str(&format!(" · {p:.1}% 24h"));
        }
        let degraded: Vec<String> = svc
            .get("degraded")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(escape)
            .collect();
        if !degraded.is_empty() {
            line.push_str(&format!(" · degraded: {}", degraded.join(", ")));
        }
        lines.push(line);
    }
    if let Some(t) = d.get("checked_at").and_then(Value::as_str) {
        lines.push(format!("_checked {}_", escape(t)));
    }
    Content::text(lines.join("\n"))
}
