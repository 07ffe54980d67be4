//! Post-mortems: the commits of a build (asked of the runner with `command.jenkins.changes`),
//! the memory of earlier incidents that `incident.detected` carries, and how a report was
//! written.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `command.jenkins.changes`: the commits Jenkins recorded for one build (read-only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangesRequest {
    pub job_name: String,
    pub build_number: i64,
}

/// One commit of a build's `changeSets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Commit {
    /// The SCM's id (a git SHA).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The commit message (untrusted text: quoted, never followed).
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
    /// Paths the commit touched (bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// The reply to `command.jenkins.changes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildChanges {
    pub job_name: String,
    pub build_number: i64,
    pub commits: Vec<Commit>,
    /// More commits existed than the reply carries.
    #[serde(default)]
    pub truncated: bool,
}

/// What `incident.detected` remembers of similar earlier incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentMemory {
    /// Earlier incidents with the same fingerprint or the same normalised error text.
    pub seen_before: i64,
    /// The most recent resolved one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_incident_id: Option<i64>,
    /// How that one was fixed: an action (`restart`), `auto_recovered` or `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fixed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_mttr_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resolved_at: Option<DateTime<Utc>>,
    /// Why they count: how many of them were the same failure (same rule, same job or
    /// endpoint); the others matched on their error text only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_failure: Option<i64>,
    /// The highest error-text similarity among them (0 to 1; `None` when the incident's
    /// text says nothing beyond "the build failed", so only the fingerprint was matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_similarity: Option<f64>,
}

/// Which path wrote a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Writer {
    /// The LLM (Ollama) wrote it from the assembled facts.
    Llm,
    /// The deterministic template wrote it (no LLM configured, unreachable, or its answer
    /// lacked a section).
    Template,
    /// A person saved an edited version (`requested_by` is the author).
    Person,
}

impl Writer {
    pub fn as_str(self) -> &'static str {
        match self {
            Writer::Llm => "llm",
            Writer::Template => "template",
            Writer::Person => "person",
        }
    }
}

impl std::str::FromStr for Writer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "llm" => Ok(Writer::Llm),
            "template" => Ok(Writer::Template),
            "person" => Ok(Writer::Person),
            other => Err(format!(
                "unknown writer `{other}` (expected llm, template, person)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_requests_refuse_unknown_fields() {
        let ok: ChangesRequest =
            serde_json::from_value(serde_json::json!({"job_name": "a/b", "build_number": 3}))
                .unwrap();
        assert_eq!(ok.build_number, 3);
        assert!(
            serde_json::from_value::<ChangesRequest>(
                serde_json::json!({"job_name": "a", "build_number": 1, "url": "http://x"})
            )
            .is_err()
        );
    }

    #[test]
    fn writers_round_trip() {
        for w in [Writer::Llm, Writer::Template] {
            assert_eq!(w.as_str().parse::<Writer>().unwrap(), w);
            assert_eq!(serde_json::to_value(w).unwrap(), w.as_str());
        }
    }
}
