//! `command.postmortems.*` and the post-mortem routes: a stored report, its versions and the
//! view chatops and MCP clients read.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::InvalidField;

/// A stored report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Postmortem {
    pub id: i64,
    pub incident_id: i64,
    /// 1 for the first report of the incident.
    pub version: i32,
    pub title: String,
    pub summary: String,
    /// The report, in Markdown.
    pub markdown: String,
    /// `llm` or `template`.
    pub writer: String,
    /// Why the template wrote it, when it did (LLM disabled, unreachable, incomplete answer).
    pub writer_note: Option<String>,
    /// The model that wrote it, when the LLM did.
    pub model: Option<String>,
    /// `resolved` or `on_demand`.
    pub trigger: String,
    pub requested_by: String,
    /// Everything the report was written from.
    pub facts: serde_json::Value,
    pub generated_at: DateTime<Utc>,
}

/// One version in a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PostmortemVersion {
    pub id: i64,
    pub version: i32,
    /// `llm` or `template`.
    pub writer: String,
    pub trigger: String,
    pub requested_by: String,
    pub generated_at: DateTime<Utc>,
}

/// A report as chatops and MCP clients read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PostmortemView {
    pub id: i64,
    pub incident_id: i64,
    pub version: i32,
    pub title: String,
    pub summary: String,
    /// `llm` or `template`.
    pub writer: String,
    /// Why the template wrote it, when it did.
    pub writer_note: Option<String>,
    /// The whole report in Markdown.
    pub markdown: String,
    /// Where the whole report is, when the orchestrator knows its public URL.
    pub url: Option<String>,
    pub generated_at: DateTime<Utc>,
}

/// The query string of `GET /api/incidents/{id}/postmortem`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostmortemQuery {
    /// A given version (1 is the first); the latest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub version: Option<i32>,
}

/// `command.postmortems.get`: the latest report (or `version`), written on the spot when
/// the incident has none yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPostmortem {
    pub incident_id: i64,
    /// A given version (1 is the first); the latest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub version: Option<i32>,
}

/// A version number, when one is asked for, is at least 1.
pub fn check_version(version: Option<i32>) -> Result<(), InvalidField> {
    match version {
        Some(v) if v < 1 => Err(InvalidField::new("version", "version must be at least 1")),
        _ => Ok(()),
    }
}

/// `command.postmortems.generate`: writes a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratePostmortem {
    pub incident_id: i64,
}
