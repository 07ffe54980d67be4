//! `[mcp]`: the MCP server's settings.

use runtime::{SettingsError, string_list};
use serde::Deserialize;

// ------------------------------------------------------------------ [mcp] (MCP server)

/// The MCP server (`/mcp` over streamable HTTP, `orchestrator mcp` over stdio).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct McpSettings {
    /// List the write tools (acknowledge, resolve, request actions, approve) to principals
    /// whose roles allow them. Off: MCP is read-only whoever asks.
    pub write_tools: bool,
    /// `Host` names (or `host:port`) `/mcp` answers; others get 403 (DNS rebinding). `*`
    /// accepts any (only behind a proxy that checks the host itself).
    #[serde(deserialize_with = "string_list")]
    pub allowed_hosts: Vec<String>,
    /// Browser origins (`https://app.example.com:443`, `http://localhost:*`) allowed on
    /// `/mcp`; a request carrying any other `Origin` gets 403. Requests without one pass.
    #[serde(deserialize_with = "string_list")]
    pub allowed_origins: Vec<String>,
    /// `orchestrator mcp` acts as `mcp:<stdio_principal>`.
    pub stdio_principal: String,
    /// Roles of the stdio principal, on top of those the policy's `[roles]` gives it.
    #[serde(deserialize_with = "string_list")]
    pub stdio_roles: Vec<String>,
    /// Write calls one principal may make per minute (per process).
    pub write_calls_per_minute: u32,
    /// How long `get_service_health` waits for the health monitor.
    pub health_timeout_ms: u64,
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings {
            write_tools: false,
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: Vec::new(),
            stdio_principal: "desktop".into(),
            stdio_roles: vec!["viewer".into()],
            write_calls_per_minute: 10,
            health_timeout_ms: 3000,
        }
    }
}

impl McpSettings {
    /// The stdio principal's configured roles; the error names the key.
    pub fn stdio_roles(&self) -> Result<crate::auth::Roles, SettingsError> {
        self.stdio_roles
            .iter()
            .map(|r| r.parse())
            .collect::<Result<Vec<crate::auth::Role>, String>>()
            .map(crate::auth::Roles::of)
            .map_err(|e| SettingsError::Invalid(format!("mcp.stdio_roles: {e}")))
    }

    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, why: &str| Err(SettingsError::Invalid(format!("mcp.{key}: {why}")));
        if !crate::auth::tokens::valid_name(&self.stdio_principal) {
            return bad(
                "stdio_principal",
                "must be 1..=64 letters, digits, `.`, `_`, `-` or `@`",
            );
        }
        self.stdio_roles()?;
        if self.write_calls_per_minute == 0 {
            return bad("write_calls_per_minute", "must be at least 1");
        }
        if self.health_timeout_ms == 0 || self.health_timeout_ms > 60_000 {
            return bad("health_timeout_ms", "must be between 1 and 60000");
        }
        if self.allowed_hosts.is_empty() {
            return bad(
                "allowed_hosts",
                "must name at least one host (the Host header is checked against it)",
            );
        }
        if let Some(o) = self
            .allowed_origins
            .iter()
            .find(|o| *o != "null" && !o.contains("://"))
        {
            return bad(
                "allowed_origins",
                &format!("`{o}` needs a scheme, e.g. `https://{o}`"),
            );
        }
        Ok(())
    }
}
