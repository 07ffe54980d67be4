//! `command.logs.search` and `GET /api/logs`: stored logs and what they are searched by.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{InvalidField, check_text};
use crate::logs::Source;

/// A stored log as the doors show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StoredLog {
    pub id: i64,
    /// `jenkins` or `api`.
    pub source: String,
    pub source_id: String,
    pub timestamp: DateTime<Utc>,
    /// `debug`, `info`, `warn`, `error` or `fatal`.
    pub level: String,
    pub message: String,
    pub job_name: Option<String>,
    pub build_number: Option<i64>,
    pub http_method: Option<String>,
    pub http_status: Option<i32>,
    pub path: Option<String>,
    pub latency_ms: Option<f64>,
    pub service: Option<String>,
    pub details: serde_json::Value,
}

/// What logs are searched by.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Comma-separated levels, e.g. `error,fatal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200), regex(pattern = r"^[^\u0000]*$"))]
    pub level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), regex(pattern = r"^[^\u0000]*$"))]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256), regex(pattern = r"^[^\u0000]*$"))]
    pub service: Option<String>,
    /// Case-insensitive substring of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000), regex(pattern = r"^[^\u0000]*$"))]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// 1..=1000, default 100; anything else is refused (`field: "limit"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
    /// Logs to skip (0..=100000, default 0), for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100000))]
    pub offset: Option<i64>,
}

/// One page of logs, the newest first, and how many match in all: the same shape as
/// the incident list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogPage {
    pub items: Vec<StoredLog>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Deep pages of a union over both log tables get slow; narrow the filter instead.
pub const MAX_OFFSET: i64 = 100_000;

/// A [`LogFilter`] checked: what the database is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    pub source: Option<Source>,
    /// Lowercase.
    pub levels: Option<Vec<String>>,
    pub job: Option<String>,
    pub service: Option<String>,
    pub q: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

impl LogFilter {
    pub fn check(&self) -> Result<LogQuery, InvalidField> {
        check_text("level", self.level.as_deref(), 200)?;
        check_text("job", self.job.as_deref(), 512)?;
        check_text("service", self.service.as_deref(), 256)?;
        check_text("q", self.q.as_deref(), 1000)?;
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(InvalidField::new(
                "limit",
                "limit must be between 1 and 1000",
            ));
        }
        let offset = self.offset.unwrap_or(0);
        if !(0..=MAX_OFFSET).contains(&offset) {
            return Err(InvalidField::new(
                "offset",
                format!("offset must be between 0 and {MAX_OFFSET}"),
            ));
        }
        let levels = self.level.as_ref().map(|l| {
            l.split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        });
        Ok(LogQuery {
            source: self.source,
            levels,
            job: self.job.clone(),
            service: self.service.clone(),
            q: self.q.clone(),
            since: self.since,
            until: self.until,
            limit,
            offset,
        })
    }
}
