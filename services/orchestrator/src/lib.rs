//! The orchestrator: stores logs from `orchestrator.logs` in
//! batches, detects incidents with rules, creates actions and follows their results, and
//! serves the REST API (HTTP bridge), `/mcp` and the `command.*` RPC. Events leave through
//! the outbox.
//!
//! Layers, each importing only those below it: `settings`, `error`, `metrics`, `events`,
//! `auth` → `repo` (SQL) → `authz`, `base` and the feature services (`incidents`,
//! `actions`, `postmortem`, `logs`, `reload`, `retention`, `runbooks`) → `services` (the bundle the
//! doors get) → the doors (`api`, `rpc`, `mcp`) → `app` (the assembler).

pub mod actions;
pub mod api;
mod app;
pub mod auth;
pub mod authz;
pub mod base;
pub mod error;
pub mod events;
pub mod incidents;
pub mod logs;
pub mod mcp;
pub mod metrics;
pub mod postmortem;
pub mod reload;
pub mod repo;
pub mod retention;
pub mod rpc;
pub mod runbooks;
pub mod services;
pub mod settings;

pub use app::Application;
pub use services::{Services, StartError};
pub use settings::Settings;
