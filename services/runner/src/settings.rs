//! Settings of the runner: the common sections plus `[runner]`, `[guard]`, `[jenkins]` and
//! `[commands]`.

use std::time::Duration;

use runtime::{SettingsError, invalid, string_list};
use serde::Deserialize;

use crate::guard::{ActionGuard, GuardSettings};
use crate::jenkins::JenkinsSettings;

pub const SERVICE: &str = domain::names::service::RUNNER;

/// Built-in defaults that differ from the common ones. `jenkins.url` has no sensible
/// default, but an empty one lets a dry-run runner start without Jenkins. The drain after
/// SIGTERM covers a trigger call to a slow Jenkins; longer actions are handed over.
pub const DEFAULTS: &str =
    "[http]\nport = 3004\n\n[jenkins]\nurl = \"\"\n\n[shutdown]\ngrace_secs = 30\n";

/// `[runner]`: how actions are consumed and claimed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RunnerSettings {
    /// Requests handled at once by this replica (including those waiting for a slot).
    pub concurrency: usize,
    /// Unacknowledged requests held by this replica; 0 means `concurrency`, so that
    /// requests wait in the queue, where any idle replica can take them.
    pub prefetch: u16,
    /// How long a claim lasts without renewal; renewed every third of it while Jenkins
    /// is being called.
    pub lease_secs: u64,
    /// How often expired leases (runners that died) are looked for.
    pub reaper_interval_secs: u64,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            concurrency: 4,
            prefetch: 0,
            lease_secs: 60,
            reaper_interval_secs: 15,
        }
    }
}

impl RunnerSettings {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    pub fn prefetch(&self) -> u16 {
        if self.prefetch == 0 {
            self.concurrency.min(u16::MAX as usize) as u16
        } else {
            self.prefetch
        }
    }
}

/// `[commands]`: the read-only requests served on `runner.commands`
/// (`command.jenkins.changes`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CommandSettings {
    /// RabbitMQ users (the AMQP `user_id`, checked by the broker) whose requests are
    /// answered. Empty: the runner's own RabbitMQ user only (one shared user in
    /// development); list the orchestrator's user when it has its own.
    #[serde(deserialize_with = "string_list")]
    pub trusted_users: Vec<String>,
    /// Requests served at once by this replica.
    pub concurrency: usize,
}

impl Default for CommandSettings {
    fn default() -> Self {
        CommandSettings {
            trusted_users: Vec::new(),
            concurrency: 4,
        }
    }
}

fn default_jenkins() -> JenkinsSettings {
    JenkinsSettings::new("")
}

/// The runner's own sections.
#[derive(Debug, Clone, Deserialize)]
pub struct RunnerSections {
    #[serde(default)]
    pub runner: RunnerSettings,
    #[serde(default)]
    pub guard: GuardSettings,
    #[serde(default = "default_jenkins")]
    pub jenkins: JenkinsSettings,
    #[serde(default)]
    pub commands: CommandSettings,
}

impl Default for RunnerSections {
    fn default() -> Self {
        RunnerSections {
            runner: RunnerSettings::default(),
            guard: GuardSettings::default(),
            jenkins: default_jenkins(),
            commands: CommandSettings::default(),
        }
    }
}

runtime::service_settings!(RunnerSections);

impl Settings {
    /// Checks every runner value and compiles the guard.
    pub fn validate(&self) -> Result<ActionGuard, SettingsError> {
        let r = &self.own.runner;
        if r.concurrency == 0 {
            return Err(invalid("runner.concurrency", "must be at least 1"));
        }
        if r.lease_secs == 0 {
            return Err(invalid("runner.lease_secs", "must be at least 1"));
        }
        if r.reaper_interval_secs == 0 {
            return Err(invalid("runner.reaper_interval_secs", "must be at least 1"));
        }
        if self.own.commands.concurrency == 0 {
            return Err(invalid("commands.concurrency", "must be at least 1"));
        }
        let guard = self.own.guard.compile()?;
        let j = &self.own.jenkins;
        if j.url.trim().is_empty() && !self.own.guard.dry_run {
            return Err(invalid(
                "jenkins.url",
                "is empty; set JENKINS_URL (or RUNBOOKS__JENKINS__URL), or DRY_RUN=true to run without Jenkins",
            ));
        }
        if j.request_timeout_ms == 0 {
            return Err(invalid("jenkins.request_timeout_ms", "must be at least 1"));
        }
        if j.poll_interval_ms == 0 {
            return Err(invalid("jenkins.poll_interval_ms", "must be at least 1"));
        }
        Ok(guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::ServiceSettings;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_with_env(None, Some(env))
    }

    #[test]
    fn environment_names_reach_every_section() {
        let s = load(&[
            ("JENKINS_URL", "http://ci:8080"),
            ("JENKINS_USERNAME", "bot"),
            ("JENKINS_API_TOKEN", "t0ken"),
            ("RUNBOOKS__GUARD__ALLOWED_JOBS", "deploy-*, team/app"),
            ("RUNBOOKS__GUARD__DENIED_JOBS", "prod-db"),
            ("RUNBOOKS__GUARD__MAX_CONCURRENT", "5"),
            ("RUNBOOKS__GUARD__BUSINESS_HOURS__ENABLED", "true"),
            ("RUNBOOKS__GUARD__BUSINESS_HOURS__DAYS", "mon,sat"),
            ("RUNBOOKS__GUARD__BUSINESS_HOURS__TIMEZONE", "Europe/Madrid"),
            ("RUNBOOKS__RUNNER__CONCURRENCY", "8"),
            ("RUNBOOKS__RUNNER__LEASE_SECS", "30"),
            ("RUNBOOKS__COMMANDS__TRUSTED_USERS", "orchestrator, runner"),
            ("RUNBOOKS__COMMANDS__CONCURRENCY", "2"),
        ])
        .unwrap();
        assert_eq!(s.own.commands.trusted_users, ["orchestrator", "runner"]);
        assert_eq!(s.own.commands.concurrency, 2);
        assert_eq!(s.common.http.port, 3004);
        assert_eq!(s.common.shutdown.grace_secs, 30);
        assert_eq!(s.own.jenkins.url, "http://ci:8080");
        assert_eq!(s.own.jenkins.username, "bot");
        assert_eq!(s.own.jenkins.api_token.expose(), "t0ken");
        assert_eq!(s.own.guard.allowed_jobs, ["deploy-*", "team/app"]);
        assert_eq!(s.own.guard.denied_jobs, ["prod-db"]);
        assert_eq!(s.own.guard.max_concurrent, 5);
        assert_eq!(s.own.guard.business_hours.days, ["mon", "sat"]);
        assert!(s.own.guard.business_hours.enabled);
        assert_eq!(s.own.runner.concurrency, 8);
        assert_eq!(s.own.runner.prefetch(), 8);
        assert_eq!(s.own.runner.lease(), Duration::from_secs(30));
        assert!(!format!("{:?}", s.own).contains("t0ken"));
    }

    #[test]
    fn without_jenkins_only_a_dry_run_starts() {
        let err = load(&[]).unwrap_err().to_string();
        assert!(err.contains("jenkins.url"), "{err}");
        let s = load(&[("DRY_RUN", "true")]).unwrap();
        assert!(s.own.guard.dry_run);
        assert!(
            s.own.guard.allowed_jobs.is_empty(),
            "nothing allowed by default"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let url = ("JENKINS_URL", "http://ci");
        let cases = [
            ("RUNBOOKS__RUNNER__CONCURRENCY", "0", "runner.concurrency"),
            ("RUNBOOKS__RUNNER__LEASE_SECS", "0", "runner.lease_secs"),
            (
                "RUNBOOKS__COMMANDS__CONCURRENCY",
                "0",
                "commands.concurrency",
            ),
            (
                "RUNBOOKS__COMMANDS__CONCURRENCY",
                "many",
                "commands.concurrency",
            ),
            (
                "RUNBOOKS__GUARD__ALLOWED_JOBS",
                "a,[b",
                "guard.allowed_jobs",
            ),
            (
                "RUNBOOKS__GUARD__BUSINESS_HOURS__ENABLED",
                "yes please",
                "guard.business_hours.enabled",
            ),
            (
                "RUNBOOKS__GUARD__MAX_WAIT_SECS",
                "-1",
                "guard.max_wait_secs",
            ),
        ];
        for (var, value, key) in cases {
            let err = load(&[url, (var, value)]).unwrap_err().to_string();
            assert!(err.contains(key), "{var}={value}: {err}");
        }
        let err = load(&[
            url,
            ("RUNBOOKS__GUARD__BUSINESS_HOURS__ENABLED", "true"),
            ("RUNBOOKS__GUARD__BUSINESS_HOURS__TIMEZONE", "Madrid"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("guard.business_hours.timezone"), "{err}");
    }
}
