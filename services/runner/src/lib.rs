//! The runner: executes corrective Jenkins actions (restart, rollback, stop) requested on
//! `action_requests`, behind a guard, at most once, reporting through the outbox; and tells
//! the commits of a build to whoever trusted asks.
//!
//! - [`consumer`] takes requests off the queue;
//! - [`guard`] decides, with a reason, whether each may run;
//! - [`executor`] claims, runs and records an action;
//! - [`repo`] holds every statement on `action_executions`;
//! - [`reaper`] fails actions whose runner died;
//! - [`jenkins`] talks to Jenkins;
//! - [`commands`] answers read-only requests (`command.jenkins.changes`) on `runner.commands`.

mod app;
pub mod commands;
pub mod consumer;
mod error;
pub mod executor;
pub mod guard;
pub mod jenkins;
pub mod metrics;
pub mod model;
pub mod reaper;
pub mod repo;
pub mod settings;

pub use app::Application;
pub use error::RunnerError;
pub use settings::Settings;
