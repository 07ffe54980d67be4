use std::fmt;

use serde::Deserialize;

/// `[database]` settings.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/db`; never printed whole.
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// Create the database named in the URL when it does not exist.
    pub create_if_missing: bool,
    /// Apply pending migrations at start (they take a lock, so replicas may all do it).
    pub auto_migrate: bool,
    /// How long start-up keeps trying to reach the server.
    pub connect_timeout_secs: u64,
    /// Longest statement on a pooled connection (`statement_timeout`); 0 = no limit.
    pub statement_timeout_ms: u64,
    /// Longest wait for a lock, row or advisory (`lock_timeout`); 0 = no limit.
    pub lock_timeout_ms: u64,
    /// A session idle inside an open transaction longer than this is ended by the server,
    /// releasing its locks (`idle_in_transaction_session_timeout`); 0 = never. Keep it above
    /// the longest pause a service makes inside a transaction (the outbox relay waits for
    /// broker confirms in one, up to `bus.confirm_timeout_ms` per try).
    pub idle_in_transaction_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "postgres://postgres@127.0.0.1:5432/runbooks".into(),
            max_connections: 10,
            acquire_timeout_secs: 5,
            create_if_missing: true,
            auto_migrate: true,
            connect_timeout_secs: 60,
            statement_timeout_ms: 30_000,
            lock_timeout_ms: 10_000,
            idle_in_transaction_timeout_ms: 60_000,
        }
    }
}

impl DatabaseSettings {
    /// The server settings every pooled connection starts with.
    pub fn session_options(&self) -> Vec<(&'static str, String)> {
        vec![
            ("statement_timeout", self.statement_timeout_ms.to_string()),
            ("lock_timeout", self.lock_timeout_ms.to_string()),
            (
                "idle_in_transaction_session_timeout",
                self.idle_in_transaction_timeout_ms.to_string(),
            ),
        ]
    }

    pub fn redacted_url(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                u.to_string()
            }
            Err(_) => "<unparsable database url>".into(),
        }
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .field("create_if_missing", &self.create_if_missing)
            .field("auto_migrate", &self.auto_migrate)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("lock_timeout_ms", &self.lock_timeout_ms)
            .field(
                "idle_in_transaction_timeout_ms",
                &self.idle_in_transaction_timeout_ms,
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let s = DatabaseSettings {
            url: "postgres://app:s3cret@db:5432/runbooks".into(),
            ..Default::default()
        };
        assert_eq!(s.redacted_url(), "postgres://app:***@db:5432/runbooks");
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
