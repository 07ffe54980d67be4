//! Watches every service, keeps the event log and the audit trail, exports metrics.
//!
//! - `catalog`: heartbeats register instances; silent ones go down; services go up and down
//!   once per transition, whatever the number of monitors;
//! - `probes`: HTTP checks of configured services outside Runbooks;
//! - `uptime`: samples, windows and compaction of `health_checks`;
//! - `events`: every `logs.events` message in `system_events`, `audit.*` also in `audit_log`;
//! - `api`: the HTTP side (dashboard, event log, audit, metrics, catalog);
//! - `console`: the operator console (`/console`), people logged in with their own token;
//! - `rpc`: `command.health.status`.

pub mod api;
mod app;
pub mod catalog;
pub mod console;
pub mod core;
pub mod cors;
pub mod error;
pub mod events;
mod leader;
pub mod metrics;
pub mod probes;
pub mod repo;
mod rpc;
pub mod settings;
pub mod target;
pub mod uptime;

pub use app::Application;
pub use settings::Settings;
