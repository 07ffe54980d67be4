//! ActionGuard: one decision, with a reason, for every request. The decisions are pure;
//! the counts they need (actions running, recent actions on a job) are read by the caller
//! from PostgreSQL inside the claim transaction, so every replica sees the same numbers.

mod hours;
mod jobs;
mod settings;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::ActionType;
use serde_json::Value;

pub use hours::{BusinessHours, HoursError};
pub use jobs::JobGlobs;
pub use settings::{BusinessHoursSettings, GuardSettings};

pub use crate::model::Counts;
use crate::model::Plan;

/// The rules, compiled from `[guard]`.
#[derive(Debug, Clone)]
pub struct ActionGuard {
    allowed: JobGlobs,
    denied: JobGlobs,
    hours: Option<BusinessHours>,
    pub max_concurrent: i64,
    pub cooldown: Option<Cooldown>,
    /// How long a request may wait for a free slot.
    pub max_wait: Duration,
    /// Longest pause between two looks for a free slot.
    pub wait_poll: Duration,
}

/// At most `max_actions` on one job within `window_mins` minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cooldown {
    pub max_actions: i64,
    pub window_mins: i32,
}

/// Low-cardinality class of a rejection (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectClass {
    InvalidRequest,
    Denied,
    NotAllowed,
    OutsideBusinessHours,
    Cooldown,
    ConcurrencyTimeout,
}

impl RejectClass {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectClass::InvalidRequest => "invalid_request",
            RejectClass::Denied => "denied",
            RejectClass::NotAllowed => "not_allowed",
            RejectClass::OutsideBusinessHours => "outside_business_hours",
            RejectClass::Cooldown => "cooldown",
            RejectClass::ConcurrencyTimeout => "concurrency_timeout",
        }
    }
}

/// Why the guard refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub class: RejectClass,
    pub reason: String,
}

impl Rejection {
    fn new(class: RejectClass, reason: impl Into<String>) -> Self {
        Rejection {
            class,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The database-backed part of the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capacity {
    /// Claim it now.
    Free,
    /// Every slot is taken: wait and look again.
    Full {
        running: i64,
    },
    Rejected(Rejection),
}

impl ActionGuard {
    /// The rules that need no database: a valid request, on an allowed job that is not
    /// denied, within business hours. Returns what to run.
    pub fn check_request(
        &self,
        action_type: ActionType,
        target_job: &str,
        target_build: Option<i64>,
        params: &Value,
        now: DateTime<Utc>,
    ) -> Result<Plan, Rejection> {
        let plan = Plan::from_action(action_type, target_job, target_build, params)
            .map_err(|e| Rejection::new(RejectClass::InvalidRequest, e))?;
        let job = plan.job().as_str();
        if let Some(pattern) = self.denied.matching(job) {
            return Err(Rejection::new(
                RejectClass::Denied,
                format!("job {job:?} is denied by guard.denied_jobs pattern {pattern:?}"),
            ));
        }
        if self.allowed.is_empty() {
            return Err(Rejection::new(
                RejectClass::NotAllowed,
                format!("job {job:?} is not allowed: guard.allowed_jobs is empty"),
            ));
        }
        if self.allowed.matching(job).is_none() {
            return Err(Rejection::new(
                RejectClass::NotAllowed,
                format!("job {job:?} is not allowed by guard.allowed_jobs"),
            ));
        }
        if let Some(hours) = &self.hours
            && !hours.contains(now)
        {
            return Err(Rejection::new(
                RejectClass::OutsideBusinessHours,
                format!(
                    "outside business hours ({hours}); it is {}",
                    hours.local_time(now)
                ),
            ));
        }
        Ok(plan)
    }

    /// The rules that need counts: the per-job cooldown (a rejection) and the concurrency
    /// limit (a wait).
    pub fn check_capacity(&self, job: &str, counts: Counts) -> Capacity {
        if let Some(c) = self.cooldown
            && counts.recent_on_job >= c.max_actions
        {
            return Capacity::Rejected(Rejection::new(
                RejectClass::Cooldown,
                format!(
                    "cooldown: {} actions on job {job:?} in the last {} minutes (limit {})",
                    counts.recent_on_job, c.window_mins, c.max_actions
                ),
            ));
        }
        if counts.running >= self.max_concurrent {
            return Capacity::Full {
                running: counts.running,
            };
        }
        Capacity::Free
    }

    /// The rejection of a request that found no free slot within `max_wait`.
    pub fn concurrency_timeout(&self, running: i64, waited: Duration) -> Rejection {
        Rejection::new(
            RejectClass::ConcurrencyTimeout,
            format!(
                "concurrency limit reached: {running} actions running (limit {}); no slot freed within {} s",
                self.max_concurrent,
                waited.as_secs()
            ),
        )
    }

    /// The pause before the next look for a slot: doubles from 50 ms up to `wait_poll`.
    pub fn next_poll(&self, previous: Option<Duration>) -> Duration {
        let first = Duration::from_millis(50).min(self.wait_poll);
        previous
            .map(|p| (p * 2).min(self.wait_poll))
            .unwrap_or(first)
    }

    pub fn allows_nothing(&self) -> bool {
        self.allowed.is_empty()
    }

    /// The window in minutes the caller counts recent actions in (0 when off).
    pub fn cooldown_window_mins(&self) -> i32 {
        self.cooldown.map_or(0, |c| c.window_mins)
    }
}

#[cfg(test)]
mod tests;
