//! Who acts and which roles they hold: [`Role`], [`Roles`], [`Actor`], and the normal form
//! principals are compared on.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use domain::Channel;
use serde::Serialize;

use crate::Policy;

/// What a principal may do, coarsely; the policy refines action requests.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read incidents, actions, logs, stats.
    Viewer,
    /// Acknowledge and resolve incidents, request actions.
    Operator,
    /// Approve or deny actions waiting for approval (never one's own).
    Approver,
    /// Everything, including rules reloads.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role `{other}` (expected viewer, operator, approver or admin)"
            )),
        }
    }
}

/// A set of roles. Every role includes `viewer`; `admin` includes every role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    pub fn none() -> Self {
        Roles::default()
    }

    pub fn of(roles: impl IntoIterator<Item = Role>) -> Self {
        Roles(roles.into_iter().collect())
    }

    pub fn has(&self, role: Role) -> bool {
        self.0.contains(&role)
            || self.0.contains(&Role::Admin)
            || (role == Role::Viewer && !self.0.is_empty())
    }

    pub fn extend(&mut self, other: &Roles) {
        self.0.extend(other.0.iter().copied());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.0.iter().map(|r| r.as_str()).collect();
        f.write_str(&names.join("+"))
    }
}

/// Principals are compared on this form: trimmed, lowercase. `Slack:U1 ` and `slack:u1`
/// are the same person, so one cannot approve the other's request.
pub fn normalise(principal: &str) -> String {
    principal.trim().to_lowercase()
}

/// Who does something, as the server established it.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// The effective principal the policy judges and the records name: a token's name,
    /// `rule:<name>`, `amqp:<rabbitmq user>`, or the end user a trusted service acts for
    /// (`slack:U123`).
    pub name: String,
    /// When a trusted service acts for `name`: that service's principal (`amqp:chatops`).
    pub via: Option<String>,
    pub channel: Channel,
    pub roles: Roles,
    /// Groups the principal belongs to (e.g. `slack-group:S0OPS`), used for role mapping.
    pub groups: Vec<String>,
}

impl Actor {
    /// An actor whose roles come from the policy's mapping only (rules, system tasks).
    pub fn new(name: impl Into<String>, channel: Channel, roles: Roles) -> Self {
        Actor {
            name: name.into(),
            via: None,
            channel,
            roles,
            groups: Vec::new(),
        }
    }

    /// A rule acting on its own (`rule:<name>`), with the roles the policy gives it.
    pub fn rule(rule: &str, policy: &Policy) -> Self {
        let name = format!("rule:{rule}");
        let roles = policy.roles_of(&name, &[]);
        Actor::new(name, Channel::Rule, roles)
    }

    /// The orchestrator itself (sweeps, expiries, signals): every role.
    pub fn system(what: &str) -> Self {
        Actor::new(
            format!("system:{what}"),
            Channel::System,
            Roles::of([Role::Admin]),
        )
    }

    /// The principal the server authenticated (the service when delegated).
    pub fn authenticated(&self) -> &str {
        self.via.as_deref().unwrap_or(&self.name)
    }

    /// The end user when a service acts for one.
    pub fn on_behalf_of(&self) -> Option<&str> {
        self.via.as_ref().map(|_| self.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_imply_viewer_and_admin_implies_all() {
        let op = Roles::of([Role::Operator]);
        assert!(op.has(Role::Viewer) && op.has(Role::Operator));
        assert!(!op.has(Role::Approver) && !op.has(Role::Admin));
        let admin = Roles::of([Role::Admin]);
        assert!(Role::ALL.iter().all(|r| admin.has(*r)));
        assert!(Role::ALL.iter().all(|r| !Roles::none().has(*r)));
        assert_eq!(
            Roles::of([Role::Approver, Role::Operator]).to_string(),
            "operator+approver"
        );
    }

    #[test]
    fn principals_compare_normalised() {
        assert_eq!(normalise(" Slack:U1 "), normalise("slack:u1"));
    }
}
