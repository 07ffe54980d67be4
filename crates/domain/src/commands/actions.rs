//! `command.actions.*`: what is asked for, whoever asks (`POST /api/actions`, the bus, an
//! MCP tool, a rule), the action record every door shows, approvals and denials.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{InvalidField, check_text};
use crate::action::ActionSummary;
use crate::events::ActionRef;
use crate::{ActionStatus, ActionType, Channel};

/// A corrective action to request. The policy decides whether the caller may and how many
/// approvals it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = {"properties": {"action_type": {"enum": ["restart", "stop"]}}},
    "then" = {"required": ["target_build"], "properties": {"target_build": {"type": "integer"}}}
))]
pub struct ActionRequest {
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_i64"
    )]
    #[schemars(range(min = 1))]
    pub target_build: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_i64"
    )]
    pub incident_id: Option<i64>,
    /// Ask for an approval the policy does not require. The policy's requirement always
    /// applies: `false` never removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_approval: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub reason: Option<String>,
    /// Extra parameters, e.g. `{"target_build": 41}` for a rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub params: Option<serde_json::Value>,
}

impl ActionRequest {
    /// A request with nothing but its target.
    pub fn new(action_type: ActionType, target_job: impl Into<String>) -> Self {
        ActionRequest {
            action_type,
            target_job: target_job.into(),
            target_build: None,
            incident_id: None,
            requires_approval: None,
            reason: None,
            params: None,
        }
    }

    pub fn check(&self) -> Result<(), InvalidField> {
        let job = self.target_job.trim();
        if job.is_empty() || job.chars().count() > 512 || job.chars().any(char::is_control) {
            return Err(InvalidField::new(
                "target_job",
                "target_job must be 1..=512 characters without control characters",
            ));
        }
        if let Some(problem) = crate::job_name::job_name_problem(job) {
            return Err(InvalidField::new("target_job", problem));
        }
        if let Some(b) = self.target_build
            && b <= 0
        {
            return Err(InvalidField::new(
                "target_build",
                format!("target_build {b} must be positive"),
            ));
        }
        if let Some(p) = &self.params
            && !p.is_object()
        {
            return Err(InvalidField::new("params", "params must be a JSON object"));
        }
        if let Some((_, reason)) = self
            .params
            .as_ref()
            .and_then(|p| crate::json::unstorable_number("params", p))
        {
            return Err(InvalidField::new("params", reason));
        }
        check_text("reason", self.reason.as_deref(), 2000)?;
        if matches!(self.action_type, ActionType::Restart | ActionType::Stop)
            && self.target_build.is_none()
        {
            return Err(InvalidField::new(
                "target_build",
                format!("a {} needs target_build", self.action_type),
            ));
        }
        Ok(())
    }
}

/// `command.actions.get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetAction {
    pub id: i64,
}

/// `command.actions.approve`: one approval, by the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveAction {
    pub id: i64,
}

/// The body of `POST /api/actions/{id}/deny`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyReason {
    /// Why (at most 2000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub reason: Option<String>,
}

/// `command.actions.deny`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyAction {
    pub id: i64,
    /// Why (at most 2000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub reason: Option<String>,
}

impl DenyAction {
    pub fn check(&self) -> Result<(), InvalidField> {
        check_text("reason", self.reason.as_deref(), 2000)
    }
}

/// One person's approval of an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Approval {
    pub by: String,
    pub at: DateTime<Utc>,
    /// `api`, `slack` or `mcp`.
    pub channel: String,
    /// The trusted service that relayed it (`amqp:chatops`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// An action as stored, as every door shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Action {
    pub id: i64,
    /// `restart`, `rollback` or `stop`.
    pub action_type: String,
    /// `requested`, `pending_approval`, `approved`, `running`, `completed`, `failed` or
    /// `rejected`.
    pub status: String,
    pub target_job: String,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    pub requested_by: String,
    /// `api`, `slack`, `mcp`, `rule` or `system`.
    pub channel: String,
    pub requires_approval: bool,
    /// Distinct approvers the policy requires before the runner may act.
    pub approvals_required: i32,
    /// The policy clause that allowed the request.
    pub policy_clause: Option<String>,
    /// The trusted service that relayed the request for `requested_by` (`amqp:chatops`).
    pub requested_via: Option<String>,
    /// The approver whose approval made it `approved` (see `approvals` for all of them).
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    /// Every approval, oldest first: who, when, through which door.
    #[serde(default)]
    pub approvals: Vec<Approval>,
    pub rejected_by: Option<String>,
    pub reason: Option<String>,
    /// Why the guard (or the expiry sweep) rejected it; `reason` stays the requester's.
    pub rejection_reason: Option<String>,
    pub params: serde_json::Value,
    pub dry_run: Option<bool>,
    pub claimed_by: Option<String>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    /// The class of a failure (`jenkins_5xx`, `runner_lost`, `build_failed`...).
    pub error_kind: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Action {
    // The table's CHECK constraints guarantee these columns hold the enums' words.
    pub fn status(&self) -> ActionStatus {
        self.status.parse().unwrap_or(ActionStatus::Requested)
    }

    pub fn action_type(&self) -> ActionType {
        self.action_type.parse().unwrap_or(ActionType::Restart)
    }

    /// Approvals needed; rows from before the policy asked one when `requires_approval`.
    pub fn required_approvals(&self) -> u32 {
        let n = self.approvals_required.max(0) as u32;
        if self.requires_approval { n.max(1) } else { n }
    }

    /// What events say about it.
    pub fn summary(&self) -> ActionSummary {
        ActionSummary {
            id: self.id,
            action_type: self.action_type(),
            status: self.status(),
            target_job: self.target_job.clone(),
            target_build: self.target_build,
            incident_id: self.incident_id,
            requested_by: self.requested_by.clone(),
            channel: self.channel.parse().unwrap_or(Channel::Api),
            requires_approval: self.requires_approval,
            approvals_required: self.required_approvals(),
            requested_via: self.requested_via.clone(),
            params: (self.params != serde_json::json!({})).then(|| self.params.clone()),
            reason: self.reason.clone(),
            created_at: self.created_at,
        }
    }

    /// How result events name it.
    pub fn reference(&self) -> ActionRef {
        ActionRef {
            action_id: self.id,
            action_type: self.action_type(),
            target_job: self.target_job.clone(),
            target_build: self.target_build,
            incident_id: self.incident_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_name_no_actor_and_are_checked() {
        let ok: ActionRequest = serde_json::from_value(
            json!({"action_type": "restart", "target_job": "a", "target_build": 4.0}),
        )
        .unwrap();
        assert_eq!(ok.target_build, Some(4));
        assert!(ok.check().is_ok());
        for dead in ["requested_by", "channel", "user"] {
            let mut v = json!({"action_type": "rollback", "target_job": "a"});
            v[dead] = json!("x");
            assert!(
                serde_json::from_value::<ActionRequest>(v).is_err(),
                "{dead}"
            );
        }
        let mut r = ActionRequest::new(ActionType::Stop, "a");
        assert_eq!(r.check().unwrap_err().field, "target_build");
        r.target_build = Some(1);
        r.params = Some(json!([1]));
        assert_eq!(r.check().unwrap_err().field, "params");
        r.params = None;
        r.reason = Some("x".repeat(2001));
        assert_eq!(
            r.check().unwrap_err().message,
            "reason must be at most 2000 characters without NUL"
        );
        // What a caller sends is what it serialises: no nulls for absent fields.
        assert_eq!(
            serde_json::to_value(ActionRequest::new(ActionType::Rollback, "a")).unwrap(),
            json!({"action_type": "rollback", "target_job": "a"})
        );
    }
}
