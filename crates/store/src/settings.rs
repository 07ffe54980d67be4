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
        }
    }
}

impl DatabaseSettings {
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
