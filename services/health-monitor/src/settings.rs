//! Settings of the health-monitor: the common sections plus `health`, `dashboard` and
//! `events`. A bad value stops the start with a message naming the key.

use runtime::{Secret, SettingsError, string_list};
use serde::{Deserialize, Deserializer};

pub use crate::target::{Target, targets};

pub const SERVICE: &str = domain::names::service::HEALTH_MONITOR;

/// Built-in defaults that differ from the common ones.
pub const DEFAULTS: &str = "[http]\nport = 5050\n";

/// The environment variable that enables the dashboard; named in messages.
pub const PASSWORD_KEY: &str = "RUNBOOKS__DASHBOARD__PASSWORD";

/// The health-monitor's own sections.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HealthMonitorSections {
    #[serde(default)]
    pub health: HealthSettings,
    #[serde(default)]
    pub dashboard: DashboardSettings,
    #[serde(default)]
    pub events: EventSettings,
    #[serde(default)]
    pub console: ConsoleSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSettings {
    /// An instance without a heartbeat for this long (or two of its intervals, if longer)
    /// is down.
    pub down_after_secs: u64,
    /// How often every monitor looks for silent instances.
    pub sweep_interval_ms: u64,
    /// How often the leader records one uptime sample per Runbooks service.
    pub sample_interval_secs: u64,
    /// The leader lease: another monitor takes over this long after the leader vanished.
    pub leader_lease_secs: u64,
    /// A dead instance leaves the catalog this long after its last heartbeat.
    pub forget_instance_after_secs: u64,
    /// A stopped service (every instance left cleanly) leaves the catalog after this long.
    pub forget_stopped_after_hours: u64,
    /// Checks kept one by one (at least 25 h, so the 1 h and 24 h uptimes are exact);
    /// older ones are summed per hour.
    pub checks_raw_hours: u64,
    /// Hourly sums kept (at least 8 days, for the 7-day uptime).
    pub history_days: u64,
    /// Probes of external targets running at once.
    pub max_concurrent_probes: usize,
    /// Probes that must fail in a row before a target is down.
    pub failures_before_down: u32,
    /// `/check-services` alerts about a service at most this often.
    pub alert_cooldown_secs: u64,
    /// External services probed over HTTP (only these URLs are ever requested).
    #[serde(deserialize_with = "targets")]
    pub targets: Vec<Target>,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            down_after_secs: 15,
            sweep_interval_ms: 1000,
            sample_interval_secs: 30,
            leader_lease_secs: 15,
            forget_instance_after_secs: 600,
            forget_stopped_after_hours: 168,
            checks_raw_hours: 26,
            history_days: 8,
            max_concurrent_probes: 8,
            failures_before_down: 2,
            alert_cooldown_secs: 300,
            targets: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardSettings {
    pub user: String,
    /// No default: without one the dashboard stays off (see [`PASSWORD_KEY`]).
    #[serde(deserialize_with = "optional_secret")]
    pub password: Option<Secret>,
    /// The page reloads itself this often.
    pub refresh_secs: u64,
    /// Origins allowed to call the API from a browser (CORS); empty = none.
    #[serde(deserialize_with = "string_list")]
    pub cors_origins: Vec<String>,
    /// Failed logins from one address before it has to wait.
    pub max_failed_logins: u32,
    /// The window failed logins are counted in, and how long a blocked address waits.
    pub failed_login_window_secs: u64,
    /// How long the page waits for the orchestrator's open incidents.
    pub incidents_timeout_ms: u64,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings {
            user: "admin".into(),
            password: None,
            refresh_secs: 15,
            cors_origins: Vec::new(),
            max_failed_logins: 5,
            failed_login_window_secs: 60,
            incidents_timeout_ms: 2000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventSettings {
    /// Largest `POST /events` body.
    pub body_limit_bytes: usize,
    /// Rows a `GET /events` or `GET /audit` page holds at most.
    pub max_page: i64,
    /// Who may register events with `POST /events`: producer name → bearer token (a
    /// secret). The producer stored is the name whose token was presented. Empty: event
    /// registration is off.
    pub producers: std::collections::BTreeMap<String, Secret>,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            body_limit_bytes: 64 * 1024,
            max_page: 500,
            producers: Default::default(),
        }
    }
}

/// The operator console (`/console`): people log in with their own orchestrator API token.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSettings {
    /// `auto` (Secure cookies when the request came over TLS per `X-Forwarded-Proto`),
    /// `always` or `never`.
    pub secure_cookie: String,
    /// A session ends after this long without a request.
    pub session_idle_mins: u64,
    /// And after this long in any case.
    pub session_max_hours: u64,
    /// Failed logins with one token prefix (its first 12 characters) before that prefix
    /// waits; the person's own token is the only thing locked.
    pub max_failed_logins: u32,
    /// Failed logins from one address before it waits: high, because a gateway puts
    /// everyone behind one address.
    pub max_failed_logins_per_address: u32,
    /// The window failures are counted in, and how long a blocked key waits.
    pub failed_login_window_secs: u64,
    /// The page fetches fresh content this often (no full reload).
    pub refresh_secs: u64,
    /// How long a page or a button waits for the orchestrator.
    pub rpc_timeout_ms: u64,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            secure_cookie: "auto".into(),
            session_idle_mins: 60,
            session_max_hours: 12,
            max_failed_logins: 5,
            max_failed_logins_per_address: 100,
            failed_login_window_secs: 300,
            refresh_secs: 10,
            rpc_timeout_ms: 3000,
        }
    }
}

/// An empty string (an unset variable in docker compose) means no password.
fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<Secret>::deserialize(d)?.filter(Secret::is_set))
}

/// Producer names: what `valid_word` in `events` accepts, at most 64 bytes.
pub fn valid_producer_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

runtime::service_settings!(HealthMonitorSections);

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, why: &str| Err(SettingsError::Invalid(format!("{key}: {why}")));
        let h = &self.own.health;
        if h.down_after_secs == 0 {
            return bad("health.down_after_secs", "must be at least 1");
        }
        if !(50..=60_000).contains(&h.sweep_interval_ms) {
            return bad("health.sweep_interval_ms", "must be between 50 and 60000");
        }
        if h.sample_interval_secs == 0 {
            return bad("health.sample_interval_secs", "must be at least 1");
        }
        if h.leader_lease_secs < 2 {
            return bad("health.leader_lease_secs", "must be at least 2");
        }
        if h.checks_raw_hours < 25 {
            return bad(
                "health.checks_raw_hours",
                "must be at least 25 (the 24 h uptime reads single checks)",
            );
        }
        if h.history_days < 8 {
            return bad(
                "health.history_days",
                "must be at least 8 (the 7-day uptime reads hourly sums)",
            );
        }
        if !(1..=64).contains(&h.max_concurrent_probes) {
            return bad("health.max_concurrent_probes", "must be between 1 and 64");
        }
        if h.failures_before_down == 0 {
            return bad("health.failures_before_down", "must be at least 1");
        }
        crate::target::validate(&h.targets).map_err(SettingsError::Invalid)?;
        for t in &h.targets {
            if domain::names::service::ALL.contains(&t.name.as_str()) {
                return Err(SettingsError::Invalid(format!(
                    "health.targets: `{}` is a Runbooks service, which sends heartbeats",
                    t.name
                )));
            }
        }
        let c = &self.own.console;
        if !matches!(c.secure_cookie.as_str(), "auto" | "always" | "never") {
            return bad("console.secure_cookie", "must be auto, always or never");
        }
        if c.session_idle_mins == 0 || c.session_max_hours == 0 {
            return bad(
                "console.session_idle_mins",
                "session lifetimes must be at least 1",
            );
        }
        if c.max_failed_logins == 0 || c.max_failed_logins_per_address == 0 {
            return bad(
                "console.max_failed_logins",
                "login limits must be at least 1",
            );
        }
        if c.failed_login_window_secs == 0 {
            return bad("console.failed_login_window_secs", "must be at least 1");
        }
        if !(1..=3600).contains(&c.refresh_secs) {
            return bad("console.refresh_secs", "must be between 1 and 3600");
        }
        if !(100..=60_000).contains(&c.rpc_timeout_ms) {
            return bad("console.rpc_timeout_ms", "must be between 100 and 60000");
        }
        let d = &self.own.dashboard;
        if d.user.is_empty() || d.user.contains(':') {
            return bad("dashboard.user", "must be non-empty and contain no `:`");
        }
        if d.max_failed_logins == 0 {
            return bad("dashboard.max_failed_logins", "must be at least 1");
        }
        if d.failed_login_window_secs == 0 {
            return bad("dashboard.failed_login_window_secs", "must be at least 1");
        }
        if d.refresh_secs == 0 {
            return bad("dashboard.refresh_secs", "must be at least 1");
        }
        for origin in &d.cors_origins {
            crate::cors::parse_origin(origin)
                .map_err(|e| SettingsError::Invalid(format!("dashboard.cors_origins: {e}")))?;
        }
        let e = &self.own.events;
        if !(1024..=16 * 1024 * 1024).contains(&e.body_limit_bytes) {
            return bad(
                "events.body_limit_bytes",
                "must be between 1024 and 16777216",
            );
        }
        if !(1..=5000).contains(&e.max_page) {
            return bad("events.max_page", "must be between 1 and 5000");
        }
        for (name, token) in &e.producers {
            if !valid_producer_name(name) {
                return bad(
                    &format!("events.producers.{name}"),
                    "a producer is 1-64 letters, digits, `.`, `_`, `-` or `:`",
                );
            }
            if token.expose().len() < 16 {
                return bad(
                    &format!("events.producers.{name}"),
                    "the token must be at least 16 characters",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::ServiceSettings;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_with_env(None, Some(env))
    }

    #[test]
    fn defaults_follow_the_design() {
        let s = load(&[]).unwrap();
        assert_eq!(s.common.http.port, 5050);
        assert_eq!(s.own.health.down_after_secs, 15);
        assert!(s.own.dashboard.password.is_none(), "no built-in password");
        assert!(s.own.health.targets.is_empty());
    }

    #[test]
    fn environment_sets_targets_password_and_origins() {
        let s = load(&[
            ("RUNBOOKS__HEALTH__DOWN_AFTER_SECS", "3"),
            (
                "RUNBOOKS__HEALTH__TARGETS",
                "auth=http://auth:3000/health, product=https://product.internal/health",
            ),
            ("RUNBOOKS__DASHBOARD__USER", "ops"),
            ("RUNBOOKS__DASHBOARD__PASSWORD", "s3cret-pass"),
            (
                "RUNBOOKS__DASHBOARD__CORS_ORIGINS",
                "https://grafana.example.com,http://localhost:3000",
            ),
        ])
        .unwrap();
        assert_eq!(s.own.health.down_after_secs, 3);
        let names: Vec<_> = s
            .own
            .health
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["auth", "product"]);
        assert_eq!(
            s.own.dashboard.password.as_ref().map(Secret::expose),
            Some("s3cret-pass")
        );
        assert_eq!(s.own.dashboard.cors_origins.len(), 2);
        let debug = format!("{:?}", s.own.dashboard);
        assert!(!debug.contains("s3cret-pass"), "{debug}");
    }

    #[test]
    fn an_empty_password_means_none() {
        let s = load(&[("RUNBOOKS__DASHBOARD__PASSWORD", "")]).unwrap();
        assert!(s.own.dashboard.password.is_none());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (vars, key) in [
            (
                vec![("RUNBOOKS__HEALTH__DOWN_AFTER_SECS", "0")],
                "health.down_after_secs",
            ),
            (
                vec![("RUNBOOKS__HEALTH__TARGETS", "auth=ftp://auth/health")],
                "health.targets",
            ),
            (
                vec![(
                    "RUNBOOKS__HEALTH__TARGETS",
                    "runner=http://runner:3004/health",
                )],
                "health.targets",
            ),
            (
                vec![("RUNBOOKS__DASHBOARD__CORS_ORIGINS", "*")],
                "dashboard.cors_origins",
            ),
            (
                vec![("RUNBOOKS__HEALTH__CHECKS_RAW_HOURS", "2")],
                "health.checks_raw_hours",
            ),
            (vec![("RUNBOOKS__DASHBOARD__USER", "a:b")], "dashboard.user"),
        ] {
            let err = load(&vars).unwrap_err().to_string();
            assert!(err.contains(key), "{vars:?}: {err}");
        }
    }
}
