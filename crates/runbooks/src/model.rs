//! The compiled runbooks the conductor runs (the file as written is read in `file`).

use serde::{Deserialize, Serialize};

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Restart,
    Rollback,
    Stop,
    Verify,
    Approve,
    Wait,
    Resolve,
    Escalate,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Restart,
        Kind::Rollback,
        Kind::Stop,
        Kind::Verify,
        Kind::Approve,
        Kind::Wait,
        Kind::Resolve,
        Kind::Escalate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Restart => "restart",
            Kind::Rollback => "rollback",
            Kind::Stop => "stop",
            Kind::Verify => "verify",
            Kind::Approve => "approve",
            Kind::Wait => "wait",
            Kind::Resolve => "resolve",
            Kind::Escalate => "escalate",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Steps that request a Jenkins action through the policy and the runner.
    pub fn is_action(self) -> bool {
        matches!(self, Kind::Restart | Kind::Rollback | Kind::Stop)
    }

    /// Steps that end the run whatever happens.
    pub fn is_terminal(self) -> bool {
        matches!(self, Kind::Resolve | Kind::Escalate)
    }

    /// Steps that take time by design, so a loop through one cannot spin.
    pub fn waits(self) -> bool {
        matches!(self, Kind::Verify | Kind::Approve | Kind::Wait)
    }
}

/// Which build a rollback goes back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackTo {
    /// The job's last build that finished `SUCCESS`.
    LastSuccess,
    Build(i64),
}

/// What a `verify` step waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "condition", rename_all = "snake_case")]
pub enum VerifyCondition {
    /// A build of the incident's job newer than the one the run started from finished `SUCCESS`.
    NextBuildSuccess,
    /// The incident's rule matched no new log of its group for `window_secs` since the step began.
    NoNewOccurrences { window_secs: u64 },
}

impl VerifyCondition {
    pub fn name(&self) -> &'static str {
        match self {
            VerifyCondition::NextBuildSuccess => "next_build_success",
            VerifyCondition::NoNewOccurrences { .. } => "no_new_occurrences",
        }
    }
}

/// A step's parameters, checked for its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepParams {
    Action {
        requires_approval: Option<bool>,
    },
    Rollback {
        to: RollbackTo,
        requires_approval: Option<bool>,
    },
    Verify(VerifyCondition),
    /// A human gate: `approvals` distinct approvers (never the run's starter).
    Approve {
        approvals: u32,
    },
    Wait {
        duration_secs: u64,
    },
    Resolve {
        note: Option<String>,
    },
    Escalate {
        message: Option<String>,
    },
}

/// One step, its branches resolved to step indexes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub kind: Kind,
    pub params: StepParams,
    /// How long the step may take before its `on_timeout` branch (verify, action steps).
    pub timeout_secs: Option<u64>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub on_timeout: Option<String>,
    #[serde(skip)]
    pub(crate) success: Option<usize>,
    #[serde(skip)]
    pub(crate) failure: Option<usize>,
    #[serde(skip)]
    pub(crate) timeout: Option<usize>,
}

/// How long an action step waits for the runner's result when the file does not say.
pub const DEFAULT_ACTION_TIMEOUT_SECS: u64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runbook {
    pub name: String,
    pub version: u32,
    pub description: Option<String>,
    pub steps: Vec<Step>,
}

impl Runbook {
    pub fn step(&self, index: usize) -> Option<&Step> {
        self.steps.get(index)
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name == name)
    }

    /// The runbook as a run stores it (`runbook_runs.definition`).
    pub fn to_definition(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a runbook serialises")
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    TimedOut,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
        }
    }
}
