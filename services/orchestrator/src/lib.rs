//! The orchestrator (seed 003's MCP Orchestrator): stores logs from `orchestrator.logs` in
//! batches, detects incidents with rules, creates actions and follows their results, and
//! serves the REST API (HTTP bridge) and the `command.*` RPC. Events leave through the
//! outbox.

pub mod actions;
pub mod api;
mod app;
pub mod auth;
pub mod core;
mod detect;
pub mod error;
pub mod events;
pub mod incidents;
pub mod ingest;
pub mod mcp;
pub mod metrics;
pub mod postmortem;
mod reload;
pub mod repo;
pub mod retention;
pub mod rpc;
pub mod settings;

pub use app::{Application, StartError};
pub use settings::Settings;
