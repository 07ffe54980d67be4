//! An `action_executions` row as the runner reads it: a projection of the columns the runner
//! needs, not the table (the orchestrator's `domain::commands::Action` is the whole row).

use domain::events::ActionRef;
use domain::{ActionStatus, ActionType};
use serde_json::Value;

use crate::error::RunnerError;

/// The columns every query returns, in the order of [`ActionRow`].
macro_rules! columns {
    () => {
        "id, action_type, status, target_job, target_build, incident_id, requires_approval, \
         params, dry_run, claimed_by"
    };
}
pub(crate) use columns;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ActionRow {
    pub id: i64,
    pub action_type: String,
    pub status: String,
    pub target_job: String,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    pub requires_approval: bool,
    pub params: Value,
    pub dry_run: Option<bool>,
    pub claimed_by: Option<String>,
}

/// An action, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub id: i64,
    pub action_type: ActionType,
    pub status: ActionStatus,
    pub target_job: String,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    pub requires_approval: bool,
    pub params: Value,
    /// Set when the request itself asks for a dry run (or once claimed).
    pub dry_run: Option<bool>,
    pub claimed_by: Option<String>,
}

impl TryFrom<ActionRow> for Action {
    type Error = RunnerError;

    fn try_from(r: ActionRow) -> Result<Self, Self::Error> {
        let corrupt = |column, reason| RunnerError::CorruptRow {
            id: r.id,
            column,
            reason,
        };
        Ok(Action {
            action_type: r
                .action_type
                .parse()
                .map_err(|e| corrupt("action_type", e))?,
            status: r.status.parse().map_err(|e| corrupt("status", e))?,
            id: r.id,
            target_job: r.target_job,
            target_build: r.target_build,
            incident_id: r.incident_id,
            requires_approval: r.requires_approval,
            params: r.params,
            dry_run: r.dry_run,
            claimed_by: r.claimed_by,
        })
    }
}

impl Action {
    /// How events name this action.
    pub fn reference(&self) -> ActionRef {
        ActionRef {
            action_id: self.id,
            action_type: self.action_type,
            target_job: self.target_job.clone(),
            target_build: self.target_build,
            incident_id: self.incident_id,
        }
    }
}
