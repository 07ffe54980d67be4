//! The policy file: which roles principals and groups hold, and, per action type and job,
//! who may request it, from which channels and with how many distinct approvers. One
//! function, [`Policy::decide`], answers for every door.

mod parse;
#[cfg(test)]
mod tests;

use std::path::Path;

use domain::{ActionType, Channel};
use globset::GlobMatcher;

use crate::{PolicyError, Role, Roles, normalise};

/// The shipped policy, used when no policy path is configured (`RUNBOOKS__POLICY__PATH`).
pub const DEFAULT_POLICY: &str = include_str!("../../default.toml");

/// Most approvals a clause may demand (a typo of 20 would block an action forever).
pub const MAX_APPROVALS: u32 = 5;

/// One `[[actions]]` clause.
#[derive(Debug, Clone)]
pub struct Clause {
    pub name: String,
    pub description: Option<String>,
    pub actions: Vec<ActionType>,
    pub jobs: Vec<(String, GlobMatcher)>,
    pub roles: Vec<Role>,
    /// `None`: every channel.
    pub channels: Option<Vec<Channel>>,
    pub approvals: u32,
}

impl Clause {
    pub fn matches(&self, action: ActionType, job: &str, channel: Channel) -> bool {
        self.actions.contains(&action)
            && self.jobs.iter().any(|(_, g)| g.is_match(job))
            && self.channels.as_ref().is_none_or(|c| c.contains(&channel))
    }
}

/// A loaded, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Where it came from (a path or `built-in`).
    pub origin: String,
    role_map: Vec<(String, GlobMatcher, Roles)>,
    pub clauses: Vec<Clause>,
}

/// What the policy says about one action request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionDecision {
    Allow {
        clause: String,
        /// Distinct approvers needed (never fewer than the clause says).
        approvals: u32,
    },
    Deny {
        /// The clause that matched but whose roles the principal lacks; `None` when no
        /// clause covers the request (default deny).
        clause: Option<String>,
        missing: Option<Vec<Role>>,
        reason: String,
    },
}

impl Policy {
    pub fn builtin() -> Self {
        Policy::parse(DEFAULT_POLICY, "built-in").expect("the shipped policy is valid")
    }

    pub fn load(path: Option<&Path>) -> Result<Self, PolicyError> {
        match path {
            None => Ok(Policy::builtin()),
            Some(p) => {
                let origin = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|e| PolicyError::Read {
                    origin: origin.clone(),
                    reason: e.to_string(),
                })?;
                Policy::parse(&text, &origin)
            }
        }
    }

    /// Roles the policy gives a principal and its groups (patterns match the normalised
    /// names).
    pub fn roles_of(&self, principal: &str, groups: &[String]) -> Roles {
        let mut roles = Roles::none();
        let names: Vec<String> = std::iter::once(principal)
            .chain(groups.iter().map(String::as_str))
            .map(normalise)
            .collect();
        for (_, matcher, r) in &self.role_map {
            if names.iter().any(|n| matcher.is_match(n)) {
                roles.extend(r);
            }
        }
        roles
    }

    /// The decision on an action request: the first clause covering the action, the job
    /// and the channel decides; none → refused. `asked_approval` lets a caller raise the
    /// number of approvals from zero to one, never lower it.
    pub fn decide(
        &self,
        roles: &Roles,
        channel: Channel,
        action: ActionType,
        job: &str,
        asked_approval: bool,
    ) -> ActionDecision {
        let Some(clause) = self
            .clauses
            .iter()
            .find(|c| c.matches(action, job, channel))
        else {
            return ActionDecision::Deny {
                clause: None,
                missing: None,
                reason: format!(
                    "no policy clause allows {action} on `{job}` from {channel} (default deny)"
                ),
            };
        };
        if !clause.roles.iter().any(|r| roles.has(*r)) {
            let wanted: Vec<&str> = clause.roles.iter().map(|r| r.as_str()).collect();
            return ActionDecision::Deny {
                clause: Some(clause.name.clone()),
                missing: Some(clause.roles.clone()),
                reason: format!(
                    "policy clause `{}` lets only {} request {action} on `{job}`; you have {roles}",
                    clause.name,
                    wanted.join(" or ")
                ),
            };
        }
        let approvals = if asked_approval {
            clause.approvals.max(1)
        } else {
            clause.approvals
        };
        ActionDecision::Allow {
            clause: clause.name.clone(),
            approvals,
        }
    }

    /// The role mapping as written (for `policy check`).
    pub fn role_patterns(&self) -> impl Iterator<Item = (&str, &Roles)> {
        self.role_map.iter().map(|(p, _, r)| (p.as_str(), r))
    }
}
