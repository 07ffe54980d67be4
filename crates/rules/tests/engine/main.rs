//! The rule engine through its public API, one binary: validation errors, conditions,
//! matches and the shipped defaults with the `rules check|test` output.

mod common;

mod conditions;
mod defaults_cli;
mod matches;
mod validation;
