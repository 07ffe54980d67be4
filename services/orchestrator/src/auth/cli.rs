//! `orchestrator policy check|explain` and `orchestrator token new`: what operators run
//! before putting a policy or a token in place.

use std::path::Path;

use domain::{ActionType, Channel};

use super::{ActionDecision, Policy, Role, Roles, tokens};

/// `policy check FILE`: validates and summarises.
pub fn check_file(path: &Path) -> Result<String, String> {
    let p = Policy::load(Some(path)).map_err(|e| e.to_string())?;
    let mut out = format!("{}: ok, {} action clause(s)\n", p.origin, p.clauses.len());
    for (pattern, roles) in p.role_patterns() {
        out.push_str(&format!("  role  {pattern} = {roles}\n"));
    }
    for c in &p.clauses {
        let actions: Vec<&str> = c.actions.iter().map(|a| a.as_str()).collect();
        let jobs: Vec<&str> = c.jobs.iter().map(|(j, _)| j.as_str()).collect();
        let roles: Vec<&str> = c.roles.iter().map(|r| r.as_str()).collect();
        let channels = c
            .channels
            .as_ref()
            .map(|c| c.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(","))
            .unwrap_or_else(|| "any".into());
        out.push_str(&format!(
            "  clause {}: {} on {} by {} via {}, {} approval(s)\n",
            c.name,
            actions.join(","),
            jobs.join(","),
            roles.join("|"),
            channels,
            c.approvals
        ));
    }
    Ok(out)
}

/// The question `policy explain` answers.
pub struct Explain<'a> {
    pub principal: &'a str,
    /// Roles held besides the policy's mapping (e.g. those of the principal's API token).
    pub roles: &'a [Role],
    pub groups: &'a [String],
    pub action: ActionType,
    pub job: &'a str,
    pub channel: Channel,
    pub ask_approval: bool,
}

pub fn explain(policy_path: Option<&Path>, q: &Explain<'_>) -> Result<(String, bool), String> {
    let p = Policy::load(policy_path).map_err(|e| e.to_string())?;
    let mut roles = p.roles_of(q.principal, q.groups);
    roles.extend(&Roles::of(q.roles.iter().copied()));
    let mut out = format!(
        "principal {} (roles: {roles}) asks {} on `{}` via {} [policy {}]\n",
        q.principal, q.action, q.job, q.channel, p.origin
    );
    let allowed = match p.decide(&roles, q.channel, q.action, q.job, q.ask_approval) {
        ActionDecision::Allow { clause, approvals } => {
            out.push_str(&format!(
                "ALLOW by clause `{clause}`: {approvals} distinct approver(s) needed besides the requester\n"
            ));
            true
        }
        ActionDecision::Deny { clause, reason, .. } => {
            out.push_str(&format!(
                "DENY by {}: {reason}\n",
                clause
                    .map(|c| format!("clause `{c}`"))
                    .unwrap_or_else(|| "default deny".into())
            ));
            false
        }
    };
    out.push_str("the runner's guard still checks the allow-list, hours, concurrency and cooldown at execution time\n");
    Ok((out, allowed))
}

/// `token new NAME --role R...`: the token to hand over once, and the line to configure.
pub fn token_new(name: &str, roles: &[Role]) -> Result<String, String> {
    let (token, line) = tokens::new_token(name, &Roles::of(roles.iter().copied()))?;
    Ok(format!(
        "token (give it to {name}; it is not stored anywhere):\n  {token}\n\
         configuration line (RUNBOOKS__API__TOKENS entry, comma-separated, or a line of api.tokens_file):\n  {line}\n"
    ))
}
