//! Runbooks: named, versioned multi-step remediation flows read from a TOML file.
//!
//! Invariant — pure: no I/O, no clock, no state. [`RunbookSet::load`] reads the file its
//! caller names and [`check_file`] / [`test_file`] read theirs; everything else is a
//! computation on its arguments. The orchestrator's conductor persists runs and steps and
//! asks [`Runbook::next`] where a run goes after each step's outcome, so the path a run
//! takes in production is the one [`simulate`] prints.
//!
//! The format is documented in `docs/RUNBOOKS.md`.

mod cli;
mod duration;
mod error;
mod file;
mod machine;
mod model;
mod simulate;
mod validate;

#[cfg(test)]
mod tests;

pub use cli::{check_file, test_file};
pub use duration::parse_duration;
pub use error::RunbooksError;
pub use file::RunbookSet;
pub use machine::{End, Next};
pub use model::{
    DEFAULT_ACTION_TIMEOUT_SECS, Kind, Outcome, RollbackTo, Runbook, Step, StepParams,
    VerifyCondition,
};
pub use simulate::{Scripted, SimStep, Simulation, parse_script, simulate};
pub use validate::MAX_TRANSITIONS;

/// The shipped default runbooks, used when no runbooks path is configured.
pub const DEFAULT_RUNBOOKS: &str = include_str!("../default.toml");
