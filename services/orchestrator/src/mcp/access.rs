//! Who calls and what they may call: the actor of a request (the bearer token's principal
//! over HTTP, the configured `mcp:<name>` over stdio), which write tools they see, the
//! per-principal cap on write calls, and the audit record of every call.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::Channel;
use domain::events::{AuditOutcome, AuditRecord};
use rmcp::RoleServer;
use rmcp::service::RequestContext;

use crate::api::auth::Caller;
use crate::auth::{Actor, Policy, Role, Roles, normalise};
use crate::authz::Authorizer;
use crate::settings::McpSettings;

/// Tools that change something, and the role each needs to be listed. The policy and the
/// service layer still decide every call (e.g. which jobs, how many approvers).
pub const WRITE_TOOLS: &[(&str, Role)] = &[
    ("acknowledge_incident", Role::Operator),
    ("resolve_incident", Role::Operator),
    ("request_jenkins_restart", Role::Operator),
    ("request_jenkins_rollback", Role::Operator),
    ("request_jenkins_stop", Role::Operator),
    ("approve_action", Role::Approver),
    ("start_runbook", Role::Operator),
];

/// The role a write tool needs; `None` for a read tool.
pub fn write_role(tool: &str) -> Option<Role> {
    WRITE_TOOLS
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, role)| *role)
}

/// Why a write tool is not offered to `actor`; `None` when it is (or is a read tool).
pub fn hidden_because(settings: &McpSettings, actor: &Actor, tool: &str) -> Option<String> {
    let role = write_role(tool)?;
    if !settings.write_tools {
        return Some(format!(
            "`{tool}` is not available: MCP write tools are disabled (mcp.write_tools)"
        ));
    }
    if !actor.roles.has(role) {
        return Some(format!(
            "`{tool}` is not available to {}: it needs the {role} role ({} has {})",
            actor.name, actor.name, actor.roles
        ));
    }
    None
}

/// The actor `orchestrator mcp` (stdio) runs as: `mcp:<name>`, with the configured roles
/// plus those the policy's `[roles]` gives that name.
pub fn stdio_actor(settings: &McpSettings, configured: &Roles, policy: &Policy) -> Actor {
    let name = format!("mcp:{}", settings.stdio_principal);
    let mut roles = configured.clone();
    roles.extend(&policy.roles_of(&name, &[]));
    Actor::new(name, Channel::Mcp, roles)
}

/// The actor of a request: the token's principal put there by the `/mcp` authentication
/// layer, else the session's own (stdio, in-process).
pub fn actor_of(ctx: &RequestContext<RoleServer>, own: Option<&Actor>) -> Option<Actor> {
    match ctx.extensions.get::<axum::http::request::Parts>() {
        Some(parts) => parts.extensions.get::<Caller>().map(|c| c.actor.clone()),
        None => own.cloned(),
    }
}

/// The MCP client's name (Claude Desktop, an IDE...), bounded and printable, as it
/// introduced itself; `unknown` when it did not.
pub fn client_name(ctx: &RequestContext<RoleServer>) -> String {
    // Without an `initialize` (stateless protocol versions) the peer info is a stand-in;
    // only the request's own `_meta` names the client then.
    let session = ctx.protocol_version().is_none_or(|v| v.has_initialize());
    let named = ctx.meta.client_info().map(|i| i.name).or_else(|| {
        session
            .then(|| ctx.peer.peer_info().map(|p| p.client_info.name.clone()))
            .flatten()
    });
    let clean: String = named
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    if clean.trim().is_empty() {
        "unknown".into()
    } else {
        clean.trim().to_string()
    }
}

/// Write calls per principal within a sliding minute. Per process: replicas each keep
/// their own count, so the cap is per replica.
pub struct WriteLimiter {
    per_minute: u32,
    calls: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl WriteLimiter {
    pub fn new(per_minute: u32) -> Self {
        WriteLimiter {
            per_minute: per_minute.max(1),
            calls: Mutex::default(),
        }
    }

    /// Counts a write call by `principal`; `Err(wait)` when over the cap.
    pub fn take(&self, principal: &str) -> Result<(), Duration> {
        self.take_at(principal, Instant::now())
    }

    fn take_at(&self, principal: &str, now: Instant) -> Result<(), Duration> {
        const WINDOW: Duration = Duration::from_secs(60);
        let mut calls = self.calls.lock().expect("limiter lock");
        // Forget principals idle for a minute, so the map stays small.
        calls.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        let q = calls.entry(normalise(principal)).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() >= self.per_minute as usize {
            let oldest = *q.front().expect("non-empty at the cap");
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        q.push_back(now);
        Ok(())
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }
}

/// How a call ended, for its audit record.
pub enum Outcome<'a> {
    Ok,
    Error(&'a str),
    Refused(&'a str),
}

/// Records `audit.mcp.call`: who called what through which client, and how it ended.
/// Best effort: a failure to record is logged and the answer stands (refusals and changes
/// have their own records, written with the change).
pub async fn audit_call(
    authz: &Authorizer,
    actor: &Actor,
    client: &str,
    kind: &str,
    target: &str,
    outcome: Outcome<'_>,
) {
    // The outcome is the decision: a refused call is `denied`, whatever else was recorded.
    let (word, error, decision) = match outcome {
        Outcome::Ok => ("ok", None, AuditOutcome::Allowed),
        Outcome::Error(e) => ("error", Some(e), AuditOutcome::Allowed),
        Outcome::Refused(e) => ("refused", Some(e), AuditOutcome::Denied),
    };
    let record = crate::events::message(AuditRecord {
        verb: "mcp.call".into(),
        actor: actor.authenticated().to_string(),
        on_behalf_of: actor.on_behalf_of().map(str::to_string),
        outcome: decision,
        clause: None,
        channel: actor.channel,
        target_type: kind.to_string(),
        target_id: Some(target.chars().take(200).collect()),
        details: Some(serde_json::json!({
            "client": client,
            "result": word,
            "error": error.map(|e| e.chars().take(500).collect::<String>()),
        })),
        at: chrono::Utc::now(),
    });
    authz.record(record, "mcp call").await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_caps_each_principal_within_a_minute() {
        let l = WriteLimiter::new(2);
        let t0 = Instant::now();
        assert!(l.take_at("Agent", t0).is_ok());
        assert!(l.take_at("agent ", t0 + Duration::from_secs(1)).is_ok());
        let wait = l.take_at("agent", t0 + Duration::from_secs(2)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(58));
        assert!(l.take_at("other", t0 + Duration::from_secs(2)).is_ok());
        assert!(l.take_at("agent", t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn write_tools_need_the_switch_and_the_role() {
        let mut s = McpSettings::default();
        let viewer = Actor::new("v", Channel::Mcp, Roles::of([Role::Viewer]));
        let operator = Actor::new("o", Channel::Mcp, Roles::of([Role::Operator]));
        assert!(hidden_because(&s, &operator, "get_incident").is_none());
        assert!(hidden_because(&s, &operator, "request_jenkins_restart").is_some());
        s.write_tools = true;
        assert!(hidden_because(&s, &operator, "request_jenkins_restart").is_none());
        assert!(hidden_because(&s, &operator, "approve_action").is_some());
        assert!(hidden_because(&s, &viewer, "acknowledge_incident").is_some());
    }
}
