//! Gathering the facts a report is written from (the types and the log summary are the
//! `postmortem` crate's): the incident and its timeline from the database, its logs, the
//! build's commits asked of the runner, similar past incidents.

use std::time::Duration;

use ::postmortem::{CommitSource, Commits, Facts, LogLine, commits_in_logs, summarize};
use chrono::Utc;
use domain::commands::key;
use domain::postmortem::{BuildChanges, ChangesRequest};

use crate::core::Core;
use crate::error::ServiceError;
use crate::incidents::timeline;
use crate::repo::actions;
use crate::repo::incidents::{self as incidents_repo, IncidentRow};
use crate::repo::postmortems::{self as repo, LogScope};

impl Core {
    /// Gathers the facts of incident `id` (the runner is asked for the build's commits).
    pub async fn assemble_facts(&self, id: i64) -> Result<Facts, ServiceError> {
        let incident = incidents_repo::get(&self.pool, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("incident {id} not found")))?;
        let acts = actions::for_incident(&self.pool, id).await?;
        let tl = timeline(&incident, &acts);
        let pm = &self.settings.postmortem;
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
        let lines: Vec<LogLine> = repo::log_lines(&self.pool, &scope)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let logs = summarize(&lines, pm.max_log_lines as usize);
        let commits = self.commits(&incident, &lines).await;
        let signature = if incident.signature.is_empty() {
            logs.top
                .first()
                .map(|t| t.pattern.clone())
                .unwrap_or_default()
        } else {
            incident.signature.clone()
        };
        let mut conn = self.pool.acquire().await?;
        let similar = repo::similar(
            &mut conn,
            id,
            &incident.fingerprint,
            &signature,
            self.settings.incidents.similarity_threshold,
            pm.similar_limit,
        )
        .await?;
        Ok(Facts {
            incident: incident.into(),
            timeline: tl.into_iter().map(Into::into).collect(),
            actions: acts.into_iter().map(Into::into).collect(),
            logs,
            commits,
            similar: similar.into_iter().map(Into::into).collect(),
            assembled_at: Utc::now(),
        })
    }

    /// The build's commits: from Jenkins through the runner, else from the logs, else why not.
    async fn commits(&self, i: &IncidentRow, lines: &[LogLine]) -> Commits {
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
        let timeout = Duration::from_millis(self.settings.postmortem.changes_timeout_ms);
        let payload = serde_json::to_value(&req).unwrap_or_default();
        let asked = self
            .bus
            .request_with_timeout(key::JENKINS_CHANGES, payload, timeout)
            .await;
        let why = match asked.map(|r| r.into_result()) {
            Ok(Ok(data)) => match serde_json::from_value::<BuildChanges>(data) {
                Ok(b) => {
                    c.source = CommitSource::Jenkins;
                    c.items = b.commits;
                    c.truncated = b.truncated;
                    return c;
                }
                Err(e) => format!("the runner's answer was not understood: {e}"),
            },
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
