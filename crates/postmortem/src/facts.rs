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

/// The incident as it stood when the facts were gathered (an `incidents` row).
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: i64,
    pub fingerprint: String,
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub source: String,
    pub group_key: String,
    pub job_name: Option<String>,
    pub build_number: Option<i64>,
    pub service: Option<String>,
    pub path: Option<String>,
    pub runbook_url: Option<String>,
    pub details: serde_json::Value,
    pub first_log_id: Option<i64>,
    pub occurrences: i64,
    pub detected_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub last_notified_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// `manual`, `auto_recovered` or `automated_action`.
    pub resolution_method: Option<String>,
    pub resolution_note: Option<String>,
    pub mttr_seconds: Option<f64>,
}

/// One action of the incident (an `action_executions` row).
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub id: i64,
    pub action_type: String,
    pub status: String,
    pub target_job: String,
    pub target_build: Option<i64>,
    pub incident_id: Option<i64>,
    pub requested_by: String,
    pub channel: String,
    pub requires_approval: bool,
    /// Distinct approvers the policy required before the runner could act.
    pub approvals_required: i32,
    /// The policy clause that allowed the request.
    pub policy_clause: Option<String>,
    /// The trusted service that relayed the request for `requested_by` (`amqp:chatops`).
    pub requested_via: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub rejected_by: Option<String>,
    pub reason: Option<String>,
    /// Why the guard (or the expiry sweep) rejected it; `reason` stays the requester's.
    pub rejection_reason: Option<String>,
    pub params: serde_json::Value,
    pub dry_run: Option<bool>,
    pub claimed_by: Option<String>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    /// The class of a failure (`jenkins_5xx`, `runner_lost`, `build_failed`...).
    pub error_kind: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One event of the incident's life (detected, acknowledged, an action's steps, resolved).
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub by: Option<String>,
    pub detail: Option<String>,
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
    /// The most frequent error lines (warnings when there are no errors), by shape.
    pub top: Vec<ErrorLine>,
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
