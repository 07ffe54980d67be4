//! What only REST answers; every other body, query string and reply is a
//! `domain::commands` type, shared with the bus and MCP.

use serde::Serialize;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RulesReloaded {
    pub rules: usize,
    pub enabled: usize,
    /// Orchestrator replicas that confirmed the reload (this one included).
    pub replicas: usize,
}

/// `GET /api/me`: who the server thinks you are.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Me {
    pub principal: String,
    pub roles: Vec<crate::auth::Role>,
    pub channel: domain::Channel,
    /// Whether the token is a bare development token.
    pub development_token: bool,
}
