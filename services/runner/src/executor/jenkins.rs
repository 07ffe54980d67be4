//! Runs a plan on Jenkins (or pretends to, in dry run) and turns what happened into the
//! end of the action.

use domain::action::ActionResult;
use tracing::info;

use super::plan::Plan;
use crate::jenkins::{JenkinsClient, JenkinsError, JenkinsOutcome};
use crate::repo::Finish;

/// `error_kind` of an action whose new build ended other than SUCCESS.
pub const BUILD_FAILED: &str = "build_failed";

#[derive(Clone)]
pub struct JenkinsExecutor {
    /// `None` only in a dry-run runner without `jenkins.url`.
    client: Option<JenkinsClient>,
}

impl JenkinsExecutor {
    pub fn new(client: Option<JenkinsClient>) -> Self {
        JenkinsExecutor { client }
    }

    pub async fn run(&self, plan: &Plan, dry_run: bool) -> Finish {
        if dry_run {
            info!(plan = %plan, "dry run: jenkins not called");
            return Finish::Completed(ActionResult {
                dry_run: true,
                ..ActionResult::default()
            });
        }
        let Some(client) = &self.client else {
            // Settings refuse this combination; kept as a failure rather than a panic.
            return Finish::Failed {
                result: None,
                reason: "jenkins.url is not set".into(),
                kind: "config".into(),
            };
        };
        let outcome = match plan {
            Plan::Restart { job, build } => client.restart(job, *build).await,
            Plan::Rollback {
                job,
                failed_build,
                target,
            } => client.rollback(job, *failed_build, *target).await,
            Plan::Stop { job, build } => client.stop(job, *build).await,
        };
        finish_from(outcome)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::jenkins::{BuildResult, JenkinsAction};

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
