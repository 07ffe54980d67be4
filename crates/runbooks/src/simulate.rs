//! `orchestrator runbooks test --simulate`: the path a run would take against scripted
//! outcomes, computed by the same [`Runbook::next`] the conductor uses. Nothing is touched.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::error::RunbooksError;
use crate::machine::{End, Next, Outcome};
use crate::model::{Kind, Runbook, StepParams, VerifyCondition};
use crate::validate::MAX_TRANSITIONS;

/// Scripted outcomes, consumed in order per key:
/// - `action=ok|failed|rejected|timeout` — restart, rollback and stop steps (default `ok`);
/// - `build=SUCCESS|FAILURE|ABORTED|UNSTABLE|none` — `next_build_success` verify steps
///   (`none`, or no `build=` left: no build finished before the deadline);
/// - `logs=quiet|seen` — `no_new_occurrences` verify steps (default `quiet`);
/// - `approve=ok|timeout` — approve steps (default `ok`).
#[derive(Debug, Clone, Default)]
pub struct Scripted {
    queues: BTreeMap<String, VecDeque<String>>,
}

pub fn parse_script(s: &str) -> Result<Scripted, RunbooksError> {
    let mut out = Scripted::default();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| RunbooksError::Script(format!("`{item}` is not key=VALUE")))?;
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
        let allowed: &[&str] = match k.as_str() {
            "action" => &["ok", "failed", "rejected", "timeout"],
            "build" => &["SUCCESS", "FAILURE", "ABORTED", "UNSTABLE", "none"],
            "logs" => &["quiet", "seen"],
            "approve" => &["ok", "timeout"],
            _ => {
                return Err(RunbooksError::Script(format!(
                    "unknown key `{k}` (one of: action, build, logs, approve)"
                )));
            }
        };
        let v = allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&v))
            .ok_or_else(|| {
                RunbooksError::Script(format!("`{k}={v}`: one of {}", allowed.join(", ")))
            })?;
        out.queues.entry(k).or_default().push_back(v.to_string());
    }
    Ok(out)
}

impl Scripted {
    fn take(&mut self, key: &str) -> Option<String> {
        self.queues.get_mut(key).and_then(VecDeque::pop_front)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SimStep {
    pub step: String,
    pub kind: Kind,
    pub outcome: Outcome,
    /// The scripted value the outcome came from, when there was one.
    pub because: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    pub runbook: String,
    pub version: u32,
    pub steps: Vec<SimStep>,
    pub end: End,
}

/// The path of a run of `rb` when its steps end as `script` says.
pub fn simulate(rb: &Runbook, mut script: Scripted) -> Simulation {
    let mut steps = Vec::new();
    let mut at = 0;
    let end = loop {
        if steps.len() as u32 >= MAX_TRANSITIONS {
            break End::Unverified;
        }
        let step = &rb.steps[at];
        let (outcome, because) = match (&step.kind, &step.params) {
            (k, _) if k.is_action() => match script.take("action").as_deref() {
                None | Some("ok") => (Outcome::Succeeded, "action completed".to_string()),
                Some("timeout") => (Outcome::TimedOut, "no result before the deadline".into()),
                Some(v) => (Outcome::Failed, format!("action {v}")),
            },
            (_, StepParams::Verify(VerifyCondition::NextBuildSuccess)) => {
                match script.take("build").as_deref() {
                    Some("SUCCESS") => (Outcome::Succeeded, "build=SUCCESS".into()),
                    None | Some("none") => {
                        (Outcome::TimedOut, "no build before the deadline".into())
                    }
                    Some(v) => (Outcome::Failed, format!("build={v}")),
                }
            }
            (_, StepParams::Verify(VerifyCondition::NoNewOccurrences { .. })) => {
                match script.take("logs").as_deref() {
                    None | Some("quiet") => (Outcome::Succeeded, "logs=quiet".into()),
                    Some(v) => (Outcome::Failed, format!("logs={v}")),
                }
            }
            (Kind::Approve, _) => match script.take("approve").as_deref() {
                None | Some("ok") => (Outcome::Succeeded, "approved".into()),
                Some(_) => (Outcome::TimedOut, "no approval before the deadline".into()),
            },
            (Kind::Wait, _) => (Outcome::Succeeded, "waited".into()),
            (Kind::Resolve, _) => (Outcome::Succeeded, "incident resolved".into()),
            (Kind::Escalate, _) => (Outcome::Succeeded, "escalated".into()),
            _ => (Outcome::Succeeded, String::new()),
        };
        steps.push(SimStep {
            step: step.name.clone(),
            kind: step.kind,
            outcome,
            because,
        });
        match rb.next(at, outcome) {
            Next::Step(i) => at = i,
            Next::End(e) => break e,
        }
    };
    Simulation {
        runbook: rb.name.clone(),
        version: rb.version,
        steps,
        end,
    }
}

impl std::fmt::Display for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "runbook {} v{}", self.runbook, self.version)?;
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(
                f,
                "  {}. {} ({}): {} — {}",
                i + 1,
                s.step,
                s.kind.as_str(),
                s.outcome.as_str(),
                s.because
            )?;
        }
        let what = match self.end {
            End::Resolved => "resolved: verified recovery, the incident is closed",
            End::Escalated => "escalated: the incident stays open",
            End::Unverified => {
                "ended without verification: the incident stays open and the run escalates"
            }
        };
        write!(f, "  end: {what}")
    }
}
