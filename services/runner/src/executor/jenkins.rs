//! Runs a plan on Jenkins (or pretends to, in dry run) and turns what happened into the
//! end of the action. Reads are safe to interrupt; the trigger POST is not: it is sent
//! only while the lease is held, is never cut short, and its answer is recorded at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::action::ActionResult;
use tokio::time::Instant;
use tracing::{info, warn};

use super::step::{Lease, Step};
use crate::jenkins::{
    BuildResult, Found, JenkinsAction, JenkinsClient, JenkinsError, JenkinsOutcome, JobName,
    Trigger,
};
use crate::model::Plan;
use crate::repo::{Finish, InDoubt};

/// `error_kind` of an action whose new build ended other than SUCCESS.
pub const BUILD_FAILED: &str = "build_failed";
/// `error_kind` of an action the runner gave up before calling Jenkins, at shutdown.
pub const RUNNER_STOPPED: &str = "runner_stopped";
/// `error_kind` of an action whose runner was lost while triggering and whose trigger
/// Jenkins shows no trace of.
pub const NOT_TRIGGERED: &str = "not_triggered";
/// `error_kind` of an action whose runner was lost while triggering and whose outcome
/// Jenkins cannot tell: it may have run.
pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";
/// `error_kind` of an action whose lease could not be confirmed before the trigger.
pub const LEASE_UNCONFIRMED: &str = "lease_unconfirmed";

/// How a run ended for the executor.
#[derive(Debug, Clone, PartialEq)]
pub enum Run {
    Finished(Finish),
    /// The drain deadline came while following a recorded trigger: the action is handed
    /// over to be resumed by the next runner.
    HandOver,
    /// The lease was gone right before the trigger: Jenkins was not called and the row
    /// belongs to someone else now.
    LeaseLost,
}

#[derive(Clone)]
pub struct JenkinsExecutor {
    /// `None` only in a dry-run runner without `jenkins.url`.
    client: Option<JenkinsClient>,
}

impl JenkinsExecutor {
    pub fn new(client: Option<JenkinsClient>) -> Self {
        JenkinsExecutor { client }
    }

    /// Whether actions other runners triggered can be followed from here.
    pub fn can_follow(&self) -> bool {
        self.client.is_some()
    }

    pub async fn run(&self, step: &Step<'_>, plan: &Plan, dry_run: bool) -> Run {
        if dry_run {
            info!(plan = %plan, "dry run: jenkins not called");
            return Run::Finished(Finish::Completed(ActionResult {
                dry_run: true,
                ..ActionResult::default()
            }));
        }
        let Some(client) = &self.client else {
            return Run::Finished(no_client());
        };
        let started = Instant::now();
        if let Plan::Stop { job, build } = plan {
            if let Some(refused) = before_trigger(step).await {
                return refused;
            }
            if let Some(refused) = mark_sent(step, job.as_str(), None, &[]).await {
                return refused;
            }
            let stopped = client.stop(job, *build).await;
            if stopped.is_ok() {
                step.record_trigger(None, job.as_str()).await;
            }
            return Run::Finished(finish_from(stopped));
        }
        // Reads only: at the drain deadline nothing has happened yet, so give up cleanly.
        let prepared = tokio::select! {
            p = prepare(client, plan) => p,
            _ = step.deadline.cancelled() => return Run::Finished(stopped_before_trigger()),
        };
        let trigger = match prepared {
            Ok(t) => t,
            Err(e) => return Run::Finished(finish_from(Err(e))),
        };
        if step.deadline.is_cancelled() {
            return Run::Finished(stopped_before_trigger());
        }
        if let Some(refused) = before_trigger(step).await {
            return refused;
        }
        // Read before the POST: builds from this number on may be the trigger's, which is
        // what the reaper looks at if this runner is lost before Jenkins' answer is recorded.
        let next_build = match client.next_build_number(&trigger.triggered).await {
            Ok(n) => n,
            Err(e) => {
                warn!(action_id = step.id, error = %e, "cannot read the next build number before the trigger");
                None
            }
        };
        if let Some(refused) = mark_sent(
            step,
            trigger.triggered.as_str(),
            next_build,
            &trigger.parameters,
        )
        .await
        {
            return refused;
        }
        // Never interrupted: once sent, Jenkins' answer must be known and recorded.
        let queue_id = match client.fire(&trigger).await {
            Ok(q) => q,
            Err(e) => return Run::Finished(finish_from(Err(e))),
        };
        step.record_trigger(Some(queue_id), trigger.triggered.as_str())
            .await;
        follow(client, step, &trigger, queue_id, started, Duration::ZERO).await
    }

    /// Follows an action another runner (or this one, before a restart) triggered and
    /// recorded, from its queue item to its end.
    pub async fn resume(
        &self,
        step: &Step<'_>,
        plan: &Plan,
        queue_id: Option<i64>,
        triggered_job: Option<&str>,
        started_at: Option<DateTime<Utc>>,
    ) -> Run {
        let Some(client) = &self.client else {
            return Run::Finished(no_client());
        };
        let before = elapsed_since(started_at);
        let (action, job) = match plan {
            Plan::Stop { job, build } => {
                // The stop was answered before its runner went away: it is done.
                return Run::Finished(Finish::Completed(ActionResult {
                    build_number: Some(*build),
                    url: Some(format!(
                        "{}{}/{build}/",
                        client.settings().url.trim_end_matches('/'),
                        job.url_path()
                    )),
                    duration_ms: before.as_millis().min(u64::MAX as u128) as u64,
                    ..ActionResult::default()
                }));
            }
            Plan::Restart { job, .. } => (JenkinsAction::Restart, job),
            Plan::Rollback { job, .. } => (JenkinsAction::Rollback, job),
        };
        let Some(queue_id) = queue_id else {
            return Run::Finished(Finish::Failed {
                result: None,
                reason: "the trigger was recorded without its queue item; check the job".into(),
                kind: "protocol".into(),
            });
        };
        let triggered = triggered_job_of(client, action, job, triggered_job);
        let trigger = Trigger {
            action,
            job: job.clone(),
            triggered,
            parameters: Vec::new(),
            rollback_target: None,
        };
        info!(action_id = step.id, queue_id, job = %trigger.triggered, "resuming a triggered action");
        follow(client, step, &trigger, queue_id, Instant::now(), before).await
    }

    /// Settles an action whose runner was lost after marking its trigger as sent and before
    /// recording Jenkins' answer: Jenkins is asked what became of it, and the action is
    /// followed, failed as not run, or failed as "unknown — may have run". Never re-sent.
    pub async fn investigate(
        &self,
        step: &Step<'_>,
        plan: &Plan,
        triggered_job: Option<&str>,
        doubt: &InDoubt,
        started_at: Option<DateTime<Utc>>,
    ) -> Run {
        let Some(client) = &self.client else {
            return Run::Finished(no_client());
        };
        let before = elapsed_since(started_at);
        let (action, job) = match plan {
            Plan::Stop { job, build } => {
                return Run::Finished(settle_stop(client, job, *build).await);
            }
            Plan::Restart { job, .. } => (JenkinsAction::Restart, job),
            Plan::Rollback { job, .. } => (JenkinsAction::Rollback, job),
        };
        let triggered = triggered_job_of(client, action, job, triggered_job);
        let trigger = Trigger {
            action,
            job: job.clone(),
            triggered,
            parameters: doubt.params.clone(),
            rollback_target: match plan {
                Plan::Rollback { .. } => doubt
                    .params
                    .iter()
                    .find(|(k, _)| k == "TARGET_BUILD")
                    .and_then(|(_, v)| v.parse().ok()),
                _ => None,
            },
        };
        let found = client
            .find_trigger(&trigger.triggered, doubt.next_build, &doubt.params)
            .await;
        info!(action_id = step.id, job = %trigger.triggered, found = ?found, "runner lost while triggering: asked jenkins");
        let started = Instant::now();
        match found {
            Ok(Found::Queued(queue_id)) => {
                step.record_trigger(Some(queue_id), trigger.triggered.as_str())
                    .await;
                follow(client, step, &trigger, queue_id, started, before).await
            }
            Ok(Found::Build { number, queue_id }) => {
                step.record_trigger(queue_id, trigger.triggered.as_str())
                    .await;
                let mut outcome = client.follow_build(&trigger, number, queue_id).await;
                outcome.duration = before + started.elapsed();
                Run::Finished(finish_from(Ok(outcome)))
            }
            Ok(Found::Nothing) => Run::Finished(Finish::Failed {
                result: None,
                reason: format!(
                    "the runner was lost while triggering job '{}'; jenkins shows no queued item or build for it since #{}, so nothing ran",
                    trigger.triggered,
                    doubt.next_build.unwrap_or_default()
                ),
                kind: NOT_TRIGGERED.into(),
            }),
            Ok(Found::Ambiguous(candidates)) => Run::Finished(Finish::Failed {
                result: None,
                reason: format!(
                    "unknown — may have run: the runner was lost while triggering job '{}' and jenkins cannot tell which, if any, is its build (candidates: {candidates:?}); check the job",
                    trigger.triggered
                ),
                kind: OUTCOME_UNKNOWN.into(),
            }),
            Err(e) => Run::Finished(Finish::Failed {
                result: None,
                reason: format!(
                    "unknown — may have run: the runner was lost while triggering job '{}' and jenkins could not be asked ({e}); check the job",
                    trigger.triggered
                ),
                kind: OUTCOME_UNKNOWN.into(),
            }),
        }
    }
}

/// A stop whose answer was lost: done if the build ended ABORTED, unknown otherwise.
/// `Some` when the trigger could not be marked as sent: then it must not be sent.
async fn mark_sent(
    step: &Step<'_>,
    job: &str,
    next_build: Option<i64>,
    params: &[(String, String)],
) -> Option<Run> {
    match step.mark_trigger_sent(job, next_build, params).await {
        Lease::Held => None,
        Lease::Lost => Some(Run::LeaseLost),
        Lease::Unknown => Some(Run::Finished(Finish::Failed {
            result: None,
            reason: "the trigger could not be marked as sent before calling jenkins (database unreachable); nothing ran".into(),
            kind: LEASE_UNCONFIRMED.into(),
        })),
    }
}

async fn settle_stop(client: &JenkinsClient, job: &JobName, build: i64) -> Finish {
    match client.build_state(job, build).await {
        Ok((false, Some(BuildResult::Aborted))) => Finish::Completed(ActionResult {
            build_number: Some(build),
            build_result: Some("ABORTED".into()),
            url: Some(format!(
                "{}{}/{build}/",
                client.settings().url.trim_end_matches('/'),
                job.url_path()
            )),
            ..ActionResult::default()
        }),
        Ok((building, result)) => Finish::Failed {
            result: None,
            reason: format!(
                "unknown — may have run: the runner was lost while stopping build #{build} of job '{job}', which is {}",
                match (building, result) {
                    (true, _) => "still building".to_string(),
                    (false, Some(r)) => format!("finished {r}"),
                    (false, None) => "without a result".to_string(),
                }
            ),
            kind: OUTCOME_UNKNOWN.into(),
        },
        Err(e) => Finish::Failed {
            result: None,
            reason: format!(
                "unknown — may have run: the runner was lost while stopping build #{build} of job '{job}' and jenkins could not be asked ({e})"
            ),
            kind: OUTCOME_UNKNOWN.into(),
        },
    }
}

async fn prepare(client: &JenkinsClient, plan: &Plan) -> Result<Trigger, JenkinsError> {
    match plan {
        Plan::Restart { job, build } => client.prepare_restart(job, *build).await,
        Plan::Rollback {
            job,
            failed_build,
            target,
        } => client.prepare_rollback(job, *failed_build, *target).await,
        Plan::Stop { .. } => unreachable!("a stop has nothing to prepare"),
    }
}

/// `Some` when Jenkins must not be called: the lease is not (or not surely) ours.
async fn before_trigger(step: &Step<'_>) -> Option<Run> {
    match step.check_lease().await {
        Lease::Held => None,
        Lease::Lost => Some(Run::LeaseLost),
        Lease::Unknown => Some(Run::Finished(Finish::Failed {
            result: None,
            reason: "the lease could not be confirmed before triggering jenkins (database unreachable); nothing ran".into(),
            kind: LEASE_UNCONFIRMED.into(),
        })),
    }
}

/// Follows the queue item to the end, unless the drain deadline comes first.
async fn follow(
    client: &JenkinsClient,
    step: &Step<'_>,
    trigger: &Trigger,
    queue_id: i64,
    started: Instant,
    before: Duration,
) -> Run {
    tokio::select! {
        outcome = client.follow(trigger, queue_id) => {
            Run::Finished(finish_from(outcome.map(|mut o| {
                o.duration = before + started.elapsed();
                o
            })))
        }
        _ = step.deadline.cancelled() => {
            warn!(action_id = step.id, queue_id, "drain deadline while following the build, handing the action over");
            Run::HandOver
        }
    }
}

fn no_client() -> Finish {
    // Settings refuse this combination; kept as a failure rather than a panic.
    Finish::Failed {
        result: None,
        reason: "jenkins.url is not set".into(),
        kind: "config".into(),
    }
}

fn stopped_before_trigger() -> Finish {
    Finish::Failed {
        result: None,
        reason: "the runner stopped before triggering jenkins; nothing ran, request it again"
            .into(),
        kind: RUNNER_STOPPED.into(),
    }
}

/// Completed only when Jenkins did what was asked and, when the runner waited for the new
/// build, that build succeeded: a restart whose build fails again has not fixed anything.
pub fn finish_from(outcome: Result<JenkinsOutcome, JenkinsError>) -> Finish {
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let mut reason = e.to_string();
            if e.outcome_unknown() {
                reason.push_str(" (jenkins may have acted anyway: check the job)");
            }
            return Finish::Failed {
                result: None,
                reason,
                kind: e.kind().to_string(),
            };
        }
    };
    let result = ActionResult {
        queue_id: outcome.queue_id,
        build_number: Some(outcome.build_number),
        url: outcome.build_url.clone(),
        build_result: outcome.result.as_ref().map(|r| r.as_str().to_string()),
        duration_ms: outcome.duration.as_millis().min(u64::MAX as u128) as u64,
        dry_run: false,
    };
    if let Some(e) = &outcome.wait_error {
        return Finish::Failed {
            reason: format!(
                "build #{} of job '{}' started but its result is unknown: {e}",
                outcome.build_number, outcome.triggered_job
            ),
            kind: e.kind().to_string(),
            result: Some(result),
        };
    }
    match &outcome.result {
        Some(r) if !r.is_success() => Finish::Failed {
            reason: format!(
                "build #{} of job '{}' ended {r}",
                outcome.build_number, outcome.triggered_job
            ),
            kind: BUILD_FAILED.into(),
            result: Some(result),
        },
        _ => Finish::Completed(result),
    }
}

/// How long ago an action started (zero when unknown or in the future).
fn elapsed_since(started_at: Option<DateTime<Utc>>) -> Duration {
    started_at
        .and_then(|t| (Utc::now() - t).to_std().ok())
        .unwrap_or_default()
}

/// The job a recorded trigger went to: as recorded, else the one the action triggers.
fn triggered_job_of(
    client: &JenkinsClient,
    action: JenkinsAction,
    job: &JobName,
    recorded: Option<&str>,
) -> JobName {
    recorded
        .and_then(|j| JobName::parse(j).ok())
        .unwrap_or_else(|| match action {
            JenkinsAction::Rollback => client.rollback_job_for(job),
            _ => job.clone(),
        })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn outcome() -> JenkinsOutcome {
        JenkinsOutcome {
            action: JenkinsAction::Restart,
            job: "app".into(),
            triggered_job: "app".into(),
            queue_id: Some(4),
            build_number: 9,
            build_url: Some("http://ci/job/app/9/".into()),
            parameters: Vec::new(),
            rollback_target: None,
            result: None,
            wait_error: None,
            duration: Duration::from_millis(1234),
        }
    }

    #[test]
    fn a_triggered_build_completes_the_action() {
        let Finish::Completed(r) = finish_from(Ok(outcome())) else {
            panic!("not completed");
        };
        assert_eq!(
            r,
            ActionResult {
                queue_id: Some(4),
                build_number: Some(9),
                url: Some("http://ci/job/app/9/".into()),
                build_result: None,
                duration_ms: 1234,
                dry_run: false,
            }
        );
        let ok = JenkinsOutcome {
            result: Some(BuildResult::Success),
            ..outcome()
        };
        assert!(
            matches!(finish_from(Ok(ok)), Finish::Completed(r) if r.build_result.as_deref() == Some("SUCCESS"))
        );
    }

    #[test]
    fn a_failed_build_or_an_unknown_result_fails_the_action() {
        let failed = JenkinsOutcome {
            result: Some(BuildResult::Failure),
            ..outcome()
        };
        match finish_from(Ok(failed)) {
            Finish::Failed {
                result,
                reason,
                kind,
            } => {
                assert_eq!(kind, BUILD_FAILED);
                assert_eq!(reason, "build #9 of job 'app' ended FAILURE");
                assert_eq!(result.unwrap().build_result.as_deref(), Some("FAILURE"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let unknown = JenkinsOutcome {
            wait_error: Some(JenkinsError::Timeout {
                operation: "wait_for_build",
            }),
            ..outcome()
        };
        assert!(
            matches!(finish_from(Ok(unknown)), Finish::Failed { kind, .. } if kind == "timeout")
        );
    }

    #[test]
    fn jenkins_errors_fail_the_action_with_their_kind() {
        let e = JenkinsError::Server {
            operation: "trigger",
            status: 500,
        };
        match finish_from(Err(e)) {
            Finish::Failed {
                result: None,
                reason,
                kind,
            } => {
                assert_eq!(kind, "jenkins_5xx");
                assert!(
                    reason.starts_with("jenkins answered 500 during trigger"),
                    "{reason}"
                );
                assert!(reason.contains("may have acted"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let e = JenkinsError::NotFound {
            what: "job 'x'".into(),
        };
        assert!(
            matches!(finish_from(Err(e)), Finish::Failed { reason, .. } if reason == "jenkins has no job 'x' (404)")
        );
    }
}
