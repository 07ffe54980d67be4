//! Incidents like a given one, as the orchestrator's MCP tool `get_related_incidents`
//! answers them.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The fields every listing shows of an alike incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PastIncident {
    pub id: i64,
    pub title: String,
    pub rule: String,
    pub status: String,
    pub job_name: Option<String>,
    pub build_number: Option<i64>,
    pub service: Option<String>,
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    /// `manual`, `auto_recovered` or `automated_action`.
    pub resolution_method: Option<String>,
    pub mttr_seconds: Option<f64>,
}

/// One related incident and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RelatedIncident {
    #[serde(flatten)]
    pub incident: PastIncident,
    pub severity: String,
    pub resolution_note: Option<String>,
    /// `same_fingerprint` (same rule and group: the same failure again), `similar_error`
    /// (the normalised error text is at least `incidents.similarity_threshold` similar) or
    /// `similar_title`.
    pub relation: String,
    /// Error-text similarity (0 to 1) or, failing that, title rank (0 for same-fingerprint
    /// matches that share nothing else).
    pub score: f32,
    /// Actions taken on it, e.g. `restart completed`, oldest first.
    pub actions: Vec<String>,
}
