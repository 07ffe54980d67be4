//! The detection rule engine: rules read from a TOML file, compiled once, evaluated on
//! every log.
//!
//! Invariant — pure: no I/O, no state, no clock. The exceptions are at the edge and named:
//! [`RuleSet::load`] (through which [`SharedRules::reload_from`], [`check_file`] and
//! [`test_file`] go) reads the rules file its caller names, [`test_file`] one log file, and
//! loading or replacing rules is logged through `tracing`; compiling and evaluating are
//! computations on their arguments. What needs state shared by replicas (threshold
//! counting, open incidents) is described in each [`RuleMatch`] and done by the
//! orchestrator in PostgreSQL.
//!
//! - [`RuleSet::from_toml_str`] / [`RuleSet::load`] validate and compile a rules file;
//!   errors ([`RulesError`]) name the rule and the reason.
//! - [`RuleSet::evaluate`] returns the matches of a log (hot path).
//! - [`RuleSet::explain`] says for every rule why it did or did not match.
//! - [`SharedRules`] holds the rules in use and swaps them on reload.
//! - [`check_file`] / [`test_file`] are what `orchestrator rules check|test` print.
//!
//! The file format is documented in `docs/RULES.md`.

mod cli;
mod compile;
mod condition;
mod error;
mod eval;
mod explain;
mod model;
mod shared;
mod template;
mod view;
mod when;

#[cfg(test)]
mod tests;

pub use cli::{check_file, format_explanations, parse_log_json, summary, test_file};
pub use compile::{ActionSpec, Rule, RuleSet, Threshold};
pub use error::{RuleRef, RulesError};
pub use eval::{Effect, MatchedAction, RuleMatch, fingerprint};
pub use explain::RuleExplanation;
pub use shared::SharedRules;
pub use template::MAX_RENDERED_CHARS;
pub use view::Field;

/// The shipped default rules, used when no rules path is configured.
pub const DEFAULT_RULES: &str = include_str!("../default.toml");
