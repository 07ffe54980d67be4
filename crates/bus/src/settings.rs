use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// `[bus]` settings shared by every service.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct BusSettings {
    /// AMQP URL; may hold a password, so it is never printed whole.
    pub url: String,
    /// Prefix of every exchange and queue name (`t42` → `t42.logs`); empty in production.
    pub namespace: String,
    /// Unacknowledged deliveries per consumer.
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered. Only failures caused by the
    /// message count; infrastructure unavailability pauses the consumer instead.
    pub max_attempts: u32,
    /// Ceiling of the first retry delay; each further attempt multiplies it by
    /// `retry_multiplier`, up to `retry_max_delay_ms`. The actual delay is drawn uniformly
    /// below the ceiling (full jitter), so replicas retrying together spread out.
    #[serde(alias = "retry_delay_ms")]
    pub retry_initial_delay_ms: u64,
    /// Largest retry delay, and the longest pause between two probes of an unavailable
    /// dependency while a consumer is paused.
    pub retry_max_delay_ms: u64,
    pub retry_multiplier: f64,
    pub confirm_timeout_ms: u64,
    /// How long start-up keeps trying to reach the broker.
    pub connect_timeout_secs: u64,
    pub rpc_timeout_ms: u64,
}

impl Default for BusSettings {
    fn default() -> Self {
        BusSettings {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            namespace: String::new(),
            prefetch: 64,
            max_attempts: 5,
            retry_initial_delay_ms: 200,
            retry_max_delay_ms: 5_000,
            retry_multiplier: 2.0,
            confirm_timeout_ms: 10_000,
            connect_timeout_secs: 60,
            rpc_timeout_ms: 5_000,
        }
    }
}

impl BusSettings {
    pub fn confirm_timeout(&self) -> Duration {
        Duration::from_millis(self.confirm_timeout_ms)
    }

    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_millis(self.rpc_timeout_ms)
    }

    /// The retry and pause backoff these settings describe.
    pub fn backoff(&self) -> crate::Backoff {
        crate::Backoff::new(
            Duration::from_millis(self.retry_initial_delay_ms),
            Duration::from_millis(self.retry_max_delay_ms),
            self.retry_multiplier,
        )
    }

    /// The RabbitMQ user this connection authenticates as (`guest` when the URL names none,
    /// as AMQP clients default). Requests carry it as the AMQP `user_id`, which the broker
    /// checks against the connection, so a receiver can trust it.
    pub fn user(&self) -> String {
        url::Url::parse(&self.url)
            .ok()
            .map(|u| u.username().to_string())
            .filter(|u| !u.is_empty())
            .map(|u| {
                percent_encoding::percent_decode_str(&u)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_else(|| "guest".into())
    }

    /// The URL with any password replaced, for logs and errors.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for BusSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusSettings")
            .field("url", &self.redacted_url())
            .field("namespace", &self.namespace)
            .field("prefetch", &self.prefetch)
            .field("max_attempts", &self.max_attempts)
            .field("retry_initial_delay_ms", &self.retry_initial_delay_ms)
            .field("retry_max_delay_ms", &self.retry_max_delay_ms)
            .field("retry_multiplier", &self.retry_multiplier)
            .field("confirm_timeout_ms", &self.confirm_timeout_ms)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("rpc_timeout_ms", &self.rpc_timeout_ms)
            .finish()
    }
}

/// `amqp://user:secret@host/vhost` → `amqp://user:***@host/vhost`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let s = BusSettings {
            url: "amqp://guest:hunter2@rabbit:5672/%2f".into(),
            ..BusSettings::default()
        };
        assert_eq!(s.redacted_url(), "amqp://guest:***@rabbit:5672/%2f");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(redact_url("amqp://rabbit"), "amqp://rabbit");
    }

    #[test]
    fn the_user_comes_from_the_url() {
        let user = |url: &str| {
            BusSettings {
                url: url.into(),
                ..BusSettings::default()
            }
            .user()
        };
        assert_eq!(user("amqp://chatops:pw@rabbit:5672/%2f"), "chatops");
        assert_eq!(user("amqp://svc%40ops:pw@rabbit/%2f"), "svc@ops");
        assert_eq!(user("amqp://rabbit:5672/%2f"), "guest");
    }
}
