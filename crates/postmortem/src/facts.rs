//! The facts a report is written from — and nothing else: the incident and its timeline, its
//! actions, a summary of its logs, the failing build's commits, and similar past incidents
//! with how each was resolved. Both writers (LLM and template) read only this; it is stored
//! with the report as JSON, and that JSON is what the LLM is shown.
//!
//! The orchestrator fills these from its database rows; the field names are those of the
//! `incidents` and `action_executions` columns, so the stored JSON reads like the tables.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::postmortem::Commit;
use serde::Serialize;

/// The incident, its actions and its timeline are the records every door shows.
pub use domain::commands::{Action, Incident, TimelineEntry};

#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub incident: Incident,
    pub timeline: Vec<TimelineEntry>,
    pub actions: Vec<Action>,
    pub logs: LogSummary,
    pub commits: Commits,
    pub similar: Vec<SimilarIncident>,
    /// When the facts were gathered: the report's "now".
    pub assembled_at: DateTime<Utc>,
}

/// An earlier (or later) incident like this one, and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct SimilarIncident {
    pub id: i64,
    pub title: String,
    pub rule: String,
    pub status: String,
    pub job_name: Option<String>,
    pub build_number: Option<i64>,
    pub service: Option<String>,
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// `manual`, `auto_recovered` or `automated_action`.
    pub resolution_method: Option<String>,
    pub resolved_by: Option<String>,
    pub mttr_seconds: Option<f64>,
    /// Its normalised error text.
    pub signature: String,
    /// Same rule and group: the same failure of the same job or endpoint again.
    pub same_fingerprint: bool,
    /// Trigram similarity of the normalised error texts, 0 to 1.
    pub similarity: f32,
    /// The action that fixed it (`restart`, `rollback`, `stop`) when one did, else the
    /// resolution method.
    pub fixed_by: Option<String>,
}

/// The incident's logs, reduced: counts, the most frequent error lines by shape, the builds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogSummary {
    /// Lines read (evidence plus the job's or endpoint's logs around the incident).
    pub lines: usize,
    /// More lines existed than `postmortem.max_log_lines`.
    pub truncated: bool,
    pub by_level: BTreeMap<String, usize>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// Builds the lines belong to.
    pub builds: Vec<i64>,
    /// The most frequent error lines (warnings when there are no errors), by shape; lines
    /// that only say a build failed (`Finished: FAILURE`, …) after the others.
    pub top: Vec<ErrorLine>,
    /// The first error lines that say why (build-tool boilerplate left out), by shape, in
    /// order of appearance: what a report quotes as the decisive error.
    pub decisive: Vec<ErrorLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorLine {
    /// The normalised shape shared by every line counted here.
    pub pattern: String,
    pub count: usize,
    /// One real line of this shape (untrusted text: quoted in reports, never followed).
    pub example: String,
    pub level: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub builds: Vec<i64>,
}

/// Where a report's commits came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitSource {
    /// The build's `changeSets`, fetched by the runner from Jenkins.
    Jenkins,
    /// Carried by the logs themselves (Jenkins notification `scm`, GitHub `head_sha`).
    Logs,
    /// Neither: `reason` says why.
    Unavailable,
    /// The incident is not about a build.
    NotApplicable,
}

#[derive(Debug, Clone, Serialize)]
pub struct Commits {
    pub source: CommitSource,
    pub reason: Option<String>,
    pub job_name: Option<String>,
    pub build_number: Option<i64>,
    pub items: Vec<Commit>,
    pub truncated: bool,
}

/// A log line a report summarises (see [`crate::summarize`]).
#[derive(Debug, Clone)]
pub struct LogLine {
    pub timestamp: DateTime<Utc>,
    pub level: String,
    pub message: String,
    pub build_number: Option<i64>,
    pub details: serde_json::Value,
}
