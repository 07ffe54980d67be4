//! Corrective actions on Jenkins and their state machine.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::incident::string_enum;

string_enum!(
    ActionType { Restart => "restart", Rollback => "rollback", Stop => "stop" }
);

string_enum!(
    /// ```text
    /// requested ─► pending_approval ─► approved ─► running ─► completed | failed
    ///     │              │                │
    ///     ├──────────────┴────────────────┴─► rejected
    ///     └─► running (no approval needed)
    /// ```
    ActionStatus {
        Requested => "requested",
        PendingApproval => "pending_approval",
        Approved => "approved",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Rejected => "rejected",
    }
);

string_enum!(
    /// Where a request or a change came from (recorded in the audit trail).
    Channel { Api => "api", Slack => "slack", Mcp => "mcp", Rule => "rule", System => "system" }
);

impl ActionStatus {
    /// The one place that says which transitions exist.
    pub fn can_transition_to(self, next: ActionStatus) -> bool {
        use ActionStatus::*;
        matches!(
            (self, next),
            (Requested, PendingApproval | Running | Rejected)
                | (PendingApproval, Approved | Rejected)
                | (Approved, Running | Rejected)
                | (Running, Completed | Failed)
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ActionStatus::Completed | ActionStatus::Failed | ActionStatus::Rejected
        )
    }

    /// The states a row must be in for a transition to `next` to apply; used to guard
    /// `UPDATE ... WHERE status = ANY(...)`.
    pub fn predecessors(next: ActionStatus) -> Vec<ActionStatus> {
        ActionStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.can_transition_to(next))
            .collect()
    }
}

/// An action as events describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionSummary {
    pub id: i64,
    pub action_type: ActionType,
    pub status: ActionStatus,
    pub target_job: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_build: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<i64>,
    pub requested_by: String,
    pub channel: Channel,
    pub requires_approval: bool,
    /// Distinct approvers (other than the requester) the policy requires.
    #[serde(default)]
    pub approvals_required: u32,
    /// The trusted service that relayed the request for `requested_by` (e.g. `amqp:chatops`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_via: Option<String>,
    /// Extra parameters (e.g. a rollback's target build), validated by the runner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What Jenkins said when an action ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<i64>,
    /// The build the action started (restart, rollback) or acted on (stop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_number: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The new build's result when the runner waited for it (`SUCCESS`, `FAILURE`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_result: Option<String>,
    pub duration_ms: u64,
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::ActionStatus::*;
    use super::*;

    #[test]
    fn transition_table() {
        let allowed = [
            (Requested, PendingApproval),
            (Requested, Running),
            (Requested, Rejected),
            (PendingApproval, Approved),
            (PendingApproval, Rejected),
            (Approved, Running),
            (Approved, Rejected),
            (Running, Completed),
            (Running, Failed),
        ];
        for from in ActionStatus::ALL {
            for to in ActionStatus::ALL {
                assert_eq!(
                    from.can_transition_to(*to),
                    allowed.contains(&(*from, *to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn terminal_states_go_nowhere() {
        for s in ActionStatus::ALL.iter().filter(|s| s.is_terminal()) {
            assert!(ActionStatus::ALL.iter().all(|n| !s.can_transition_to(*n)));
        }
        assert_eq!(
            ActionStatus::predecessors(Running),
            vec![Requested, Approved]
        );
        assert_eq!(
            "pending_approval".parse::<ActionStatus>().unwrap(),
            PendingApproval
        );
    }
}
