//! `POST /webhooks/jenkins`: the Jenkins Notification plugin's JSON.
//!
//! ```json
//! {"name": "deploy-prod", "url": "job/deploy-prod/",
//!  "build": {"number": 42, "phase": "COMPLETED", "status": "FAILURE",
//!            "full_url": "https://ci/job/deploy-prod/42/", "timestamp": 1795946400000,
//!            "duration": 61000, "log": "last lines\nof the console",
//!            "scm": {"url": "https://git/app.git", "branch": "origin/main", "commit": "c1a2b3",
//!                    "changes": ["src/app.rs"], "culprits": ["Ann Lee"]}}}
//! ```
//! A finished build becomes a record like the console's last line, `Finished: FAILURE`
//! (error for FAILURE, UNSTABLE, ABORTED; info for SUCCESS), preceded by one record per
//! log line sent. `STARTED` is an info record; `QUEUED` is ignored.
//!
//! `build.scm` is kept in every record's `details.scm`, type-checked and bounded, so that a
//! post-mortem can name the commit even when Jenkins itself cannot be asked.
//!
//! A console line longer than the orchestrator stores (`domain::limits::MESSAGE`
//! characters) is cut with a marker at its end (`… [truncated: N characters]`,
//! `details.message_truncated`), and the answer lists it under `truncated`: a 202 means
//! every record will be stored as published.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::{JenkinsLog, Level, LogRecord};
use serde_json::{Value, json};

use super::auth::{header, secret_matches};
use super::scm::{scm, string};
use super::{ApiError, HttpState, body, finish, ignored, parse_json, publish_or_503, published};

pub const SECRET_HEADER: &str = "x-jenkins-secret";

pub async fn handle(
    State(state): State<HttpState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let secret = &state.webhooks.jenkins_secret;
        if secret.is_set() && !secret_matches(secret, header(&headers, SECRET_HEADER)) {
            return Err(ApiError::unauthorized(
                "missing or wrong X-Jenkins-Secret header",
            ));
        }
        let raw = body(raw, state.body_limit)?;
        let v = parse_json(&raw)?;
        let n = Notification::parse(&v)?;
        let Records { records, truncated } = n.records(state.webhooks.max_log_lines);
        if records.is_empty() {
            return Ok(ignored(format!("phase {} carries no outcome", n.phase)));
        }
        let count = publish_or_503(&state, "webhook", records).await?;
        let mut answer = published(count);
        if !truncated.is_empty() {
            answer.2["truncated"] = truncated
                .iter()
                .map(|t| json!({"line": t.line, "characters": t.characters, "kept": domain::limits::MESSAGE}))
                .collect();
            answer.2["message"] = format!(
                "{} log line(s) longer than {} characters were truncated, marked at their end",
                truncated.len(),
                domain::limits::MESSAGE
            )
            .into();
        }
        Ok(answer)
    }
    .await;
    finish(&state, "jenkins", result)
}

/// A console line cut to the stored limit: its 1-based line in `build.log` and its length.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Truncated {
    line: usize,
    characters: usize,
}

/// The records of a notification, and the lines that had to be cut.
#[derive(Debug, Default)]
struct Records {
    records: Vec<LogRecord>,
    truncated: Vec<Truncated>,
}

#[derive(Debug)]
struct Notification {
    job: String,
    number: i64,
    phase: String,
    status: Option<String>,
    url: Option<String>,
    started: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    log: Vec<String>,
    /// `build.scm`, checked and cut to size; `None` when absent or empty.
    scm: Option<Value>,
}

impl Notification {
    fn parse(v: &Value) -> Result<Self, ApiError> {
        if !v.is_object() {
            return Err(ApiError::field(
                "name",
                "expected a JSON object with `name` and `build`",
            ));
        }
        let job = string(&v["name"], "name")?
            .filter(|j| !j.trim().is_empty() && j.len() <= 512)
            .ok_or_else(|| {
                ApiError::field("name", "`name` (the job) must be 1..=512 characters")
            })?;
        let b = &v["build"];
        if !b.is_object() {
            return Err(ApiError::field("build", "`build` must be an object"));
        }
        let number = b["number"].as_i64().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::field(
                "build.number",
                "`build.number` must be a non-negative integer",
            )
        })?;
        let phase = string(&b["phase"], "build.phase")?
            .map(|p| p.to_ascii_uppercase())
            .filter(|p| matches!(p.as_str(), "QUEUED" | "STARTED" | "COMPLETED" | "FINALIZED"))
            .ok_or_else(|| {
                ApiError::field(
                    "build.phase",
                    "`build.phase` must be QUEUED, STARTED, COMPLETED or FINALIZED",
                )
            })?;
        let status = string(&b["status"], "build.status")?.map(|s| s.to_ascii_uppercase());
        if matches!(phase.as_str(), "COMPLETED" | "FINALIZED") && status.is_none() {
            return Err(ApiError::field(
                "build.status",
                format!("`build.status` is required when the phase is {phase}"),
            ));
        }
        let url = string(&b["full_url"], "build.full_url")?;
        let log = match &b["log"] {
            Value::Null => Vec::new(),
            Value::String(s) => s.lines().map(str::to_string).collect(),
            Value::Array(lines) => lines
                .iter()
                .map(|l| l.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    ApiError::field("build.log", "`build.log` must be text or a list of lines")
                })?,
            _ => {
                return Err(ApiError::field(
                    "build.log",
                    "`build.log` must be text or a list of lines",
                ));
            }
        };
        Ok(Notification {
            job,
            number,
            phase,
            status,
            url,
            started: b["timestamp"]
                .as_i64()
                .and_then(DateTime::from_timestamp_millis),
            duration_ms: b["duration"].as_i64().filter(|d| *d >= 0),
            log,
            scm: scm(&b["scm"])?,
        })
    }

    fn details(&self) -> Value {
        let mut d = json!({"provider": "jenkins-webhook", "phase": self.phase, "status": self.status, "url": self.url});
        if let Some(scm) = &self.scm {
            d["scm"] = scm.clone();
        }
        d
    }

    fn record(&self, ts: DateTime<Utc>, level: Level, message: String, id: String) -> LogRecord {
        LogRecord::Jenkins(JenkinsLog {
            timestamp: ts,
            level,
            message,
            job_name: Some(self.job.clone()),
            build_number: Some(self.number),
            details: Some(self.details()),
            // Job, build and phase: Jenkins' retries and COMPLETED-then-FINALIZED collapse
            // onto the same records downstream.
            source_id: Some(format!("jenkins-webhook:{}#{}:{id}", self.job, self.number)),
        })
    }

    fn records(&self, max_lines: usize) -> Records {
        let now = Utc::now();
        match self.phase.as_str() {
            "QUEUED" => Records::default(),
            "STARTED" => Records {
                records: vec![self.record(
                    self.started.unwrap_or(now),
                    Level::Info,
                    "Started".into(),
                    "started".into(),
                )],
                truncated: Vec::new(),
            },
            _ => {
                let status = self.status.clone().unwrap_or_default();
                let finished = match (self.started, self.duration_ms) {
                    (Some(s), Some(d)) => s + chrono::Duration::milliseconds(d),
                    _ => now,
                };
                let level = match status.as_str() {
                    "SUCCESS" => Level::Info,
                    "FAILURE" | "UNSTABLE" | "ABORTED" => Level::Error,
                    _ => Level::Warn,
                };
                let skip = self.log.len().saturating_sub(max_lines);
                let mut out = Records::default();
                for (i, line) in self.log.iter().enumerate().skip(skip) {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let line = line.trim_end_matches('\r');
                    // The level is read from the whole line, before it is cut.
                    let level = line_level(line);
                    let mut record = match domain::limits::clip_message(line) {
                        None => self.record(finished, level, line.to_string(), format!("log:{i}")),
                        Some(c) => {
                            out.truncated.push(Truncated {
                                line: i + 1,
                                characters: c.original_chars,
                            });
                            self.record(finished, level, c.text, format!("log:{i}"))
                        }
                    };
                    if out.truncated.last().is_some_and(|t| t.line == i + 1)
                        && let LogRecord::Jenkins(j) = &mut record
                        && let Some(Value::Object(d)) = &mut j.details
                    {
                        d.insert("message_truncated".into(), Value::Bool(true));
                    }
                    out.records.push(record);
                }
                out.records.push(self.record(
                    finished,
                    level,
                    format!("Finished: {status}"),
                    "finished".into(),
                ));
                out
            }
        }
    }
}

/// A console line's level, from the shapes in `domain::levels`; info when it shows none.
fn line_level(line: &str) -> Level {
    domain::levels::line_level(line).unwrap_or(Level::Info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Notification, String> {
        Notification::parse(&v).map_err(|e| e.message)
    }

    #[test]
    fn a_failed_build_ends_with_the_console_line() {
        let n = parse(
            json!({"name": "deploy-prod", "build": {"number": 42, "phase": "COMPLETED",
            "status": "FAILURE", "full_url": "https://ci/job/deploy-prod/42/",
            "log": "[INFO] compiling\n[ERROR] boom\n"}}),
        )
        .unwrap();
        let records = n.records(1_000).records;
        assert_eq!(records.len(), 3);
        let last = &records[2];
        assert_eq!(last.message(), "Finished: FAILURE");
        assert_eq!(last.level(), Level::Error);
        assert_eq!(
            last.source_id(),
            Some("jenkins-webhook:deploy-prod#42:finished")
        );
        assert_eq!(records[1].level(), Level::Error);
        assert_eq!(
            records[0].source_id(),
            Some("jenkins-webhook:deploy-prod#42:log:0")
        );
        let LogRecord::Jenkins(j) = last else {
            panic!()
        };
        assert_eq!(
            j.details.as_ref().unwrap()["url"],
            "https://ci/job/deploy-prod/42/"
        );
    }

    /// It was stored as `info`: levels only came from `[ERROR]`-style prefixes.
    #[test]
    fn an_out_of_memory_line_in_a_build_log_is_fatal() {
        let n = parse(
            json!({"name": "deploy-prod", "build": {"number": 7, "phase": "COMPLETED",
            "status": "FAILURE",
            "log": "Compiling\njava.lang.OutOfMemoryError: Java heap space\nnpm ERR! code 1\n"}}),
        )
        .unwrap();
        let levels: Vec<Level> = n.records(1_000).records.iter().map(|r| r.level()).collect();
        assert_eq!(
            levels,
            [Level::Info, Level::Fatal, Level::Error, Level::Error]
        );
    }

    /// It answered 202 for a line longer than 65,536 characters, which the orchestrator
    /// then dead-lettered.
    #[test]
    fn a_line_over_the_stored_limit_is_cut_with_a_marker_and_listed() {
        let long = format!("[ERROR] {}", "x".repeat(domain::limits::MESSAGE + 100));
        let n = parse(
            json!({"name": "a", "build": {"number": 1, "phase": "COMPLETED",
            "status": "FAILURE", "log": ["ok", long]}}),
        )
        .unwrap();
        let out = n.records(100);
        assert_eq!(
            out.truncated,
            [Truncated {
                line: 2,
                characters: domain::limits::MESSAGE + 108
            }]
        );
        let cut = &out.records[1];
        assert_eq!(cut.message().chars().count(), domain::limits::MESSAGE);
        assert!(cut.message().ends_with(" characters]"));
        assert_eq!(cut.level(), Level::Error);
        assert!(cut.validate().is_ok(), "the orchestrator stores it");
        let LogRecord::Jenkins(j) = cut else { panic!() };
        assert_eq!(j.details.as_ref().unwrap()["message_truncated"], true);
        let LogRecord::Jenkins(j) = &out.records[0] else {
            panic!()
        };
        assert!(
            j.details
                .as_ref()
                .unwrap()
                .get("message_truncated")
                .is_none()
        );
    }

    #[test]
    fn statuses_and_phases() {
        for (status, level) in [
            ("SUCCESS", Level::Info),
            ("UNSTABLE", Level::Error),
            ("ABORTED", Level::Error),
            ("NOT_BUILT", Level::Warn),
        ] {
            let n = parse(json!({"name": "a", "build": {"number": 1, "phase": "FINALIZED", "status": status}})).unwrap();
            let r = n.records(10).records;
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].level(), level, "{status}");
            assert_eq!(r[0].message(), format!("Finished: {status}"));
        }
        let queued =
            parse(json!({"name": "a", "build": {"number": 1, "phase": "QUEUED"}})).unwrap();
        assert!(queued.records(10).records.is_empty());
        let started =
            parse(json!({"name": "a", "build": {"number": 1, "phase": "STARTED"}})).unwrap();
        assert_eq!(started.records(10).records[0].message(), "Started");
    }

    #[test]
    fn log_lines_are_capped_keeping_the_end() {
        let log: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        let n = parse(json!({"name": "a", "build": {"number": 1, "phase": "COMPLETED", "status": "SUCCESS", "log": log}})).unwrap();
        let r = n.records(3).records;
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].message(), "line 7");
    }

    #[test]
    fn scm_is_kept_in_every_record() {
        let n = parse(
            json!({"name": "a", "build": {"number": 1, "phase": "COMPLETED",
            "status": "FAILURE", "log": "[ERROR] boom", "scm": {"commit": "c1a2b3"}}}),
        )
        .unwrap();
        for r in &n.records(100).records {
            let LogRecord::Jenkins(j) = r else { panic!() };
            assert_eq!(j.details.as_ref().unwrap()["scm"]["commit"], "c1a2b3");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!([]), "name"),
            (json!({"build": {}}), "name"),
            (json!({"name": "a"}), "build"),
            (
                json!({"name": "a", "build": {"number": -1, "phase": "STARTED"}}),
                "build.number",
            ),
            (
                json!({"name": "a", "build": {"number": 1, "phase": "DONE"}}),
                "build.phase",
            ),
            (
                json!({"name": "a", "build": {"number": 1, "phase": "COMPLETED"}}),
                "build.status",
            ),
            (
                json!({"name": "a", "build": {"number": 1, "phase": "STARTED", "log": 3}}),
                "build.log",
            ),
            (
                json!({"name": "a", "build": {"number": 1, "phase": "STARTED", "scm": "abc"}}),
                "build.scm",
            ),
            (
                json!({"name": "a", "build": {"number": 1, "phase": "STARTED", "scm": {"commit": 7}}}),
                "build.scm.commit",
            ),
            (
                json!({"name": "a", "build": {"number": 1, "phase": "STARTED", "scm": {"changes": "a.rs"}}}),
                "build.scm.changes",
            ),
            (
                json!({"name": "a", "build": {"number": 1, "phase": "STARTED", "scm": {"culprits": [1]}}}),
                "build.scm.culprits",
            ),
        ];
        for (v, field) in cases {
            let err = Notification::parse(&v).unwrap_err();
            assert_eq!(err.extra["field"], field, "{v}");
        }
    }
}
