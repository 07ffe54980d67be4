//! Integration tests, one binary (linking one test binary per file costs minutes).

mod common;
mod mcp_common;
mod rest_common;

mod action_bodies;
mod action_list;
mod action_sweep;
mod actions;
mod commands;
mod correlation;
mod future_logs;
mod identity;
mod ingest;
mod json_numbers;
mod lifecycle;
mod mcp_interop;
mod mcp_protocol;
mod mcp_tools;
mod mcp_transport;
mod memory;
mod memory_set;
mod oauth;
mod pagination;
mod postmortem_edits;
mod postmortems;
mod rest_actions;
mod rest_incidents;
mod rest_ingest_openapi;
mod runbooks;
mod runbooks_approve;
mod runbooks_doors;
mod runbooks_escalate;
mod thresholds;
