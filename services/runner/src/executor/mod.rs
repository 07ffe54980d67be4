//! ActionExecutor: the life of one request. Re-read the row (the source of truth), ask the
//! guard, claim the action in the transaction that enqueues `action.started`, run it on
//! Jenkins while renewing the lease, then record the end with its event.
//!
//! Jenkins is called only after a claim committed: a redelivered or duplicated request
//! finds the row already running or finished and does nothing. Right before the trigger
//! the lease is checked again, and Jenkins' answer is recorded as soon as it comes, so a
//! runner that stops mid-action hands it over (see `resume`) instead of losing it.

mod jenkins;
mod lease;
mod step;

use std::sync::Arc;
use std::time::Duration;

use domain::ActionStatus;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

pub use crate::model::Plan;
pub use jenkins::{
    BUILD_FAILED, JenkinsExecutor, LEASE_UNCONFIRMED, NOT_TRIGGERED, OUTCOME_UNKNOWN,
    RUNNER_STOPPED, Run, finish_from,
};

use crate::error::RunnerError;
use crate::guard::{ActionGuard, Capacity, Rejection};
use crate::metrics::RunnerMetrics;
use crate::repo::{Action, ActionRepository, Finish, Resumable};
use step::Step;

/// What became of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// The row was already running or finished (a duplicate, a redelivery).
    AlreadyHandled,
    /// The action needs an approval first; `action.approved` will bring it back.
    AwaitingApproval,
    Rejected,
    Finished(Finish),
    /// Stopped following at the drain deadline; the next runner resumes it.
    HandedOver,
    /// The claim was taken over before Jenkins was called: nothing ran here.
    LeaseLost,
}

/// What the runner needs to execute actions; cheap to clone.
#[derive(Clone)]
pub struct ActionExecutor {
    parts: Arc<ExecutorParts>,
}

pub struct ExecutorParts {
    pub repo: ActionRepository,
    pub guard: ActionGuard,
    pub jenkins: JenkinsExecutor,
    pub metrics: RunnerMetrics,
    /// This replica's instance id, written to `claimed_by`.
    pub runner_id: String,
    pub lease: Duration,
    pub dry_run: bool,
    /// Cancelled at shutdown: nothing new is claimed, and requests waiting for a slot give
    /// up and go back to the queue.
    pub stop: CancellationToken,
    /// Cancelled shortly before the shutdown grace ends: actions still following Jenkins
    /// are handed over.
    pub deadline: CancellationToken,
}

enum Claim {
    Claimed,
    Rejected,
    Lost,
}

impl ActionExecutor {
    pub fn new(parts: ExecutorParts) -> Self {
        ActionExecutor {
            parts: Arc::new(parts),
        }
    }

    fn p(&self) -> &ExecutorParts {
        &self.parts
    }

    /// Handles a request for action `id`. Errors come from the database before anything
    /// was claimed, so the request may safely be tried again.
    pub async fn handle(&self, id: i64, correlation: Option<&str>) -> Result<Handled, RunnerError> {
        let p = self.p();
        let action = p
            .repo
            .get(id)
            .await?
            .ok_or(RunnerError::ActionNotFound(id))?;
        match action.status {
            ActionStatus::Requested if !action.requires_approval => {}
            ActionStatus::Approved => {}
            ActionStatus::Requested | ActionStatus::PendingApproval => {
                info!(action_id = id, status = %action.status, "action awaits approval");
                return Ok(Handled::AwaitingApproval);
            }
            status => {
                debug!(action_id = id, %status, "action already handled");
                return Ok(Handled::AlreadyHandled);
            }
        }
        let dry_run = p.dry_run || action.dry_run == Some(true);
        let plan = match self.check_request(&action) {
            Ok(plan) => plan,
            Err(rejection) => return self.reject(&action, rejection, correlation).await,
        };
        match self.claim(&action, dry_run, correlation).await? {
            Claim::Claimed => {}
            Claim::Rejected => return Ok(Handled::Rejected),
            Claim::Lost => return Ok(Handled::AlreadyHandled),
        }
        Ok(self.execute(&action, &plan, dry_run, correlation).await)
    }

    /// Takes over the running actions whose runner stopped after triggering Jenkins (their
    /// lease expired, or was handed over at shutdown). Nothing is taken while stopping, or
    /// by a runner that cannot reach Jenkins.
    pub async fn take_over_expired(&self, limit: i64) -> Result<Vec<Resumable>, RunnerError> {
        let p = self.p();
        if p.stop.is_cancelled() || !p.jenkins.can_follow() {
            return Ok(Vec::new());
        }
        p.repo.resume_expired(limit, &p.runner_id, p.lease).await
    }

    /// Follows a taken-over action to its end and records it.
    pub async fn resume(&self, r: Resumable) -> Handled {
        let p = self.p();
        let _in_flight = p.metrics.in_flight();
        let started = Instant::now();
        let a = &r.action;
        p.metrics.resumed.with_label_values::<&str>(&[]).inc();
        let run = match Plan::from_action(a.action_type, &a.target_job, a.target_build, &a.params) {
            Ok(plan) => {
                let step = self.step(a.id);
                lease::hold(&p.repo, a.id, &p.runner_id, p.lease, async {
                    match &r.in_doubt {
                        Some(doubt) => {
                            p.jenkins
                                .investigate(&step, &plan, r.job.as_deref(), doubt, r.started_at)
                                .await
                        }
                        None => {
                            p.jenkins
                                .resume(&step, &plan, r.queue_id, r.job.as_deref(), r.started_at)
                                .await
                        }
                    }
                })
                .await
            }
            // It ran once, so this only happens if the row was edited meanwhile.
            Err(reason) => Run::Finished(Finish::Failed {
                result: None,
                reason: format!("cannot resume: {reason}"),
                kind: "invalid_request".into(),
            }),
        };
        self.conclude(a, run, started, None).await
    }

    fn step(&self, id: i64) -> Step<'_> {
        let p = self.p();
        Step {
            repo: &p.repo,
            id,
            runner: &p.runner_id,
            lease: p.lease,
            deadline: &p.deadline,
        }
    }

    fn check_request(&self, a: &Action) -> Result<Plan, Rejection> {
        self.p().guard.check_request(
            a.action_type,
            &a.target_job,
            a.target_build,
            &a.params,
            chrono::Utc::now(),
        )
    }

    /// Cooldown and concurrency, decided under the claim lock; waits (with backoff) while
    /// every slot is taken, up to `guard.max_wait_secs`.
    async fn claim(
        &self,
        action: &Action,
        dry_run: bool,
        correlation: Option<&str>,
    ) -> Result<Claim, RunnerError> {
        let p = self.p();
        let started = Instant::now();
        let mut pause = None;
        loop {
            // Stopping: claim nothing new; the request goes back to the queue unchanged.
            if p.stop.is_cancelled() {
                return Err(RunnerError::Stopping);
            }
            let mut tx = p.repo.begin().await?;
            p.repo.lock_claims(&mut tx).await?;
            let window = p.guard.cooldown_window_mins();
            let counts = p.repo.counts(&mut tx, &action.target_job, window).await?;
            match p.guard.check_capacity(&action.target_job, counts) {
                Capacity::Free => {
                    let claimed = p
                        .repo
                        .claim(&mut tx, action, &p.runner_id, p.lease, dry_run, correlation)
                        .await?;
                    tx.commit().await?;
                    return Ok(match claimed {
                        Some(_) => Claim::Claimed,
                        None => Claim::Lost,
                    });
                }
                Capacity::Rejected(rejection) => {
                    drop(tx);
                    return self.refuse(action, rejection, correlation).await;
                }
                Capacity::Full { running } => {
                    tx.rollback().await?;
                    let waited = started.elapsed();
                    if waited >= p.guard.max_wait {
                        let rejection = p.guard.concurrency_timeout(running, waited);
                        return self.refuse(action, rejection, correlation).await;
                    }
                    if pause.is_none() {
                        info!(
                            action_id = action.id,
                            running,
                            limit = p.guard.max_concurrent,
                            "concurrency limit reached, waiting for a free slot"
                        );
                    }
                    let next = p.guard.next_poll(pause);
                    pause = Some(next);
                    let nap = next.min(p.guard.max_wait - waited);
                    tokio::select! {
                        _ = tokio::time::sleep(nap) => {}
                        _ = p.stop.cancelled() => return Err(RunnerError::Stopping),
                    }
                    // Time moved on while waiting: business hours may have ended.
                    if let Err(rejection) = self.check_request(action) {
                        return self.refuse(action, rejection, correlation).await;
                    }
                }
            }
        }
    }

    /// A rejection decided while claiming.
    async fn refuse(
        &self,
        action: &Action,
        rejection: Rejection,
        correlation: Option<&str>,
    ) -> Result<Claim, RunnerError> {
        Ok(match self.reject(action, rejection, correlation).await? {
            Handled::Rejected => Claim::Rejected,
            _ => Claim::Lost,
        })
    }

    async fn reject(
        &self,
        action: &Action,
        rejection: Rejection,
        correlation: Option<&str>,
    ) -> Result<Handled, RunnerError> {
        let p = self.p();
        let mut tx = p.repo.begin().await?;
        let done = p
            .repo
            .reject(&mut tx, action, &rejection.reason, correlation)
            .await?;
        tx.commit().await?;
        if !done {
            debug!(
                action_id = action.id,
                "action changed before it could be rejected"
            );
            return Ok(Handled::AlreadyHandled);
        }
        p.metrics
            .rejections
            .with_label_values(&[rejection.class.as_str()])
            .inc();
        p.metrics
            .actions
            .with_label_values(&[action.action_type.as_str(), "rejected"])
            .inc();
        info!(
            action_id = action.id,
            job = %action.target_job,
            class = rejection.class.as_str(),
            reason = %rejection.reason,
            "action rejected by the guard"
        );
        Ok(Handled::Rejected)
    }

    /// Runs a claimed action and records its end. Never an error: whatever happens now,
    /// the request must not be delivered again for another try.
    async fn execute(
        &self,
        action: &Action,
        plan: &Plan,
        dry_run: bool,
        correlation: Option<&str>,
    ) -> Handled {
        let p = self.p();
        let _in_flight = p.metrics.in_flight();
        let started = Instant::now();
        info!(action_id = action.id, job = %plan.job(), plan = %plan, dry_run, "action claimed");
        let step = self.step(action.id);
        let run = lease::hold(
            &p.repo,
            action.id,
            &p.runner_id,
            p.lease,
            p.jenkins.run(&step, plan, dry_run),
        )
        .await;
        self.conclude(action, run, started, correlation).await
    }

    /// Records how a run ended: its outcome, or its hand-over.
    async fn conclude(
        &self,
        action: &Action,
        run: Run,
        started: Instant,
        correlation: Option<&str>,
    ) -> Handled {
        let p = self.p();
        let finish = match run {
            Run::Finished(finish) => finish,
            Run::HandOver => {
                match p.repo.release(action.id, &p.runner_id).await {
                    Ok(true) => {
                        p.metrics.handed_over.with_label_values::<&str>(&[]).inc();
                        info!(
                            action_id = action.id,
                            "action handed over, the next runner resumes it"
                        )
                    }
                    Ok(false) => warn!(
                        action_id = action.id,
                        "nothing to hand over: the trigger was not recorded or the action moved on"
                    ),
                    Err(e) => warn!(
                        action_id = action.id,
                        error = %e,
                        "cannot hand the action over; it is resumed once its lease expires"
                    ),
                }
                return Handled::HandedOver;
            }
            Run::LeaseLost => {
                error!(
                    action_id = action.id,
                    "the lease was lost before the trigger: jenkins was not called"
                );
                return Handled::LeaseLost;
            }
        };
        let action_type = action.action_type.as_str();
        p.metrics
            .action_duration
            .with_label_values(&[action_type])
            .observe(started.elapsed().as_secs_f64());
        let outcome = match &finish {
            Finish::Completed(r) if r.dry_run => "dry_run",
            Finish::Completed(_) => "completed",
            Finish::Failed { .. } => "failed",
        };
        p.metrics
            .actions
            .with_label_values(&[action_type, outcome])
            .inc();
        match &finish {
            Finish::Completed(r) => {
                info!(action_id = action.id, outcome, build = ?r.build_number, "action completed")
            }
            Finish::Failed { reason, kind, .. } => {
                warn!(action_id = action.id, error_kind = %kind, reason = %reason, "action failed")
            }
        }
        self.record(action, &finish, correlation).await;
        Handled::Finished(finish)
    }

    /// Stores the end, retrying database trouble for up to a lease.
    async fn record(&self, action: &Action, finish: &Finish, correlation: Option<&str>) {
        let p = self.p();
        let deadline = Instant::now() + p.lease;
        let mut pause = Duration::from_millis(100);
        loop {
            let result = async {
                let mut tx = p.repo.begin().await?;
                let stored = p
                    .repo
                    .finish(&mut tx, action, &p.runner_id, finish, correlation)
                    .await?;
                tx.commit().await?;
                Ok::<bool, RunnerError>(stored)
            }
            .await;
            match result {
                Ok(true) => return,
                Ok(false) => {
                    error!(
                        action_id = action.id,
                        ?finish,
                        "the action ended after another runner took it over or it was declared lost; this outcome is not recorded"
                    );
                    return;
                }
                Err(e) if Instant::now() + pause < deadline => {
                    warn!(action_id = action.id, error = %e, "cannot record the end of the action, retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    error!(
                        action_id = action.id,
                        error = %e,
                        ?finish,
                        "cannot record the end of the action; its lease will expire and it will be declared lost"
                    );
                    return;
                }
            }
        }
    }
}
