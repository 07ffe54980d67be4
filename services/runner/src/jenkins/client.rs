//! The Jenkins client: restart, rollback, stop, wait, ping.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use reqwest::header::LOCATION;
use tokio::time::Instant;
use tracing::{info, warn};

use super::error::JenkinsError;
use super::http::{Http, LatencyObserver, status_error};
use super::job::JobName;
use super::model::{BuildJson, JenkinsAction, JenkinsOutcome, JobJson};
use super::settings::JenkinsSettings;

/// A build about to be triggered (or triggered already, when a runner resumes following
/// it): what to POST and what the outcome is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub action: JenkinsAction,
    /// The job the action is about.
    pub job: JobName,
    /// The job built: `job` itself, or its rollback job.
    pub triggered: JobName,
    pub parameters: Vec<(String, String)>,
    pub rollback_target: Option<i64>,
}

/// A cheap-to-clone handle on one Jenkins instance.
#[derive(Clone)]
pub struct JenkinsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: Http,
    settings: JenkinsSettings,
    rollback_jobs: BTreeMap<String, JobName>,
}

impl fmt::Debug for JenkinsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JenkinsClient")
            .field("url", &self.inner.http.base())
            .field("username", &self.inner.settings.username)
            .finish_non_exhaustive()
    }
}

impl JenkinsClient {
    pub fn new(settings: JenkinsSettings) -> Result<Self, JenkinsError> {
        Self::build(settings, None)
    }

    /// Like `new`, reporting the latency of every request to `observer`.
    pub fn with_latency_observer(
        settings: JenkinsSettings,
        observer: LatencyObserver,
    ) -> Result<Self, JenkinsError> {
        Self::build(settings, Some(observer))
    }

    fn build(
        settings: JenkinsSettings,
        observer: Option<LatencyObserver>,
    ) -> Result<Self, JenkinsError> {
        // reqwest is built without a default crypto provider; installing one
        // twice is a harmless no-op, so every constructor may do it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = Http::new(&settings, observer)?;
        let mut rollback_jobs = BTreeMap::new();
        for (job, rollback) in &settings.rollback_jobs {
            let parsed = JobName::parse(rollback).map_err(|e| {
                JenkinsError::Config(format!("rollback_jobs entry for '{job}': {e}"))
            })?;
            rollback_jobs.insert(job.clone(), parsed);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                settings,
                rollback_jobs,
            }),
        })
    }

    pub fn settings(&self) -> &JenkinsSettings {
        &self.inner.settings
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    /// Checks that Jenkins is reachable and accepts the credentials.
    pub async fn ping(&self) -> Result<(), JenkinsError> {
        let fetched = self.http().get("ping", "/api/json", &[]).await?;
        if fetched.status.is_success() {
            Ok(())
        } else {
            Err(status_error("ping", fetched.status, || "api root".into()))
        }
    }

    /// Rebuilds `job` with the parameters of build `build`.
    pub async fn restart(&self, job: &JobName, build: i64) -> Result<JenkinsOutcome, JenkinsError> {
        let started = Instant::now();
        let trigger = self.prepare_restart(job, build).await?;
        self.run_trigger(&trigger, started).await
    }

    /// Triggers the rollback job of `job` towards `target_build`, or by
    /// default towards the last successful build before `failed_build`.
    pub async fn rollback(
        &self,
        job: &JobName,
        failed_build: Option<i64>,
        target_build: Option<i64>,
    ) -> Result<JenkinsOutcome, JenkinsError> {
        let started = Instant::now();
        let trigger = self
            .prepare_rollback(job, failed_build, target_build)
            .await?;
        self.run_trigger(&trigger, started).await
    }

    async fn run_trigger(
        &self,
        trigger: &Trigger,
        started: Instant,
    ) -> Result<JenkinsOutcome, JenkinsError> {
        let queue_id = self.fire(trigger).await?;
        let mut outcome = self.follow(trigger, queue_id).await?;
        outcome.duration = started.elapsed();
        Ok(outcome)
    }

    /// What a restart will trigger: `job` with the parameters of build `build` (read from
    /// Jenkins; nothing is changed yet).
    pub async fn prepare_restart(
        &self,
        job: &JobName,
        build: i64,
    ) -> Result<Trigger, JenkinsError> {
        check_build(build)?;
        let original = self.get_build(job, build).await?;
        Ok(Trigger {
            action: JenkinsAction::Restart,
            job: job.clone(),
            triggered: job.clone(),
            parameters: original.parameters(),
            rollback_target: None,
        })
    }

    /// What a rollback will trigger: the rollback job of `job` towards `target_build`, or
    /// the last successful build before `failed_build` (read from Jenkins).
    pub async fn prepare_rollback(
        &self,
        job: &JobName,
        failed_build: Option<i64>,
        target_build: Option<i64>,
    ) -> Result<Trigger, JenkinsError> {
        if let Some(n) = failed_build {
            check_build(n)?;
        }
        let target = match target_build {
            Some(n) => {
                check_build(n)?;
                n
            }
            None => self.last_successful_build(job, failed_build).await?,
        };
        Ok(Trigger {
            action: JenkinsAction::Rollback,
            job: job.clone(),
            triggered: self.rollback_job_for(job),
            parameters: vec![
                ("TARGET_JOB".to_owned(), job.as_str().to_owned()),
                ("TARGET_BUILD".to_owned(), target.to_string()),
            ],
            rollback_target: Some(target),
        })
    }

    /// POSTs the trigger and returns the queue item id. The one call that changes Jenkins:
    /// never retried once it may have arrived.
    pub async fn fire(&self, trigger: &Trigger) -> Result<i64, JenkinsError> {
        let queue_id = self
            .trigger(&trigger.triggered, &trigger.parameters)
            .await?;
        info!(
            action = %trigger.action,
            job = %trigger.job,
            triggered = %trigger.triggered,
            queue_id,
            "build triggered"
        );
        Ok(queue_id)
    }

    /// Follows the queue item of a fired trigger until it starts a build and, when
    /// configured, that build until it ends. `duration` is left for the caller to set.
    pub async fn follow(
        &self,
        trigger: &Trigger,
        queue_id: i64,
    ) -> Result<JenkinsOutcome, JenkinsError> {
        let mut outcome = self
            .follow_trigger(
                trigger.action,
                &trigger.job,
                &trigger.triggered,
                queue_id,
                trigger.parameters.clone(),
            )
            .await?;
        outcome.rollback_target = trigger.rollback_target;
        Ok(outcome)
    }

    /// Aborts build `build` of `job`.
    pub async fn stop(&self, job: &JobName, build: i64) -> Result<JenkinsOutcome, JenkinsError> {
        let started = Instant::now();
        check_build(build)?;
        let path = format!("{}/{build}/stop", job.url_path());
        let posted = self.http().post("stop", &path, &[]).await?;
        // Jenkins redirects to the build page; that is success, not something to follow.
        if !(posted.status.is_success() || posted.status.is_redirection()) {
            return Err(status_error("stop", posted.status, || {
                format!("build #{build} of job '{job}'")
            }));
        }
        info!(job = %job, build, "stop requested");
        Ok(JenkinsOutcome {
            action: JenkinsAction::Stop,
            job: job.to_string(),
            triggered_job: job.to_string(),
            queue_id: None,
            build_number: build,
            build_url: Some(format!("{}{}/{build}/", self.http().base(), job.url_path())),
            parameters: Vec::new(),
            rollback_target: None,
            result: None,
            wait_error: None,
            duration: started.elapsed(),
        })
    }

    /// The job triggered to roll `job` back: its `rollback_jobs` entry, else itself.
    pub fn rollback_job_for(&self, job: &JobName) -> JobName {
        self.inner
            .rollback_jobs
            .get(job.as_str())
            .cloned()
            .unwrap_or_else(|| job.clone())
    }

    /// The highest build of `job` whose result is SUCCESS and, when `before`
    /// is given, whose number is lower than it.
    pub async fn last_successful_build(
        &self,
        job: &JobName,
        before: Option<i64>,
    ) -> Result<i64, JenkinsError> {
        let path = format!("{}/api/json", job.url_path());
        let info: JobJson = self
            .http()
            .get_json(
                "get_job",
                &path,
                &[("tree", "builds[number,result]")],
                || format!("job '{job}'"),
            )
            .await?;
        info.builds
            .iter()
            .filter(|b| b.result.as_deref() == Some("SUCCESS"))
            .filter(|b| before.is_none_or(|limit| b.number < limit))
            .map(|b| b.number)
            .max()
            .ok_or_else(|| JenkinsError::NoRollbackTarget {
                job: job.to_string(),
                before,
            })
    }

    pub(crate) async fn get_build(
        &self,
        job: &JobName,
        build: i64,
    ) -> Result<BuildJson, JenkinsError> {
        let path = format!("{}/{build}/api/json", job.url_path());
        self.http()
            .get_json("get_build", &path, &[], || {
                format!("build #{build} of job '{job}'")
            })
            .await
    }

    /// POSTs `build` or `buildWithParameters` and returns the queue item id.
    async fn trigger(
        &self,
        job: &JobName,
        parameters: &[(String, String)],
    ) -> Result<i64, JenkinsError> {
        const OPERATION: &str = "trigger";
        let endpoint = if parameters.is_empty() {
            "build"
        } else {
            "buildWithParameters"
        };
        let path = format!("{}/{endpoint}", job.url_path());
        let posted = self.http().post(OPERATION, &path, parameters).await?;
        if !(posted.status.is_success() || posted.status.is_redirection()) {
            return Err(status_error(OPERATION, posted.status, || {
                format!("job '{job}'")
            }));
        }
        let location = posted
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| JenkinsError::Protocol {
                operation: OPERATION,
                detail: format!("answer {} has no Location header", posted.status),
            })?;
        parse_queue_id(location).ok_or_else(|| JenkinsError::Protocol {
            operation: OPERATION,
            detail: "Location header does not name a queue item".into(),
        })
    }

    /// Waits for the queue item to start a build and, when configured, for
    /// the build's result.
    async fn follow_trigger(
        &self,
        action: JenkinsAction,
        job: &JobName,
        triggered: &JobName,
        queue_id: i64,
        parameters: Vec<(String, String)>,
    ) -> Result<JenkinsOutcome, JenkinsError> {
        let (build_number, build_url) = self.follow_queue(queue_id).await?;
        info!(job = %triggered, queue_id, build = build_number, "queued build started");
        let outcome = JenkinsOutcome {
            action,
            job: job.to_string(),
            triggered_job: triggered.to_string(),
            queue_id: Some(queue_id),
            build_number,
            build_url,
            parameters,
            rollback_target: None,
            result: None,
            wait_error: None,
            duration: Default::default(),
        };
        Ok(self.wait_if_configured(outcome).await)
    }

    /// Waits for the result of the outcome's build when `wait_for_result` is set.
    pub(crate) async fn wait_if_configured(&self, mut outcome: JenkinsOutcome) -> JenkinsOutcome {
        let build_number = outcome.build_number;
        let Ok(triggered) = JobName::parse(&outcome.triggered_job) else {
            return outcome;
        };
        let triggered = &triggered;
        if self.settings().wait_for_result {
            // The build exists whatever happens while waiting, so a failed
            // wait is reported next to it rather than replacing it.
            match self.wait_for_build(triggered, build_number).await {
                Ok(result) => outcome.result = Some(result),
                Err(e) => {
                    warn!(job = %triggered, build = build_number, error = %e, "could not wait for the build result");
                    outcome.wait_error = Some(e);
                }
            }
        }
        outcome
    }
}

pub(crate) fn check_build(build: i64) -> Result<(), JenkinsError> {
    if build > 0 {
        Ok(())
    } else {
        Err(JenkinsError::InvalidBuild(build))
    }
}

/// `http://ci/queue/item/42/` -> 42. Only the id is used: the host in the
/// Location is Jenkins' configured root URL, which may not be reachable from
/// here (containers, proxies), so the queue is polled through our base URL.
fn parse_queue_id(location: &str) -> Option<i64> {
    let (_, rest) = location.rsplit_once("/queue/item/")?;
    let id = rest.trim_end_matches('/');
    let id: i64 = id.parse().ok()?;
    (id > 0).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids_are_read_from_locations() {
        assert_eq!(parse_queue_id("http://ci:8080/queue/item/42/"), Some(42));
        assert_eq!(parse_queue_id("http://ci/jenkins/queue/item/7"), Some(7));
        assert_eq!(parse_queue_id("http://ci/queue/item/x/"), None);
        assert_eq!(parse_queue_id("http://ci/job/a/"), None);
        assert_eq!(parse_queue_id("http://ci/queue/item/0/"), None);
    }

    #[test]
    fn build_numbers_must_be_positive() {
        assert!(check_build(1).is_ok());
        assert!(matches!(check_build(0), Err(JenkinsError::InvalidBuild(0))));
        assert!(matches!(
            check_build(-3),
            Err(JenkinsError::InvalidBuild(-3))
        ));
    }
}
