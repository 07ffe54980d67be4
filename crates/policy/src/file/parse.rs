//! Reading a policy file: serde structs mirroring the TOML, then validation that names the
//! key or clause at fault.

use std::collections::{BTreeMap, HashSet};

use domain::{ActionType, Channel};
use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use super::{Clause, MAX_APPROVALS, Policy};
use crate::{PolicyError, Role, Roles, normalise};

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

fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    Glob::new(pattern)
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("bad pattern `{pattern}`: {e}"))
}

impl Policy {
    /// Validates and compiles a policy text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let err = |reason: String| PolicyError::Invalid {
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
            let matcher = glob(&normalise(pattern)).map_err(|e| err(format!("{key}: {e}")))?;
            role_map.push((pattern.clone(), matcher, Roles::of(roles)));
        }
        let mut clauses = Vec::new();
        let mut names = HashSet::new();
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
}
