//! Request bodies and query strings of the REST API (also the RPC arguments).

use chrono::{DateTime, Utc};
use domain::{ActionType, Channel};
use serde::{Deserialize, Serialize};

use crate::actions::NewRequest;
use crate::error::ServiceError;
use crate::events::Actor;

fn actor(user: &str, channel: Channel) -> Result<Actor, ServiceError> {
    let user = user.trim();
    if user.is_empty() || user.len() > 200 || user.chars().any(char::is_control) {
        return Err(ServiceError::Unprocessable(
            "user must be 1..=200 printable characters".into(),
        ));
    }
    Ok(Actor::new(user, channel))
}

/// Bodies that name who acts and, optionally, through which channel.
macro_rules! acting {
    ($($body:ident),+) => {
        $(impl $body {
            pub fn actor(&self, default: Channel) -> Result<Actor, ServiceError> {
                actor(&self.user, self.channel.unwrap_or(default))
            }
        })+
    };
}
acting!(UserBody, ResolveBody, ResolveByJobBody, DenyBody);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// Who does it (recorded in the audit trail).
    pub user: String,
    /// Where the request comes from; `api` by default (`slack` when chatops relays it).
    #[serde(default)]
    pub channel: Option<Channel>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    pub user: String,
    #[serde(default)]
    pub channel: Option<Channel>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveByJobBody {
    pub job_name: String,
    pub user: String,
    #[serde(default)]
    pub channel: Option<Channel>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyBody {
    pub user: String,
    #[serde(default)]
    pub channel: Option<Channel>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequestBody {
    pub action_type: ActionType,
    pub target_job: String,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    /// Defaults to `false` for restart and `true` for rollback and stop.
    pub requires_approval: Option<bool>,
    pub reason: Option<String>,
    pub params: Option<serde_json::Value>,
    /// Who asks (they cannot approve it themselves).
    pub requested_by: String,
    #[serde(default)]
    pub channel: Option<Channel>,
}

impl ActionRequestBody {
    pub fn split(self, default: Channel) -> Result<(NewRequest, Actor), ServiceError> {
        let actor = actor(&self.requested_by, self.channel.unwrap_or(default))?;
        let req = NewRequest {
            action_type: self.action_type,
            target_job: self.target_job,
            target_build: self.target_build,
            incident_id: self.incident_id,
            requires_approval: self.requires_approval,
            reason: self.reason,
            params: self.params,
        };
        Ok((req, actor))
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Only incidents detected since then.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ResolvedList {
    pub resolved: Vec<crate::repo::incidents::IncidentRow>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RulesReloaded {
    pub rules: usize,
    pub enabled: usize,
}
