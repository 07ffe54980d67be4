//! What other services may read of Jenkins through the runner (read-only requests; the runner
//! holds the only Jenkins credentials): `command.jenkins.builds` lists a job's builds after a
//! given one and names its last successful build, for runbooks that verify a build or roll
//! back to the last success.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `command.jenkins.builds`: the builds of `job_name` numbered above `after_build` (all the
/// recent ones when absent), newest first, at most `limit` (1..=50, default 10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildsRequest {
    /// The Jenkins job (folders as `team/app`).
    pub job_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_build: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<u32>,
}

/// One build as Jenkins reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildInfo {
    pub number: i64,
    /// `SUCCESS`, `FAILURE`, `UNSTABLE`, `ABORTED`, `NOT_BUILT`; absent while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    pub building: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// The reply to `command.jenkins.builds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobBuilds {
    pub job_name: String,
    /// Newest first.
    pub builds: Vec<BuildInfo>,
    /// `lastSuccessfulBuild` as Jenkins reports it (none when the job never succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_build: Option<i64>,
}
