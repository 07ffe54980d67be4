//! Gathering the facts a report is written from (the types and the log summary are the
//! `postmortem` crate's): the incident and its timeline from the database, its logs, the
//! build's commits asked of the runner, similar past incidents.

use std::time::Duration;

use ::postmortem::{CommitSource, Commits, Facts, LogLine, commits_in_logs, summarize};
use chrono::Utc;
use domain::commands::{Command, Incident, timeline};
use domain::postmortem::ChangesRequest;

use super::PostmortemService;
use crate::error::ServiceError;
use crate::repo::actions;
use crate::repo::incidents as incidents_repo;
use crate::repo::postmortems::{self as repo, LogScope};
use crate::repo::similar;

impl PostmortemService {
    /// Gathers the facts of incident `id` (the runner is asked for the build's commits).
    pub async fn assemble_facts(&self, id: i64) -> Result<Facts, ServiceError> {
        let incident = incidents_repo::get(&self.base.pool, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("incident {id} not found")))?;
        let acts = actions::for_incident(&self.base.pool, id).await?;
        let tl = timeline(&incident, &acts);
        let pm = &self.settings;
        let jenkins = incident.source == "jenkins";
        let scope = LogScope {
            incident_id: id,
            job_name: incident.job_name.as_deref().filter(|_| jenkins),
            build_number: incident.build_number,
            service: incident.service.as_deref().filter(|_| !jenkins),
            path: incident.path.as_deref().filter(|_| !jenkins),
            since: incident.detected_at - chrono::Duration::minutes(pm.lookback_minutes),
            until: incident.resolved_at.unwrap_or_else(Utc::now) + chrono::Duration::minutes(1),
            limit: pm.max_log_lines,
        };
        let lines: Vec<LogLine> = repo::log_lines(&self.base.pool, &scope)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let logs = summarize(&lines, pm.max_log_lines as usize);
        let commits = self.commits(&incident, &lines).await;
        let mut conn = self.base.pool.acquire().await?;
        let mut subject = similar::subject(&mut *conn, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("incident {id} not found")))?;
        if subject.signature.is_empty()
            && let Some(top) = logs.top.first()
        {
            subject.signature = top.pattern.clone();
        }
        let similar = similar::similar(
            &mut conn,
            &subject,
            self.similarity_threshold,
            pm.similar_limit,
        )
        .await?;
        Ok(Facts {
            incident,
            timeline: tl,
            actions: acts,
            logs,
            commits,
            similar: similar.into_iter().map(Into::into).collect(),
            assembled_at: Utc::now(),
        })
    }

    /// The build's commits: from Jenkins through the runner, else from the logs, else why not.
    async fn commits(&self, i: &Incident, lines: &[LogLine]) -> Commits {
        let mut c = Commits {
            source: CommitSource::NotApplicable,
            reason: None,
            job_name: i.job_name.clone(),
            build_number: i.build_number,
            items: Vec::new(),
            truncated: false,
        };
        let (Some(job), Some(build)) = (&i.job_name, i.build_number) else {
            c.reason = Some("the incident does not name a Jenkins job and build".into());
            return c;
        };
        let req = ChangesRequest {
            job_name: job.clone(),
            build_number: build,
        };
        let timeout = Duration::from_millis(self.settings.changes_timeout_ms);
        let payload = serde_json::to_value(&req).unwrap_or_default();
        let asked = self
            .bus
            .request_with_timeout(ChangesRequest::KEY, payload, timeout)
            .await;
        let why = match asked.map(|r| r.into_result()) {
            Ok(Ok(data)) => {
                match serde_json::from_value::<<ChangesRequest as Command>::Reply>(data) {
                    Ok(b) => {
                        c.source = CommitSource::Jenkins;
                        c.items = b.commits;
                        c.truncated = b.truncated;
                        return c;
                    }
                    Err(e) => format!("the runner's answer was not understood: {e}"),
                }
            }
            Ok(Err(e)) => format!("Jenkins could not say ({}): {}", code(&e.code), e.message),
            Err(bus::BusError::RpcTimeout { .. }) => format!(
                "no runner answered within {} ms (is one running with JENKINS_URL set?)",
                timeout.as_millis()
            ),
            Err(e) => format!("the bus failed: {e}"),
        };
        let from_logs = commits_in_logs(lines);
        if from_logs.is_empty() {
            c.source = CommitSource::Unavailable;
        } else {
            c.source = CommitSource::Logs;
            c.items = from_logs;
        }
        c.reason = Some(why.chars().take(500).collect());
        c
    }
}

fn code(c: &domain::commands::ErrorCode) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: &str, level: &str, msg: &str, build: Option<i64>) -> LogLine {
        LogLine {
            timestamp: t.parse().unwrap(),
            level: level.into(),
            message: msg.into(),
            build_number: build,
            details: serde_json::json!({}),
        }
    }

    #[test]
    fn errors_group_by_shape_most_frequent_first() {
        let lines = vec![
            line("2026-11-29T10:00:00Z", "info", "Started by timer", Some(41)),
            line(
                "2026-11-29T10:00:01Z",
                "error",
                "Test failed: case 12 timed out after 30s",
                Some(41),
            ),
            line(
                "2026-11-29T10:00:02Z",
                "error",
                "npm ERR! code ELIFECYCLE",
                Some(41),
            ),
            line(
                "2026-11-29T10:00:03Z",
                "error",
                "Test failed: case 7 timed out after 31s",
                Some(42),
            ),
            line(
                "2026-11-29T10:00:04Z",
                "fatal",
                "Test failed: case 99 timed out after 2s",
                Some(42),
            ),
            line("2026-11-29T10:00:05Z", "warn", "deprecated flag", None),
        ];
        let s = summarize(&lines, 2000);
        assert_eq!(s.lines, 6);
        assert!(!s.truncated);
        assert_eq!(s.by_level["error"], 3);
        assert_eq!(s.builds, [41, 42]);
        assert_eq!(s.top.len(), 2);
        assert_eq!(
            s.top[0].pattern,
            "test failed: case <n> timed out after <n>s"
        );
        assert_eq!(s.top[0].count, 3);
        assert_eq!(s.top[0].builds, [41, 42]);
        assert_eq!(s.top[0].first_seen, lines[1].timestamp);
        assert_eq!(s.top[0].last_seen, lines[4].timestamp);
        assert_eq!(s.top[1].count, 1);
        assert_eq!(s.first_seen, Some(lines[0].timestamp));
    }

    #[test]
    fn warnings_count_when_there_are_no_errors() {
        let lines = vec![line("2026-11-29T10:00:00Z", "warn", "slow 500ms", None)];
        assert_eq!(summarize(&lines, 1).top[0].pattern, "slow <n>ms");
        assert!(summarize(&lines, 1).truncated);
    }

    #[test]
    fn commits_come_from_scm_or_head_sha_once_each() {
        let mut a = line("2026-11-29T10:00:00Z", "error", "x", Some(1));
        a.details = serde_json::json!({"scm": {"commit": "abc123", "branch": "main"}});
        let mut b = line("2026-11-29T10:00:01Z", "error", "y", Some(1));
        b.details = serde_json::json!({"scm": {"commit": "abc123"}});
        let mut c = line("2026-11-29T10:00:02Z", "error", "z", None);
        c.details = serde_json::json!({"head_sha": "def456", "head_branch": "fix"});
        let found = commits_in_logs(&[a, b, c]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].id, "abc123");
        assert_eq!(found[0].message, "head of branch main");
        assert_eq!(found[1].id, "def456");
    }
}
