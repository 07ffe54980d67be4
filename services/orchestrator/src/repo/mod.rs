//! SQL of the orchestrator's tables. Nothing outside this folder writes SQL.

pub mod actions;
pub mod hits;
pub mod incidents;
pub mod logs;
pub mod mcp_sessions;
pub mod postmortems;
pub mod related;
