//! `[runbooks]`: the runbooks file, the conductor's pace and where escalations page.

use std::path::PathBuf;

use domain::Severity;
use runtime::{Secret, SettingsError};
use serde::Deserialize;

/// `[runbooks]`: the runbooks file and the conductor's pace.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunbookSettings {
    /// The runbooks file (`RUNBOOKS__RUNBOOKS__PATH`); the shipped defaults without one.
    pub path: Option<PathBuf>,
    /// How often the conductor looks for due runs when nothing woke it.
    pub poll_ms: u64,
    /// Step transitions one conductor pass makes at most before sleeping again.
    pub batch: usize,
    /// `[runbooks.escalation]`: who an escalation pages.
    pub escalation: EscalationSettings,
}

impl Default for RunbookSettings {
    fn default() -> Self {
        RunbookSettings {
            path: None,
            poll_ms: 1000,
            batch: 200,
            escalation: EscalationSettings::default(),
        }
    }
}

impl RunbookSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if self.poll_ms == 0 {
            return Err(SettingsError::Invalid(
                "runbooks.poll_ms: must be at least 1".into(),
            ));
        }
        self.escalation.validate()
    }
}

/// `[runbooks.escalation]`: the pager's pace and, per incident severity
/// (`[runbooks.escalation.critical]` …), the PagerDuty routing key and the signed webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationSettings {
    /// Base URL of the PagerDuty Events API v2 (`POST {url}/v2/enqueue`).
    pub pagerduty_url: String,
    /// How long one call may take.
    pub timeout_ms: u64,
    /// Calls of one page before it is given up as `failed` (5xx, 429, no answer).
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles, up to a minute.
    pub retry_base_ms: u64,
    /// How long a page claimed for a call is left alone before another pass re-sends it
    /// (the sender died mid-call; the same dedup_key makes the re-send harmless).
    pub lease_secs: u64,
    /// How often the pager looks for due pages when nothing woke it.
    pub poll_ms: u64,
    pub critical: EscalationTarget,
    pub high: EscalationTarget,
    pub medium: EscalationTarget,
    pub low: EscalationTarget,
}

impl Default for EscalationSettings {
    fn default() -> Self {
        EscalationSettings {
            pagerduty_url: "https://events.pagerduty.com".into(),
            timeout_ms: 10_000,
            max_attempts: 10,
            retry_base_ms: 2_000,
            lease_secs: 60,
            poll_ms: 1_000,
            critical: EscalationTarget::default(),
            high: EscalationTarget::default(),
            medium: EscalationTarget::default(),
            low: EscalationTarget::default(),
        }
    }
}

/// Where one severity's escalations go. Both, one or neither may be set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationTarget {
    /// The PagerDuty service's Events API v2 integration key.
    pub pagerduty_routing_key: Secret,
    /// An http(s) URL that receives the escalation as signed JSON.
    pub webhook_url: Option<String>,
    /// HMAC-SHA256 key of the webhook's `X-Runbooks-Signature`; required with a URL.
    pub webhook_secret: Secret,
}

impl EscalationTarget {
    pub fn pagerduty(&self) -> Option<&Secret> {
        Some(&self.pagerduty_routing_key).filter(|k| k.is_set())
    }

    pub fn webhook(&self) -> Option<(&str, &Secret)> {
        let url = self
            .webhook_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())?;
        Some((url.trim(), &self.webhook_secret))
    }
}

impl EscalationSettings {
    pub fn target(&self, severity: Severity) -> &EscalationTarget {
        match severity {
            Severity::Critical => &self.critical,
            Severity::High => &self.high,
            Severity::Medium => &self.medium,
            Severity::Low => &self.low,
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, why: &str| {
            Err(SettingsError::Invalid(format!(
                "runbooks.escalation.{key}: {why}"
            )))
        };
        if !http_url(&self.pagerduty_url) {
            return bad("pagerduty_url", "must be an http(s) URL");
        }
        if self.timeout_ms == 0 || self.timeout_ms > 60_000 {
            return bad("timeout_ms", "must be between 1 and 60000");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts", "must be at least 1");
        }
        if self.retry_base_ms == 0 {
            return bad("retry_base_ms", "must be at least 1");
        }
        if self.lease_secs * 1000 <= self.timeout_ms {
            return bad("lease_secs", "must be longer than timeout_ms");
        }
        if self.poll_ms == 0 {
            return bad("poll_ms", "must be at least 1");
        }
        for (name, t) in [
            ("critical", &self.critical),
            ("high", &self.high),
            ("medium", &self.medium),
            ("low", &self.low),
        ] {
            if t.pagerduty_routing_key.is_blank() {
                return bad(&format!("{name}.pagerduty_routing_key"), "is only blanks");
            }
            if let Some((url, secret)) = t.webhook() {
                if !http_url(url) {
                    return bad(&format!("{name}.webhook_url"), "must be an http(s) URL");
                }
                if !secret.is_set() || secret.is_blank() {
                    return bad(
                        &format!("{name}.webhook_secret"),
                        "is required with webhook_url (every webhook call is signed)",
                    );
                }
            }
        }
        Ok(())
    }
}

fn http_url(u: &str) -> bool {
    matches!(url::Url::parse(u.trim()), Ok(p) if matches!(p.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(f: impl FnOnce(&mut EscalationSettings)) -> String {
        let mut e = EscalationSettings::default();
        f(&mut e);
        e.validate().unwrap_err().to_string()
    }

    #[test]
    fn escalation_settings_are_checked_naming_the_key() {
        assert!(EscalationSettings::default().validate().is_ok());
        let m = err(|e| e.high.webhook_url = Some("https://hooks.example.com/x".into()));
        assert!(m.contains("runbooks.escalation.high.webhook_secret"), "{m}");
        let m = err(|e| {
            e.low.webhook_url = Some("ftp://x".into());
            e.low.webhook_secret = "s".into();
        });
        assert!(m.contains("runbooks.escalation.low.webhook_url"), "{m}");
        let m = err(|e| e.critical.pagerduty_routing_key = "  ".into());
        assert!(m.contains("critical.pagerduty_routing_key"), "{m}");
        let m = err(|e| e.pagerduty_url = "events.pagerduty.com".into());
        assert!(m.contains("pagerduty_url"), "{m}");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let mut e = EscalationSettings::default();
        e.high.pagerduty_routing_key = "R0UT1NGKEY".into();
        e.high.webhook_secret = "whsec-shh".into();
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("R0UT1NGKEY") && !shown.contains("whsec-shh"),
            "{shown}"
        );
        assert_eq!(
            e.target(Severity::High).pagerduty().map(|k| k.expose()),
            Some("R0UT1NGKEY")
        );
        assert!(e.target(Severity::Low).pagerduty().is_none());
    }
}
