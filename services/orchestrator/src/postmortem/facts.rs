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
            && let Some(top) = logs.decisive.first()
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
