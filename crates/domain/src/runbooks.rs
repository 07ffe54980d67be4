//! Runbook runs as the REST API (and later the bus and MCP) show them, and the request that
//! starts one. The runbook format itself is the `runbooks` crate's.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `POST /api/incidents/{id}/runbook`: start a runbook on the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunbook {
    /// The runbook's name in the runbooks file.
    pub runbook: String,
}

/// `GET /api/runbook-runs` filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbookRunQuery {
    pub incident_id: Option<i64>,
}

/// One run of a runbook on an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunbookRun {
    pub id: i64,
    pub runbook: String,
    /// Unknown until the conductor took the run up (a rule's run starts by name).
    pub runbook_version: Option<i32>,
    pub incident_id: i64,
    /// `runbook:<name>`: who acts.
    pub principal: String,
    /// On whose behalf: `rule:<name>` or the person who started it.
    pub started_by: String,
    /// `running`, `resolved` (a verification passed and the incident was closed) or
    /// `escalated` (the incident stays open; people were called).
    pub status: String,
    /// The step the run is on (or ended on).
    pub current_step: Option<String>,
    /// When the conductor looks at the run next (stored, survives restarts).
    pub next_wake_at: Option<DateTime<Utc>>,
    /// How it ended: `resolved`, `escalated`, `unverified`, or why it could not run.
    pub outcome: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The steps taken so far, in order (empty in listings).
    #[serde(default)]
    pub steps: Vec<RunbookStep>,
    /// The pages its escalation sent (empty in listings).
    #[serde(default)]
    pub pages: Vec<RunbookPage>,
}

/// One page an escalation sent (or is sending): PagerDuty Events API v2 or the signed webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunbookPage {
    /// `pagerduty` or `webhook`.
    pub target: String,
    /// `trigger`, or `resolve` once the incident was resolved (PagerDuty).
    pub event_action: String,
    /// The incident's severity: whose routing key / webhook was used.
    pub severity: String,
    /// Stable per run (`runbook-run-<id>`): a re-sent page is the same page.
    pub dedup_key: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// One step a run took; a step visited twice has two entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunbookStep {
    pub seq: i32,
    pub step: String,
    pub kind: String,
    /// `running`, `succeeded`, `failed` or `timed_out`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub deadline_at: Option<DateTime<Utc>>,
    /// The action an action step requested.
    pub action_id: Option<i64>,
    /// Who acted, the policy clause and its decision.
    pub decision: Option<serde_json::Value>,
    /// What the step observed (the build verified, why it failed, …).
    pub details: serde_json::Value,
}

/// `GET /api/runbook-runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunbookRunList {
    pub runs: Vec<RunbookRun>,
}
