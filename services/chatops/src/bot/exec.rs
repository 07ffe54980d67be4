//! Runs a command as the chatops service on behalf of a Slack user: typed `command.*`
//! requests on the bus (the orchestrator's policy decides what that user may do; no request
//! names the user, the on-behalf-of header does), answers in Block Kit.

use std::time::Duration;

use bus::{Bus, BusError, RequestOptions};
use domain::commands::{
    AcknowledgeIncident, Action, ActionRequest, ApproveAction, Command as Request, CommandError,
    DenyAction, ErrorCode, GetIncident, GetPostmortem, IncidentDetail, IncidentFilter,
    IncidentPage, ResolveIncident, ResolveIncidents, Resolved, key,
};
use domain::events::{AuditOutcome, AuditRecord, Event};
use domain::health::{HealthStatusReport, HealthStatusRequest};
use domain::{ActionType, Channel, Envelope};
use serde_json::json;

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

    /// Sends `req` for `caller` and reads the typed reply.
    pub async fn ask<C: Request>(&self, req: &C, caller: &Caller) -> Result<C::Reply, Failure> {
        let mut opts = self.options(caller).await;
        if C::KEY == key::POSTMORTEMS_GET {
            opts = opts.timeout(self.postmortem_timeout);
        }
        let payload = serde_json::to_value(req).map_err(|e| Failure::Bus(e.to_string()))?;
        match self.bus.request_with(C::KEY, payload, opts).await {
            Ok(reply) => {
                let data = reply.into_result().map_err(Failure::Refused)?;
                serde_json::from_value(data).map_err(|e| Failure::Unreadable(e.to_string()))
            }
            Err(BusError::RpcTimeout { .. }) => Err(Failure::Timeout(C::KEY.to_string())),
            Err(e) => Err(Failure::Bus(e.to_string())),
        }
    }

    /// Runs `cmd` and says how it went.
    pub async fn run(&self, cmd: &Command, caller: &Caller) -> Content {
        self.audit(cmd, caller).await;
        let user = caller.principal();
        let request = |action_type: ActionType, job: &str, build: Option<i64>| ActionRequest {
            target_build: build,
            reason: Some(format!("requested from Slack by {user}")),
            ..ActionRequest::new(action_type, job)
        };
        let result = match cmd {
            Command::Help => return help(),
            Command::Incidents { severity } => {
                let filter = IncidentFilter {
                    status: Some("active".into()),
                    severity: severity.map(|s| s.as_str().to_string()),
                    limit: Some(20),
                    ..IncidentFilter::default()
                };
                self.ask(&filter, caller)
                    .await
                    .map(|d| incidents(&d, *severity))
            }
            Command::Incident { id } => self
                .ask(&GetIncident { id: *id }, caller)
                .await
                .map(|d| incident(&d)),
            Command::Ack { id } => self
                .ask(&AcknowledgeIncident { id: *id }, caller)
                .await
                .map(|_| Content::text(format!("👀 Incident #{id} acknowledged by {}", who(&user)))),
            Command::Resolve { id, note } => {
                let req = ResolveIncidents::One(ResolveIncident {
                    id: *id,
                    note: note.clone(),
                });
                self.ask(&req, caller).await.map(|d| {
                    let mttr = match d {
                        Resolved::One(i) => i.mttr_seconds,
                        Resolved::Job(_) => None,
                    }
                    .map(|m| format!(" · MTTR {}", crate::notify::format::duration(m)))
                    .unwrap_or_default();
                    Content::text(format!(
                        "✅ Incident #{id} resolved by {}{mttr}",
                        who(&user)
                    ))
                })
            }
            Command::Restart { job, build } => self
                .ask(&request(ActionType::Restart, job, Some(*build)), caller)
                .await
                .map(|d| action(&d)),
            Command::Rollback { job, build } => self
                .ask(&request(ActionType::Rollback, job, *build), caller)
                .await
                .map(|d| action(&d)),
            Command::Stop { job, build } => self
                .ask(&request(ActionType::Stop, job, Some(*build)), caller)
                .await
                .map(|d| action(&d)),
            Command::Approve { action: id } => self
                .ask(&ApproveAction { id: *id }, caller)
                .await
                .map(|d| {
                    // With several approvals required, one is recorded and the action waits.
                    if d.status == "pending_approval" {
                        Content::text(format!(
                            "👍 Your approval of action #{id} is recorded; it needs {} approval(s) in all before it runs.",
                            d.approvals_required
                        ))
                    } else {
                        Content::text(format!("👍 Action #{id} approved by {}", who(&user)))
                    }
                }),
            Command::Deny { action: id, reason } => {
                let req = DenyAction {
                    id: *id,
                    reason: reason.clone(),
                };
                self.ask(&req, caller)
                    .await
                    .map(|_| Content::text(format!("⛔ Action #{id} denied by {}", who(&user))))
            }
            Command::Status => self
                .ask(&HealthStatusRequest::default(), caller)
                .await
                .map(|d| status(&d)),
            Command::Postmortem { incident } => {
                let req = GetPostmortem {
                    incident_id: *incident,
                    version: None,
                };
                self.ask(&req, caller)
                    .await
                    .map(|d| super::postmortem::render(&d))
            }
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
pub enum Failure {
    Refused(CommandError),
    Timeout(String),
    Bus(String),
    /// The reply came but does not read as the command's reply type.
    Unreadable(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(e) => f.write_str(&e.message),
            Failure::Timeout(k) => write!(f, "no answer to {k} in time"),
            Failure::Bus(e) => write!(f, "the bus failed: {e}"),
            Failure::Unreadable(e) => write!(f, "the answer was not understood: {e}"),
        }
    }
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
            Failure::Unreadable(e) => format!(
                "⚠️ The answer to “{}” was not understood ({}), so I cannot tell what happened. \
                 Check with `/devops incidents`.",
                cmd.describe(),
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

fn severity_emoji(s: &str) -> &'static str {
    s.parse::<domain::Severity>()
        .map(crate::notify::format::severity_emoji)
        .unwrap_or("⚪")
}

fn incident_line(i: &domain::commands::Incident) -> String {
    let job = match (&i.job_name, i.build_number) {
        (Some(j), Some(b)) => format!(" · `{}` #{b}", escape(j)),
        (Some(j), None) => format!(" · `{}`", escape(j)),
        _ => String::new(),
    };
    format!(
        "{} *#{}* [{}] {} — {}{job}",
        severity_emoji(&i.severity),
        i.id,
        escape(&i.severity),
        escape(&clip(&i.title, 150)),
        escape(&i.status),
    )
}

fn incidents(d: &IncidentPage, severity: Option<domain::Severity>) -> Content {
    let what = severity.map(|s| format!("{s} ")).unwrap_or_default();
    if d.items.is_empty() {
        return Content::text(format!("🎉 No active {what}incidents."));
    }
    let total = d.total;
    let mut lines: Vec<String> = d.items.iter().map(incident_line).collect();
    if total > d.items.len() as i64 {
        lines.push(format!("…and {} more", total - d.items.len() as i64));
    }
    Content::text(format!(
        "*{total} active {what}incident(s)*\n{}",
        lines.join("\n")
    ))
}

fn incident(d: &IncidentDetail) -> Content {
    let i = &d.incident;
    let mut text = incident_line(i);
    text.push_str(&format!(
        "\nDetected {} · {} occurrence(s)",
        i.detected_at
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        i.occurrences
    ));
    if let Some(b) = &i.acknowledged_by {
        text.push_str(&format!("\nAcknowledged by {}", who(b)));
    }
    if let Some(b) = &i.resolved_by {
        let mttr = i
            .mttr_seconds
            .map(|m| format!(" · MTTR {}", crate::notify::format::duration(m)))
            .unwrap_or_default();
        text.push_str(&format!("\nResolved by {}{mttr}", who(b)));
    }
    let actions: Vec<String> = d
        .actions
        .iter()
        .take(10)
        .map(|a| {
            format!(
                "• action #{} {} `{}` — {}",
                a.id,
                escape(&a.action_type),
                escape(&a.target_job),
                escape(&a.status.replace('_', " "))
            )
        })
        .collect();
    if !actions.is_empty() {
        text.push_str(&format!("\n*Actions:*\n{}", actions.join("\n")));
    }
    if let Some(url) = i
        .runbook_url
        .as_deref()
        .and_then(crate::slack::text::safe_url)
    {
        text.push_str(&format!("\n<{url}|Runbook>"));
    }
    Content::text(text)
}

fn action(a: &Action) -> Content {
    let id = a.id;
    let build = a.target_build.map(|b| format!(" #{b}")).unwrap_or_default();
    let next = match a.status.as_str() {
        "pending_approval" => {
            let n = a.approvals_required.max(1);
            format!(" — waiting for {n} approval(s) by someone else (`/devops approve {id}`)")
        }
        "rejected" => format!(" — {}", escape(a.reason.as_deref().unwrap_or(""))),
        _ => String::new(),
    };
    let clause = a
        .policy_clause
        .as_deref()
        .map(|c| format!(" (policy `{}`)", escape(c)))
        .unwrap_or_default();
    Content::text(format!(
        "🔧 Action *#{id}*: {} of `{}`{build} is {}{next}{clause}",
        escape(&a.action_type),
        escape(&a.target_job),
        escape(&a.status.replace('_', " ")),
    ))
}

fn status(d: &HealthStatusReport) -> Content {
    let mut lines = vec![format!("*{}*", escape(&d.summary()))];
    for svc in &d.services {
        let st = svc.status.as_str();
        let emoji = match st {
            "up" => "🟢",
            "degraded" => "🟡",
            _ => "🔴",
        };
        let mut line = format!("{emoji} `{}` {}", escape(&svc.service), escape(st));
        line.push_str(&format!(
            " · {}/{} instances",
            svc.instances_up, svc.instances
        ));
        if let Some(p) = svc.uptime_percent_24h {
            line.push_str(&format!(" · {p:.1}% 24h"));
        }
        let degraded: Vec<String> = svc.degraded.iter().map(|d| escape(d)).collect();
        if !degraded.is_empty() {
            line.push_str(&format!(" · degraded: {}", degraded.join(", ")));
        }
        lines.push(line);
    }
    lines.push(format!(
        "_checked {}_",
        escape(
            &d.checked_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )
    ));
    Content::text(lines.join("\n"))
}
