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
    /// `llm`, `template` or `person` (an edited version; `requested_by` is its author).
    pub writer: String,
    /// Why the template wrote it, when it did (LLM disabled, unreachable, incomplete answer);
    /// for an edited version, which version it was edited from.
    pub writer_note: Option<String>,
    /// The model that wrote it, when the LLM did.
    pub model: Option<String>,
    /// `resolved`, `on_demand` or `edited`.
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

/// The largest edited report accepted, in characters.
pub const MAX_EDITED_MARKDOWN: usize = 200_000;

/// The body of `POST /api/incidents/{id}/postmortem` that saves an edited version: the
/// person's Markdown becomes the next version, with its author recorded. Title and summary
/// stay those of the version edited unless given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditPostmortem {
    /// The whole report, in Markdown.
    #[schemars(length(min = 1, max = 200000))]
    pub markdown: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2000))]
    pub summary: Option<String>,
    /// The version the edit starts from; when another version was saved since, the edit is
    /// refused (409) instead of silently replacing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub based_on: Option<i32>,
}

impl EditPostmortem {
    /// Non-empty Markdown within the limit; a one-line title; a bounded summary.
    pub fn check(&self) -> Result<(), InvalidField> {
        if self.markdown.trim().is_empty() {
            return Err(InvalidField::new("markdown", "the report is empty"));
        }
        if self.markdown.chars().count() > MAX_EDITED_MARKDOWN {
            return Err(InvalidField::new(
                "markdown",
                format!("the report is longer than {MAX_EDITED_MARKDOWN} characters"),
            ));
        }
        if let Some(t) = &self.title
            && (t.trim().is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control))
        {
            return Err(InvalidField::new(
                "title",
                "a title is one line of 1 to 200 characters",
            ));
        }
        if let Some(s) = &self.summary
            && (s.trim().is_empty() || s.chars().count() > 2000)
        {
            return Err(InvalidField::new(
                "summary",
                "a summary is 1 to 2000 characters",
            ));
        }
        check_version(self.based_on)
            .map_err(|_| InvalidField::new("based_on", "based_on must be at least 1"))
    }
}
