//! The checks every door shares, as pure functions: an operation by role, an action request
//! by the policy, an approval by identity. The service layer calls them; so do the property
//! tests.

use domain::ActionType;
use serde::Serialize;

use crate::{ActionDecision, Actor, Policy, Role, normalise};

/// What someone tries to do (besides requesting an action, which the policy decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Acknowledge,
    Resolve,
    Approve,
    Deny,
    ReloadRules,
    /// Posting logs straight to the HTTP ingest.
    Ingest,
    /// Writing a new version of a post-mortem (reading one, even the first, is `Read`).
    WritePostmortem,
    /// Starting a runbook on an incident (its action steps are judged again, step by step).
    StartRunbook,
}

impl Op {
    pub fn verb(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Acknowledge => "incident.acknowledge",
            Op::Resolve => "incident.resolve",
            Op::Approve => "action.approve",
            Op::Deny => "action.deny",
            Op::ReloadRules => "rules.reload",
            Op::Ingest => "logs.ingest",
            Op::WritePostmortem => "postmortem.generate",
            Op::StartRunbook => "runbook.start",
        }
    }

    pub fn role(self) -> Role {
        match self {
            Op::Read => Role::Viewer,
            Op::Acknowledge | Op::Resolve | Op::Ingest | Op::WritePostmortem | Op::StartRunbook => {
                Role::Operator
            }
            Op::Approve | Op::Deny => Role::Approver,
            Op::ReloadRules => Role::Admin,
        }
    }
}

/// Why something was refused: what the caller lacks or which clause said no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub message: String,
    /// The role that would have allowed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_role: Option<String>,
    /// The policy clause (or rule of the model, e.g. `role:approver`) that decided.
    pub clause: String,
}

/// The clause name recorded for decisions made by role alone.
pub fn role_clause(role: Role) -> String {
    format!("role:{role}")
}

/// May `actor` do `op`? Decided by role.
pub fn authorize(actor: &Actor, op: Op) -> Result<String, Denial> {
    let role = op.role();
    if actor.roles.has(role) {
        return Ok(role_clause(role));
    }
    Err(Denial {
        message: format!(
            "{} needs the {role} role; {} has {}",
            op.verb(),
            actor.name,
            actor.roles
        ),
        missing_role: Some(role.to_string()),
        clause: role_clause(role),
    })
}

/// What an allowed action request becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub clause: String,
    pub approvals: u32,
}

/// The policy's decision on `actor` requesting `action` on `job`. `asked_approval` is the
/// caller's own wish for an approval: it can add one, never remove any.
pub fn plan_request(
    policy: &Policy,
    actor: &Actor,
    action: ActionType,
    job: &str,
    asked_approval: Option<bool>,
) -> Result<Planned, Denial> {
    match policy.decide(
        &actor.roles,
        actor.channel,
        action,
        job,
        asked_approval.unwrap_or(false),
    ) {
        ActionDecision::Allow { clause, approvals } => Ok(Planned { clause, approvals }),
        ActionDecision::Deny {
            clause,
            missing,
            reason,
        } => Err(Denial {
            message: reason,
            missing_role: missing.map(|roles| {
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            }),
            clause: clause.unwrap_or_else(|| "default-deny".into()),
        }),
    }
}

/// May `actor` approve an action `requested_by` someone, already approved by `approvers`?
/// Needs the approver role, and a principal other than the requester and not already
/// among the approvers (all compared normalised).
pub fn may_approve(actor: &Actor, requested_by: &str, approvers: &[String]) -> Result<(), Denial> {
    may_approve_what(actor, "action", requested_by, approvers)
}

/// [`may_approve`] for any gated thing (`what`: "action", "runbook run"), the same rules.
pub fn may_approve_what(
    actor: &Actor,
    what: &str,
    requested_by: &str,
    approvers: &[String],
) -> Result<(), Denial> {
    authorize(actor, Op::Approve)?;
    let me = normalise(&actor.name);
    if me == normalise(requested_by) {
        return Err(Denial {
            message: format!(
                "{} requested this {what} and cannot approve it; someone else must",
                actor.name
            ),
            missing_role: None,
            clause: "approver-not-requester".into(),
        });
    }
    if approvers.iter().any(|a| normalise(a) == me) {
        return Err(Denial {
            message: format!(
                "{} already approved this {what}; approvals must come from different people",
                actor.name
            ),
            missing_role: None,
            clause: "approvers-distinct".into(),
        });
    }
    Ok(())
}
