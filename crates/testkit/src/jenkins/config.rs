//! Behaviour of a fake Jenkins instance.

use std::time::Duration;

/// How the fake behaves. `Default` is an open Jenkins (no CSRF, no auth)
/// with short queue and build times, every build ending in SUCCESS.
#[derive(Debug, Clone)]
pub struct FakeJenkinsConfig {
    /// CSRF protection: POSTs need the `Jenkins-Crumb` header, and the crumb
    /// issuer serves one. When off, the crumb issuer answers 404.
    pub csrf: bool,
    /// When `username` or `token` is set, every request needs matching basic auth.
    pub username: Option<String>,
    pub token: Option<String>,
    /// How long a queue item waits before it starts its build.
    pub queue_delay: Duration,
    /// How long a started build stays `building: true`.
    pub build_duration: Duration,
    /// Result of a finished build unless `fail_rate` or `push_results` decides otherwise.
    pub default_result: String,
    /// Fraction (0.0..=1.0) of triggered builds that end with FAILURE.
    pub fail_rate: f64,
    /// Seed of the generator behind `fail_rate`, for reproducible runs.
    pub seed: u64,
    /// Root URL announced in JSON and `Location` headers, like Jenkins'
    /// configured root URL; defaults to the address it listens on.
    pub public_url: Option<String>,
}

impl Default for FakeJenkinsConfig {
    fn default() -> Self {
        Self {
            csrf: false,
            username: None,
            token: None,
            queue_delay: Duration::from_millis(20),
            build_duration: Duration::from_millis(50),
            default_result: "SUCCESS".to_owned(),
            fail_rate: 0.0,
            seed: 0x5eed,
            public_url: None,
        }
    }
}

impl FakeJenkinsConfig {
    pub(crate) fn auth_required(&self) -> bool {
        self.username.is_some() || self.token.is_some()
    }
}
