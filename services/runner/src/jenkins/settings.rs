//! Connection and behaviour settings of the Jenkins client.

use std::collections::BTreeMap;
use std::time::Duration;

use runtime::Secret;
use serde::Deserialize;

/// How the runner reaches Jenkins and how long it is willing to wait for it.
/// The API token is a [`Secret`]: `{:?}` in a log line, a panic message or an error
/// report never shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct JenkinsSettings {
    /// Base URL of Jenkins, including any context path (`https://ci.example.com/jenkins`).
    pub url: String,
    /// User for HTTP basic auth; empty means anonymous.
    #[serde(default)]
    pub username: String,
    /// API token of `username`.
    #[serde(default)]
    pub api_token: Secret,
    /// Timeout of one HTTP request to Jenkins.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Job name -> job to trigger to roll it back. A job without an entry is
    /// rolled back by triggering the job itself.
    #[serde(default)]
    pub rollback_jobs: BTreeMap<String, String>,
    /// Whether restart and rollback wait for the new build's result.
    #[serde(default)]
    pub wait_for_result: bool,
    /// Upper bound on waiting for a build's result.
    #[serde(default = "default_wait_timeout_secs")]
    pub wait_timeout_secs: u64,
    /// Interval between polls of a queue item or a running build.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Upper bound on waiting for a queue item to start a build.
    #[serde(default = "default_queue_timeout_secs")]
    pub queue_timeout_secs: u64,
}

fn default_request_timeout_ms() -> u64 {
    10_000
}

fn default_wait_timeout_secs() -> u64 {
    600
}

fn default_poll_interval_ms() -> u64 {
    2_000
}

fn default_queue_timeout_secs() -> u64 {
    120
}

impl JenkinsSettings {
    /// Settings for `url` with every other field at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: String::new(),
            api_token: Secret::default(),
            request_timeout_ms: default_request_timeout_ms(),
            rollback_jobs: BTreeMap::new(),
            wait_for_result: false,
            wait_timeout_secs: default_wait_timeout_secs(),
            poll_interval_ms: default_poll_interval_ms(),
            queue_timeout_secs: default_queue_timeout_secs(),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn wait_timeout(&self) -> Duration {
        Duration::from_secs(self.wait_timeout_secs)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn queue_timeout(&self) -> Duration {
        Duration::from_secs(self.queue_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_only_url_is_given() {
        let s: JenkinsSettings = serde_json::from_str(r#"{"url": "http://ci"}"#).unwrap();
        assert_eq!(s.request_timeout_ms, 10_000);
        assert_eq!(s.wait_timeout_secs, 600);
        assert_eq!(s.poll_interval_ms, 2_000);
        assert_eq!(s.queue_timeout_secs, 120);
        assert!(!s.wait_for_result);
        assert!(s.rollback_jobs.is_empty());
        assert!(s.username.is_empty());
    }

    #[test]
    fn debug_redacts_the_token() {
        let mut s = JenkinsSettings::new("http://ci");
        s.api_token = "s3cr3t-t0ken".into();
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cr3t-t0ken"));
        assert!(shown.contains("[redacted]"));
    }
}
