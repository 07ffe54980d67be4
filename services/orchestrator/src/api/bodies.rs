//! Request bodies and query strings of the REST API (also the RPC arguments).
//!
//! No body names who acts: the actor is the authenticated principal (bearer token, trusted
//! RabbitMQ user, rule). `user`, `requested_by` and `channel` are still accepted from older
//! clients and ignored.

use chrono::{DateTime, Utc};
use domain::ActionType;
use serde::{Deserialize, Serialize};

use crate::actions::NewRequest;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// Ignored: the actor is the authenticated principal.
    #[serde(default)]
    pub user: Option<String>,
    /// Ignored: the channel is the door the request came through.
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// Ignored: the actor is the authenticated principal.
    #[serde(default)]
    pub user: Option<String>,
    /// Ignored.
    #[serde(default)]
    pub channel: Option<String>,
    /// Why or how it was resolved (at most 2000 characters).
    #[serde(default)]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveByJobBody {
    /// The Jenkins job whose open incidents are resolved.
    #[schemars(
        length(min = 1, max = 512),
        regex(pattern = r"^[^\u0000]*\S[^\u0000]*$")
    )]
    pub job_name: String,
    /// Ignored: the actor is the authenticated principal.
    #[serde(default)]
    pub user: Option<String>,
    /// Ignored.
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyBody {
    /// Ignored: the actor is the authenticated principal.
    #[serde(default)]
    pub user: Option<String>,
    /// Ignored.
    #[serde(default)]
    pub channel: Option<String>,
    /// Why (at most 2000 characters).
    #[serde(default)]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = {"properties": {"action_type": {"enum": ["restart", "stop"]}}},
    "then" = {"required": ["target_build"], "properties": {"target_build": {"type": "integer"}}}
))]
pub struct ActionRequestBody {
    pub action_type: ActionType,
    /// The Jenkins job (folders as `team/app`).
    #[schemars(
        length(min = 1, max = 512),
        regex(
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub target_job: String,
    /// The build to act on; required for restart and stop.
    #[serde(default, deserialize_with = "domain::lenient::opt_i64")]
    #[schemars(range(min = 1))]
    pub target_build: Option<i64>,
    #[serde(default, deserialize_with = "domain::lenient::opt_i64")]
    pub incident_id: Option<i64>,
    /// Ask for an approval the policy does not require. The policy's requirement always
    /// applies: `false` never removes it.
    #[serde(default)]
    pub requires_approval: Option<bool>,
    #[serde(default)]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub reason: Option<String>,
    /// Extra parameters, e.g. `{"target_build": 41}` for a rollback.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub params: Option<serde_json::Value>,
    /// Ignored: the requester is the authenticated principal.
    #[serde(default)]
    pub requested_by: Option<String>,
    /// Ignored: the channel is the door the request came through.
    #[serde(default)]
    pub channel: Option<String>,
}

impl ActionRequestBody {
    pub fn into_request(self) -> NewRequest {
        NewRequest {
            action_type: self.action_type,
            target_job: self.target_job,
            target_build: self.target_build,
            incident_id: self.incident_id,
            requires_approval: self.requires_approval,
            reason: self.reason,
            params: self.params,
        }
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Only incidents detected since then.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostmortemQuery {
    /// A given version (1 is the first); the latest when absent.
    #[schemars(range(min = 1, max = 1000000))]
    pub version: Option<i32>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ResolvedList {
    pub resolved: Vec<crate::repo::incidents::IncidentRow>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RulesReloaded {
    pub rules: usize,
    pub enabled: usize,
    /// Orchestrator replicas that confirmed the reload (this one included).
    pub replicas: usize,
}

/// `GET /api/me`: who the server thinks you are.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Me {
    pub principal: String,
    pub roles: Vec<crate::auth::Role>,
    pub channel: domain::Channel,
    /// Whether the token is a bare development token.
    pub development_token: bool,
}
