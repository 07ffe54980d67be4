//! The state machine: where a run goes after a step's outcome. The conductor persists the
//! answer in the same transaction as the outcome, so a run never takes a branch twice.

use serde::Serialize;

pub use crate::model::Outcome;
use crate::model::{Kind, Runbook};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// A verify step passed and the resolve step closed the incident.
    Resolved,
    /// An escalate step ran.
    Escalated,
    /// The run ran out of steps (or a step failed without a branch) before any verified
    /// resolution: the incident stays open and the conductor escalates.
    Unverified,
}

impl End {
    pub fn as_str(self) -> &'static str {
        match self {
            End::Resolved => "resolved",
            End::Escalated => "escalated",
            End::Unverified => "unverified",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Step(usize),
    End(End),
}

impl Runbook {
    /// The step (or end) after step `at` ended with `outcome`.
    ///
    /// - `resolve` ends the run resolved when it succeeded, unverified when it could not
    ///   resolve; `escalate` ends it escalated.
    /// - success: `on_success`, else the next step in order, else the end (unverified);
    /// - failure: `on_failure`, else the end (unverified);
    /// - timeout: `on_timeout`, else `on_failure`, else the end (unverified).
    pub fn next(&self, at: usize, outcome: Outcome) -> Next {
        let Some(step) = self.steps.get(at) else {
            return Next::End(End::Unverified);
        };
        match (step.kind, outcome) {
            (Kind::Resolve, Outcome::Succeeded) => return Next::End(End::Resolved),
            (Kind::Resolve, _) => return Next::End(End::Unverified),
            (Kind::Escalate, _) => return Next::End(End::Escalated),
            _ => {}
        }
        let target = match outcome {
            Outcome::Succeeded => step
                .success
                .or_else(|| (at + 1 < self.steps.len()).then_some(at + 1)),
            Outcome::Failed => step.failure,
            Outcome::TimedOut => step.timeout.or(step.failure),
        };
        target.map_or(Next::End(End::Unverified), Next::Step)
    }

    /// Every step `at` may lead to, with the outcome that leads there.
    pub(crate) fn edges(&self, at: usize) -> Vec<(Outcome, usize)> {
        [Outcome::Succeeded, Outcome::Failed, Outcome::TimedOut]
            .into_iter()
            .filter_map(|o| match self.next(at, o) {
                Next::Step(i) => Some((o, i)),
                Next::End(_) => None,
            })
            .collect()
    }
}
