//! `[guard]` settings and their validation into an [`ActionGuard`].

use std::time::Duration;

use runtime::{SettingsError, string_list};
use serde::Deserialize;

use super::hours::{BusinessHours, parse_day, parse_time, parse_zone};
use super::jobs::JobGlobs;
use super::{ActionGuard, Cooldown};

/// `[guard]`: what the runner is allowed to do, and when.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GuardSettings {
    /// Everything except the Jenkins call (`DRY_RUN`).
    pub dry_run: bool,
    /// Globs of the jobs actions may touch. Empty allows nothing: a runner must be told
    /// what it may act on.
    #[serde(deserialize_with = "string_list")]
    pub allowed_jobs: Vec<String>,
    /// Globs of jobs never touched, even when allowed.
    #[serde(deserialize_with = "string_list")]
    pub denied_jobs: Vec<String>,
    /// Actions running at once across every replica.
    pub max_concurrent: u32,
    /// How long a request waits for a free slot before it is rejected.
    pub max_wait_secs: u64,
    /// Longest pause between two looks for a free slot (the pause grows up to it).
    pub wait_poll_ms: u64,
    /// At most this many actions on one job...
    pub cooldown_max_actions: u32,
    /// ...within this many minutes; 0 turns the cooldown off.
    pub cooldown_window_mins: u64,
    pub business_hours: BusinessHoursSettings,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            dry_run: false,
            allowed_jobs: Vec::new(),
            denied_jobs: Vec::new(),
            max_concurrent: 3,
            max_wait_secs: 300,
            wait_poll_ms: 1_000,
            cooldown_max_actions: 3,
            cooldown_window_mins: 30,
            business_hours: BusinessHoursSettings::default(),
        }
    }
}

/// `[guard.business_hours]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BusinessHoursSettings {
    pub enabled: bool,
    /// `mon`..`sun`.
    #[serde(deserialize_with = "string_list")]
    pub days: Vec<String>,
    /// `HH:MM`, inclusive.
    pub start: String,
    /// `HH:MM`, exclusive; `24:00` for the end of the day.
    pub end: String,
    /// IANA name, e.g. `Europe/Madrid`.
    pub timezone: String,
}

impl Default for BusinessHoursSettings {
    fn default() -> Self {
        BusinessHoursSettings {
            enabled: false,
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            start: "09:00".into(),
            end: "18:00".into(),
            timezone: "UTC".into(),
        }
    }
}

fn invalid(key: &str, reason: impl std::fmt::Display) -> SettingsError {
    SettingsError::Invalid(format!("{key}: {reason}"))
}

impl GuardSettings {
    /// Checks every value and builds the guard; errors name the key.
    pub fn compile(&self) -> Result<ActionGuard, SettingsError> {
        let allowed = JobGlobs::compile(&self.allowed_jobs, false)
            .map_err(|e| invalid("guard.allowed_jobs", e))?;
        let denied = JobGlobs::compile(&self.denied_jobs, true)
            .map_err(|e| invalid("guard.denied_jobs", e))?;
        if self.max_concurrent == 0 {
            return Err(invalid("guard.max_concurrent", "must be at least 1"));
        }
        if self.wait_poll_ms == 0 {
            return Err(invalid("guard.wait_poll_ms", "must be at least 1"));
        }
        if self.cooldown_max_actions == 0 {
            return Err(invalid(
                "guard.cooldown_max_actions",
                "must be at least 1 (set guard.cooldown_window_mins = 0 to turn the cooldown off)",
            ));
        }
        let cooldown = (self.cooldown_window_mins > 0).then(|| Cooldown {
            max_actions: i64::from(self.cooldown_max_actions),
            window_mins: self.cooldown_window_mins.min(i32::MAX as u64) as i32,
        });
        let hours = if self.business_hours.enabled {
            Some(self.business_hours.compile()?)
        } else {
            None
        };
        Ok(ActionGuard {
            allowed,
            denied,
            hours,
            max_concurrent: i64::from(self.max_concurrent),
            cooldown,
            max_wait: Duration::from_secs(self.max_wait_secs),
            wait_poll: Duration::from_millis(self.wait_poll_ms),
        })
    }
}

impl BusinessHoursSettings {
    fn compile(&self) -> Result<BusinessHours, SettingsError> {
        const KEY: &str = "guard.business_hours";
        let mut days = Vec::new();
        for d in &self.days {
            let day = parse_day(d).map_err(|e| invalid(&format!("{KEY}.days"), e))?;
            if !days.contains(&day) {
                days.push(day);
            }
        }
        if days.is_empty() {
            return Err(invalid(
                &format!("{KEY}.days"),
                "is empty while business hours are enabled",
            ));
        }
        let start = parse_time(&self.start).map_err(|e| invalid(&format!("{KEY}.start"), e))?;
        let end = parse_time(&self.end).map_err(|e| invalid(&format!("{KEY}.end"), e))?;
        if start >= end {
            return Err(invalid(
                &format!("{KEY}.start"),
                format!(
                    "`{}` must be before {KEY}.end `{}` (windows over midnight are not supported)",
                    self.start, self.end
                ),
            ));
        }
        let tz = parse_zone(&self.timezone).map_err(|e| invalid(&format!("{KEY}.timezone"), e))?;
        Ok(BusinessHours {
            days,
            start_min: start,
            end_min: end,
            tz,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: GuardSettings) -> String {
        s.compile().expect_err("invalid settings").to_string()
    }

    fn hours(f: impl FnOnce(&mut BusinessHoursSettings)) -> GuardSettings {
        let mut s = GuardSettings::default();
        s.business_hours.enabled = true;
        f(&mut s.business_hours);
        s
    }

    #[test]
    fn defaults_compile() {
        let guard = GuardSettings::default().compile().unwrap();
        assert!(guard.hours.is_none());
        assert_eq!(guard.max_concurrent, 3);
        assert!(guard.cooldown.is_some());
        assert!(hours(|_| {}).compile().unwrap().hours.is_some());
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad_glob = GuardSettings {
            denied_jobs: vec!["prod-[".into()],
            ..GuardSettings::default()
        };
        assert!(err(bad_glob).contains("guard.denied_jobs: invalid glob `prod-[`"));
        assert!(
            err(hours(|h| h.timezone = "Europe/Atlantis".into()))
                .contains("guard.business_hours.timezone")
        );
        let text = err(hours(|h| {
            h.start = "18:00".into();
            h.end = "09:00".into();
        }));
        assert!(text.contains("guard.business_hours.start"), "{text}");
        assert!(err(hours(|h| h.end = "25:00".into())).contains("guard.business_hours.end"));
        assert!(err(hours(|h| h.days = vec!["funday".into()])).contains("days"));
        assert!(err(hours(|h| h.days.clear())).contains("days: is empty"));
        let zero = GuardSettings {
            max_concurrent: 0,
            ..GuardSettings::default()
        };
        assert!(err(zero).contains("guard.max_concurrent"));
        // Disabled hours are not validated: an operator may keep a draft there.
        let mut draft = GuardSettings::default();
        draft.business_hours.timezone = "nowhere".into();
        assert!(draft.compile().is_ok());
    }

    #[test]
    fn a_zero_window_turns_the_cooldown_off() {
        let s = GuardSettings {
            cooldown_window_mins: 0,
            ..GuardSettings::default()
        };
        assert!(s.compile().unwrap().cooldown.is_none());
    }
}
