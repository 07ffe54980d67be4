//! SlackFormatter: Block Kit for incidents, actions, health changes, post-mortems and burst
//! summaries. Rendering is a pure function of the view, so the same view gives the same
//! message and a redelivered event changes nothing. Every untrusted string is escaped.

use domain::events::{PostmortemGenerated, ServiceHealthChanged};
use domain::postmortem::Writer;
use domain::{ActionStatus, IncidentStatus, Severity};
use serde_json::{Value, json};

pub use super::memory::memory;
use super::view::{ActionView, IncidentView};
use crate::slack::Content;
use crate::slack::text::{clip, escape, safe_url, who};

pub fn severity_emoji(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "🔴",
        Severity::High => "🟠",
        Severity::Medium => "🟡",
        Severity::Low => "🔵",
    }
}

/// `45 s`, `3.5 min`, `2.1 h`.
pub fn duration(secs: f64) -> String {
    if secs < 90.0 {
        format!("{} s", secs.round() as i64)
    } else if secs < 90.0 * 60.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

fn mrkdwn(text: impl Into<String>) -> Value {
    json!({"type": "mrkdwn", "text": clip(&text.into(), 2900)})
}

fn section(text: impl Into<String>) -> Value {
    json!({"type": "section", "text": mrkdwn(text)})
}

fn context(text: impl Into<String>) -> Value {
    json!({"type": "context", "elements": [mrkdwn(text)]})
}

fn button(label: &str, action_id: &str, value: String, style: Option<&str>) -> Value {
    let mut b = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    });
    if let Some(s) = style {
        b["style"] = json!(s);
    }
    b
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn action_verb(a: &ActionView) -> String {
    let build = a.target_build.map(|b| format!(" #{b}")).unwrap_or_default();
    format!("{} of `{}`{}", a.action_type, escape(&a.target_job), build)
}

fn action_state(a: &ActionView) -> String {
    let dry = if a.dry_run == Some(true) {
        " (dry run: nothing was sent to Jenkins)"
    } else {
        ""
    };
    match a.status {
        ActionStatus::Requested => "requested".into(),
        ActionStatus::PendingApproval if a.approvals_required > 1 => {
            format!("waiting for {} approvals", a.approvals_required)
        }
        ActionStatus::PendingApproval => "waiting for approval".into(),
        ActionStatus::Approved => match &a.approved_by {
            Some(b) => format!("approved by {}", who(b)),
            None => "approved".into(),
        },
        ActionStatus::Running => format!("running{dry}"),
        ActionStatus::Completed => match &a.outcome {
            Some(o) => format!("completed: {}{dry}", escape(o)),
            None => format!("completed{dry}"),
        },
        ActionStatus::Failed => format!(
            "failed: {}",
            escape(&clip(a.detail.as_deref().unwrap_or("no reason given"), 300))
        ),
        ActionStatus::Rejected => format!(
            "rejected{}: {}",
            a.rejected_by
                .as_deref()
                .map(|b| format!(" by {}", who(b)))
                .unwrap_or_default(),
            escape(&clip(a.detail.as_deref().unwrap_or("no reason given"), 300))
        ),
    }
}

fn status_line(v: &IncidentView) -> String {
    match v.status() {
        IncidentStatus::Open => "*Status:* open".into(),
        IncidentStatus::Acknowledged => format!(
            "*Status:* acknowledged{}",
            v.acknowledged_by
                .as_deref()
                .map(|b| format!(" by {}", who(b)))
                .unwrap_or_default()
        ),
        IncidentStatus::Resolved => {
            let mut s = "*Status:* ✅ resolved".to_string();
            if let Some(b) = &v.resolved_by {
                s.push_str(&format!(" by {}", who(b)));
            }
            if let Some(m) = v.mttr_seconds {
                s.push_str(&format!(" · MTTR {}", duration(m)));
            }
            s
        }
    }
}

/// "written by the LLM" / "written from the template" / "edited by a person".
pub fn writer(w: Writer) -> &'static str {
    match w {
        Writer::Llm => "written by the LLM",
        Writer::Template => "written from the template",
        Writer::Person => "edited by a person",
    }
}

/// The incident's parent message: what happened, where, since when, what was done, and
/// the buttons while it is still open.
pub fn incident(v: &IncidentView) -> Content {
    let Some(s) = &v.summary else {
        let text = format!("Incident #{} (details not received yet)", v.id);
        return Content {
            blocks: json!([section(format!("*{text}*")), section(status_line(v))]),
            text,
        };
    };
    let status = v.status();
    let head = format!(
        "{} {} · {}",
        severity_emoji(s.severity),
        s.severity.as_str().to_uppercase(),
        s.title
    );
    let mut fields = vec![];
    if let Some(job) = &s.job_name {
        let build = s.build_number.map(|b| format!(" #{b}")).unwrap_or_default();
        fields.push(mrkdwn(format!("*Job:*\n`{}`{build}", escape(job))));
    }
    if let Some(svc) = &s.service {
        let path = s
            .path
            .as_deref()
            .map(|p| format!(" {}", escape(p)))
            .unwrap_or_default();
        fields.push(mrkdwn(format!("*Service:*\n`{}`{path}", escape(svc))));
    }
    fields.push(mrkdwn(format!("*Detected:*\n{}", when(s.detected_at))));
    fields.push(mrkdwn(format!("*Occurrences:*\n{}", s.occurrences)));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": clip(&head, 150)}}),
        json!({"type": "section", "fields": fields}),
        section(status_line(v)),
    ];
    if let Some(line) = v.memory.as_ref().and_then(memory) {
        blocks.push(context(line));
    }
    if let Some(log) = &v.first_log {
        blocks.push(section(format!(
            "```{}```",
            escape(&clip(log, 500)).replace("```", "'''")
        )));
    }
    if !v.actions.is_empty() {
        let lines: Vec<String> = v
            .actions
            .values()
            .map(|a| format!("• {} — {}", action_verb(a), action_state(a)))
            .collect();
        blocks.push(section(format!("*Actions:*\n{}", lines.join("\n"))));
    }
    if let Some(p) = &v.postmortem {
        blocks.push(section(format!(
            "*Post-mortem v{}:* {} (`/devops postmortem {}`)",
            p.version,
            escape(&clip(&p.title, 200)),
            v.id
        )));
    }
    let mut ctx = format!("Incident #{} · rule `{}`", v.id, escape(&s.rule));
    if let Some(url) = s.runbook_url.as_deref().and_then(safe_url) {
        ctx.push_str(&format!(" · <{url}|Runbook>"));
    }
    blocks.push(context(ctx));
    if status != IncidentStatus::Resolved {
        let id = v.id.to_string();
        let mut buttons = vec![];
        if status == IncidentStatus::Open {
            buttons.push(button("Acknowledge", "incident_ack", id.clone(), None));
        }
        if s.job_name.is_some() {
            if s.build_number.is_some() {
                buttons.push(button(
                    "Restart",
                    "incident_restart",
                    id.clone(),
                    Some("primary"),
                ));
            }
            buttons.push(button("Rollback", "incident_rollback", id, Some("danger")));
        }
        if !buttons.is_empty() {
            blocks.push(json!({"type": "actions", "block_id": format!("incident:{}", v.id), "elements": buttons}));
        }
    }
    let text = match status {
        IncidentStatus::Resolved => format!(
            "{} [{}] {} — resolved{}",
            severity_emoji(s.severity),
            s.severity,
            s.title,
            v.mttr_seconds
                .map(|m| format!(", MTTR {}", duration(m)))
                .unwrap_or_default()
        ),
        _ => format!(
            "{} [{}] {}",
            severity_emoji(s.severity),
            s.severity,
            s.title
        ),
    };
    Content {
        text: clip(&text, 3000),
        blocks: Value::Array(blocks),
    }
}

/// The card of one action: what, for whom, where it stands; Approve / Deny while it waits.
pub fn action_card(a: &ActionView) -> Content {
    let by = a
        .requested_by
        .as_deref()
        .map(|b| format!(" requested by {}", who(b)))
        .unwrap_or_default();
    let head = format!("🔧 Action #{}: {}{by}", a.id, action_verb(a));
    let mut blocks = vec![section(format!("{head}\n*State:* {}", action_state(a)))];
    if let (ActionStatus::Requested | ActionStatus::PendingApproval, Some(reason)) =
        (a.status, &a.detail)
    {
        blocks.push(context(format!("Reason: {}", escape(&clip(reason, 300)))));
    }
    if a.status == ActionStatus::PendingApproval {
        let id = a.id.to_string();
        blocks.push(json!({
            "type": "actions",
            "block_id": format!("action:{}", a.id),
            "elements": [
                button("Approve", "action_approve", id.clone(), Some("primary")),
                button("Deny", "action_deny", id, Some("danger")),
            ]
        }));
    }
    Content {
        text: format!(
            "Action #{}: {} {} — {}",
            a.id, a.action_type, a.target_job, a.status
        ),
        blocks: Value::Array(blocks),
    }
}

/// The thread reply an action event deserves, if any (the card itself shows the rest).
pub fn action_reply(a: &ActionView) -> Option<Content> {
    let line = match a.status {
        ActionStatus::Approved => format!(
            "👍 Action #{} ({}) {}",
            a.id,
            action_verb(a),
            action_state(a)
        ),
        ActionStatus::Completed => format!(
            "✅ Action #{} ({}) {}",
            a.id,
            action_verb(a),
            action_state(a)
        ),
        ActionStatus::Failed => format!(
            "❌ Action #{} ({}) {}",
            a.id,
            action_verb(a),
            action_state(a)
        ),
        ActionStatus::Rejected => format!(
            "⛔ Action #{} ({}) {}",
            a.id,
            action_verb(a),
            action_state(a)
        ),
        _ => return None,
    };
    Some(Content::text(line))
}

pub fn acknowledged(by: &str) -> Content {
    Content::text(format!("👀 Acknowledged by {}", who(by)))
}

pub fn resolved(by: &str, method: &str, mttr: f64) -> Content {
    Content::text(format!(
        "✅ Resolved by {} ({}) · MTTR {}",
        who(by),
        escape(&method.replace('_', " ")),
        duration(mttr)
    ))
}

/// The thread reply of `postmortem.generated`: what it is, who wrote it, its summary, and
/// where the whole report is.
pub fn postmortem(p: &PostmortemGenerated) -> Content {
    let mut text = format!(
        "📝 Post-mortem v{} of incident #{}: *{}*\n_{}_",
        p.version,
        p.incident_id,
        escape(&clip(&p.title, 200)),
        writer(p.writer)
    );
    if let Some(s) = p.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        text.push_str(&format!("\n{}", escape(&clip(s.trim(), 1500))));
    }
    let mut links = Vec::new();
    if let Some(url) = p.url.as_deref().and_then(safe_url) {
        links.push(format!("<{url}|Full report>"));
    }
    links.push(format!("`/devops postmortem {}`", p.incident_id));
    text.push_str(&format!("\n{}", links.join(" · ")));
    Content::text(text)
}

pub fn service_health(h: &ServiceHealthChanged, up: bool) -> Content {
    let (emoji, word) = if up {
        ("🟢", "is back up")
    } else {
        ("🔻", "is down")
    };
    let mut text = format!("{emoji} Service `{}` {word}", escape(&h.service));
    if let Some(i) = &h.instance_id {
        text.push_str(&format!(" (instance `{}`)", escape(i)));
    }
    if let Some(r) = &h.reason {
        text.push_str(&format!("\n{}", escape(&clip(r, 500))));
    }
    if let Some(t) = h.last_seen_at {
        text.push_str(&format!("\nLast seen {}", when(t)));
    }
    Content {
        blocks: json!([
            section(text.clone()),
            context(format!("at {}", when(h.changed_at)))
        ]),
        text,
    }
}

/// The summary standing for a burst of incidents; their details are in its thread.
pub fn burst(members: &[IncidentView]) -> Content {
    let n = members.len();
    let mut lines: Vec<String> = members
        .iter()
        .take(40)
        .map(|v| match &v.summary {
            Some(s) => format!(
                "{} #{} {}{}",
                severity_emoji(s.severity),
                v.id,
                escape(&clip(&s.title, 120)),
                if v.status() == IncidentStatus::Resolved {
                    " ✅"
                } else {
                    ""
                }
            ),
            None => format!("#{}", v.id),
        })
        .collect();
    if n > 40 {
        lines.push(format!("…and {} more", n - 40));
    }
    let head = format!("🚨 {n} incidents at once — details in the thread");
    Content {
        text: head.clone(),
        blocks: json!([
            {"type": "header", "text": {"type": "plain_text", "text": head}},
            section(lines.join("\n")),
        ]),
    }
}
