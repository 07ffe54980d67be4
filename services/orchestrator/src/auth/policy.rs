//! The policy file: which roles principals and groups hold, and, per action type and job,
//! who may request it, from which channels and with how many distinct approvers. One
//! function, [`Policy::decide`], answers for every door.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use domain::{ActionType, Channel};
use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use super::{Role, Roles};

/// The policy shipped with the orchestrator, used when `RUNBOOKS__POLICY__PATH` is unset.
pub const DEFAULT_POLICY: &str = include_str!("../../policy/default.toml");

/// Most approvals a clause may demand (a typo of 20 would block an action forever).
pub const MAX_APPROVALS: u32 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    roles: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    actions: Vec<ClauseFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClauseFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    actions: Vec<String>,
    #[serde(default = "any_job")]
    jobs: Vec<String>,
    roles: Vec<String>,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    approvals: u32,
}

fn any_job() -> Vec<String> {
    vec!["*".into()]
}

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

/// Why a policy file was refused; the message names the key or clause.
#[derive(Debug, thiserror::Error)]
#[error("policy {origin}: {reason}")]
pub struct PolicyError {
    pub origin: String,
    pub reason: String,
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

fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    Glob::new(pattern)
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("bad pattern `{pattern}`: {e}"))
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
                let text = std::fs::read_to_string(p).map_err(|e| PolicyError {
                    origin: origin.clone(),
                    reason: format!("cannot read: {e}"),
                })?;
                Policy::parse(&text, &origin)
            }
        }
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let err = |reason: String| PolicyError {
            origin: origin.to_string(),
            reason,
        };
        let file: File = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut role_map = Vec::new();
        for (pattern, roles) in &file.roles {
            let key = format!("roles.\"{pattern}\"");
            if pattern.trim().is_empty() {
                return Err(err(format!("{key}: empty principal pattern")));
            }
            let roles = roles
                .iter()
                .map(|r| r.parse::<Role>().map_err(|e| err(format!("{key}: {e}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let matcher =
                glob(&super::normalise(pattern)).map_err(|e| err(format!("{key}: {e}")))?;
            role_map.push((pattern.clone(), matcher, Roles::of(roles)));
        }
        let mut clauses = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, c) in file.actions.into_iter().enumerate() {
            let key = format!("actions[{i}] ({})", c.name);
            if c.name.trim().is_empty() {
                return Err(err(format!("actions[{i}]: name is empty")));
            }
            if !names.insert(c.name.clone()) {
                return Err(err(format!("{key}: the name is used twice")));
            }
            if c.actions.is_empty() {
                return Err(err(format!("{key}: actions is empty")));
            }
            let actions = c
                .actions
                .iter()
                .map(|a| {
                    a.parse::<ActionType>()
                        .map_err(|e| err(format!("{key}: actions: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if c.jobs.is_empty() {
                return Err(err(format!(
                    "{key}: jobs is empty (use [\"*\"] for every job)"
                )));
            }
            let jobs = c
                .jobs
                .iter()
                .map(|j| {
                    Ok((
                        j.clone(),
                        glob(j).map_err(|e| err(format!("{key}: jobs: {e}")))?,
                    ))
                })
                .collect::<Result<Vec<_>, PolicyError>>()?;
            if c.roles.is_empty() {
                return Err(err(format!(
                    "{key}: roles is empty (nobody could request it)"
                )));
            }
            let roles = c
                .roles
                .iter()
                .map(|r| {
                    r.parse::<Role>()
                        .map_err(|e| err(format!("{key}: roles: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let channels = match c.channels {
                None => None,
                Some(list) => Some(
                    list.iter()
                        .map(|ch| {
                            ch.parse::<Channel>()
                                .map_err(|e| err(format!("{key}: channels: {e}")))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            if c.approvals > MAX_APPROVALS {
                return Err(err(format!(
                    "{key}: approvals {} is more than {MAX_APPROVALS}",
                    c.approvals
                )));
            }
            clauses.push(Clause {
                name: c.name,
                description: c.description,
                actions,
                jobs,
                roles,
                channels,
                approvals: c.approvals,
            });
        }
        Ok(Policy {
            origin: origin.to_string(),
            role_map,
            clauses,
        })
    }

    /// Roles the policy gives a principal and its groups (patterns match the normalised
    /// names).
    pub fn roles_of(&self, principal: &str, groups: &[String]) -> Roles {
        let mut roles = Roles::none();
        let names: Vec<String> = std::iter::once(principal)
            .chain(groups.iter().map(String::as_str))
            .map(super::normalise)
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

/// The policy in use, replaced atomically on reload.
#[derive(Clone)]
pub struct SharedPolicy {
    current: Arc<RwLock<Arc<Policy>>>,
    pub path: Option<PathBuf>,
}

impl SharedPolicy {
    pub fn new(policy: Policy, path: Option<PathBuf>) -> Self {
        SharedPolicy {
            current: Arc::new(RwLock::new(Arc::new(policy))),
            path,
        }
    }

    pub fn current(&self) -> Arc<Policy> {
        self.current.read().expect("policy lock").clone()
    }

    /// Loads the file again; on failure the policy in use stays.
    pub fn reload(&self) -> Result<Arc<Policy>, PolicyError> {
        let p = Arc::new(Policy::load(self.path.as_deref())?);
        *self.current.write().expect("policy lock") = p.clone();
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_loads() {
        let p = Policy::builtin();
        assert!(!p.clauses.is_empty());
        let op = Roles::of([Role::Operator]);
        assert!(matches!(
            p.decide(&op, Channel::Api, ActionType::Restart, "deploy-prod", false),
            ActionDecision::Allow { .. }
        ));
        assert!(matches!(
            p.decide(
                &Roles::of([Role::Viewer]),
                Channel::Api,
                ActionType::Restart,
                "x",
                false
            ),
            ActionDecision::Deny { .. }
        ));
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let cases = [
            (
                "[[actions]]\nname = \"a\"\nactions = [\"reboot\"]\nroles = [\"operator\"]\n",
                "actions[0] (a): actions",
            ),
            (
                "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"boss\"]\n",
                "unknown role `boss`",
            ),
            (
                "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = []\n",
                "roles is empty",
            ),
            (
                "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"admin\"]\napprovals = 9\n",
                "approvals 9",
            ),
            ("[roles]\n\"x\" = [\"root\"]\n", "roles.\"x\""),
            (
                "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"admin\"]\nchannels = [\"fax\"]\n",
                "channels",
            ),
            (
                "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"admin\"]\n[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"admin\"]\n",
                "used twice",
            ),
            ("colour = 1\n", "unknown field"),
        ];
        for (text, want) in cases {
            let e = Policy::parse(text, "t.toml").unwrap_err().to_string();
            assert!(e.contains(want), "{want:?} not in {e:?}");
            assert!(e.starts_with("policy t.toml:"), "{e}");
        }
    }

    #[test]
    fn roles_come_from_names_and_groups_by_pattern() {
        let p = Policy::parse(
            "[roles]\n\"slack:*\" = [\"viewer\"]\n\"slack:U1\" = [\"approver\"]\n\"slack-group:S9\" = [\"operator\"]\n",
            "t",
        )
        .unwrap();
        let r = p.roles_of("Slack:u1", &[]);
        assert!(r.has(Role::Approver) && !r.has(Role::Operator));
        let r = p.roles_of("slack:U2", &["slack-group:S9".into()]);
        assert!(r.has(Role::Operator) && !r.has(Role::Approver));
        assert!(p.roles_of("ana", &[]).is_empty());
    }

    #[test]
    fn the_first_matching_clause_decides_and_a_caller_only_raises_approvals() {
        let p = Policy::parse(
            r#"
[[actions]]
name = "prod-stop"
actions = ["stop"]
jobs = ["*-prod"]
roles = ["admin"]
approvals = 2

[[actions]]
name = "stop"
actions = ["stop", "rollback"]
roles = ["operator"]
channels = ["api", "slack"]
approvals = 1

[[actions]]
name = "restart"
actions = ["restart"]
roles = ["operator"]
"#,
            "t",
        )
        .unwrap();
        let op = Roles::of([Role::Operator]);
        let d = p.decide(&op, Channel::Api, ActionType::Stop, "deploy-prod", false);
        assert!(
            matches!(&d, ActionDecision::Deny { clause: Some(c), .. } if c == "prod-stop"),
            "{d:?}"
        );
        assert_eq!(
            p.decide(
                &Roles::of([Role::Admin]),
                Channel::Api,
                ActionType::Stop,
                "deploy-prod",
                false
            ),
            ActionDecision::Allow {
                clause: "prod-stop".into(),
                approvals: 2
            }
        );
        assert_eq!(
            p.decide(&op, Channel::Slack, ActionType::Stop, "build", false),
            ActionDecision::Allow {
                clause: "stop".into(),
                approvals: 1
            }
        );
        assert!(matches!(
            p.decide(&op, Channel::Mcp, ActionType::Stop, "build", false),
            ActionDecision::Deny { clause: None, .. }
        ));
        assert_eq!(
            p.decide(&op, Channel::Mcp, ActionType::Restart, "build", true),
            ActionDecision::Allow {
                clause: "restart".into(),
                approvals: 1
            }
        );
        assert_eq!(
            p.decide(&op, Channel::Mcp, ActionType::Restart, "build", false),
            ActionDecision::Allow {
                clause: "restart".into(),
                approvals: 0
            }
        );
    }
}
