//! Settings of the chatops: the common sections plus its own (`slack`, `ollama`, `notify`,
//! `bot`, `guard`). Secrets are wrapped so that `Debug` never prints them.

use std::collections::HashMap;
use std::time::Duration;

use domain::Severity;
pub use runtime::Secret;
use runtime::{SettingsError, invalid, string_list};
use serde::Deserialize;

pub const SERVICE: &str = domain::names::service::CHATOPS;

/// Built-in defaults that differ from the common ones.
pub const DEFAULTS: &str = "[http]\nport = 3002\n";

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SlackSettings {
    /// `xoxb-…`. Unset: messages go to the console instead of Slack.
    pub bot_token: Secret,
    /// Verifies requests to `/slack/*`. Unset: those routes answer 503.
    pub signing_secret: Secret,
    /// `xapp-…`. Set: Socket Mode instead of (as well as) the HTTP routes.
    pub app_token: Secret,
    /// Base of the Web API (a proxy or a test double).
    pub api_url: String,
    /// Timeout of one Web API call.
    pub request_timeout_secs: u64,
    /// `response_url`s must start with one of these (they come from signed requests, but a
    /// URL is still never followed unchecked).
    #[serde(deserialize_with = "string_list")]
    pub response_url_prefixes: Vec<String>,
    /// How long the user groups read from `usergroups.list` are reused.
    pub groups_ttl_secs: u64,
    /// How long the readiness check's `auth.test` answer is reused: `/ready` probes never
    /// call Slack more often than this.
    pub check_cache_secs: u64,
}

impl Default for SlackSettings {
    fn default() -> Self {
        SlackSettings {
            bot_token: Secret::default(),
            signing_secret: Secret::default(),
            app_token: Secret::default(),
            api_url: "https://slack.com/api".into(),
            request_timeout_secs: 10,
            response_url_prefixes: vec!["https://hooks.slack.com/".into()],
            groups_ttl_secs: 300,
            check_cache_secs: 30,
        }
    }
}

impl SlackSettings {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OllamaSettings {
    pub url: String,
    pub model: String,
    /// How long one chat request may take (a cold model is slow).
    pub timeout_secs: u64,
    /// `false`: mentions use the grammar only.
    pub enabled: bool,
}

impl Default for OllamaSettings {
    fn default() -> Self {
        OllamaSettings {
            url: "http://127.0.0.1:11434".into(),
            model: "llama3.2".into(),
            timeout_secs: 30,
            enabled: true,
        }
    }
}

/// Where notifications go, and how fast.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NotifySettings {
    /// Channel of everything without a more specific one.
    pub default_channel: String,
    /// Channel per incident severity (`critical`, `high`, `medium`, `low`).
    pub channels: HashMap<String, String>,
    /// Channel of `health.service.*` messages (default channel when empty).
    pub health_channel: String,
    /// Least time between two messages to one channel (Slack allows about one a second).
    pub min_interval_ms: u64,
    /// This many new incidents in one channel within `burst_window_secs` are grouped under
    /// one summary message.
    pub burst_threshold: u32,
    pub burst_window_secs: u64,
    /// Backoff of a channel after a Slack 5xx or network error: doubles up to the max.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Fallback poll of the send queue (the consumer wakes the sender directly).
    pub poll_interval_ms: u64,
    /// Channels served at once by this instance.
    pub senders: usize,
    /// Sent messages and seen request ids are kept this long.
    pub retention_days: u32,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            default_channel: "#incidents".into(),
            channels: HashMap::new(),
            health_channel: String::new(),
            min_interval_ms: 1000,
            burst_threshold: 5,
            burst_window_secs: 60,
            retry_base_ms: 1000,
            retry_max_ms: 60_000,
            poll_interval_ms: 1000,
            senders: 4,
            retention_days: 30,
        }
    }
}

impl NotifySettings {
    pub fn channel_for(&self, severity: Severity) -> &str {
        self.channels
            .get(severity.as_str())
            .filter(|c| !c.trim().is_empty())
            .map(String::as_str)
            .unwrap_or(&self.default_channel)
    }

    pub fn health_channel(&self) -> &str {
        if self.health_channel.trim().is_empty() {
            &self.default_channel
        } else {
            &self.health_channel
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        for key in self.channels.keys() {
            key.parse::<Severity>()
                .map_err(|e| SettingsError::Invalid(format!("notify.channels.{key}: {e}")))?;
        }
        if self.default_channel.trim().is_empty() {
            return Err(SettingsError::Invalid(
                "notify.default_channel must not be empty".into(),
            ));
        }
        if self.burst_threshold < 2 {
            return Err(SettingsError::Invalid(
                "notify.burst_threshold must be at least 2".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BotSettings {
    /// How long a command may wait for the orchestrator or the health-monitor.
    pub command_timeout_ms: u64,
    /// How long `/devops postmortem` waits: the orchestrator writes a missing report on
    /// the spot, which takes an LLM a while.
    pub postmortem_timeout_ms: u64,
    /// A slash command answered within this time is answered inline; later, through
    /// `response_url` (Slack wants an answer within 3 s).
    pub inline_reply_ms: u64,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            command_timeout_ms: 10_000,
            postmortem_timeout_ms: 60_000,
            inline_reply_ms: 2_000,
        }
    }
}

/// The same `guard.allowed_jobs` the runner enforces: chatops refuses earlier, with a
/// clearer message, what the runner would refuse anyway.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GuardSettings {
    #[serde(deserialize_with = "string_list")]
    pub allowed_jobs: Vec<String>,
}

/// The chatops's own sections.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatopsSections {
    #[serde(default)]
    pub slack: SlackSettings,
    #[serde(default)]
    pub ollama: OllamaSettings,
    #[serde(default)]
    pub notify: NotifySettings,
    #[serde(default)]
    pub bot: BotSettings,
    #[serde(default)]
    pub guard: GuardSettings,
}

runtime::service_settings!(ChatopsSections);

impl Settings {
    /// Checks what serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.own.notify.validate()?;
        crate::allowlist::JobAllowlist::new(&self.own.guard.allowed_jobs)
            .map_err(|e| invalid("guard.allowed_jobs", e))?;
        url::Url::parse(&self.own.slack.api_url).map_err(|e| invalid("slack.api_url", e))?;
        url::Url::parse(&self.own.ollama.url).map_err(|e| invalid("ollama.url", e))?;
        // A token of blanks is a mistake, not "no Slack".
        let slack = &self.own.slack;
        for (key, secret) in [
            ("slack.bot_token", &slack.bot_token),
            ("slack.signing_secret", &slack.signing_secret),
            ("slack.app_token", &slack.app_token),
        ] {
            if secret.is_blank() {
                return Err(invalid(
                    key,
                    "is only blanks; leave it unset or set the value",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::ServiceSettings;

    fn env(vars: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn familiar_names_and_channels_by_severity() {
        let s = Settings::load_with_env(
            None,
            env(&[
                ("SLACK_BOT_TOKEN", "xoxb-secret-value"),
                ("SLACK_API_URL", "http://127.0.0.1:9/api/"),
                ("OLLAMA_MODEL", "qwen2.5"),
                ("RUNBOOKS__NOTIFY__CHANNELS__CRITICAL", "#sev1"),
                ("RUNBOOKS__GUARD__ALLOWED_JOBS", "deploy-*,team/app"),
            ]),
        )
        .unwrap();
        assert_eq!(s.own.slack.bot_token.expose(), "xoxb-secret-value");
        assert_eq!(s.own.slack.api_url, "http://127.0.0.1:9/api/");
        assert_eq!(s.own.ollama.model, "qwen2.5");
        assert_eq!(s.own.notify.channel_for(Severity::Critical), "#sev1");
        assert_eq!(s.own.notify.channel_for(Severity::Low), "#incidents");
        assert_eq!(s.own.guard.allowed_jobs, vec!["deploy-*", "team/app"]);
        let printed = format!("{:?}", s.own);
        assert!(!printed.contains("xoxb-secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = Settings::load_with_env(None, env(&[("RUNBOOKS__NOTIFY__CHANNELS__SEV9", "#x")]))
            .unwrap_err();
        assert!(err.to_string().contains("notify.channels.sev9"), "{err}");
        let err = Settings::load_with_env(None, env(&[("OLLAMA_URL", "not a url")])).unwrap_err();
        assert!(err.to_string().contains("ollama.url"), "{err}");
        let err = Settings::load_with_env(None, env(&[("RUNBOOKS__GUARD__ALLOWED_JOBS", "a[")]))
            .unwrap_err();
        assert!(err.to_string().contains("guard.allowed_jobs"), "{err}");
    }
}
