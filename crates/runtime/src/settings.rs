//! Settings: built-in defaults, then an optional TOML file, then the seed's familiar
//! environment names (`DATABASE_URL`...), then `RUNBOOKS__SECTION__KEY`. A bad value stops
//! the start with an error that names the key.

use std::collections::HashMap;
use std::path::Path;

use bus::BusSettings;
use config::{Config, Environment, File, FileFormat, Map, Source, Value, ValueKind};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use store::{DatabaseSettings, OutboxSettings};
use telemetry::TelemetrySettings;

use crate::secret::Secret;

/// The sections every service has. A service's own sections are a separate struct
/// deserialized from the same sources (see [`load`]); flattening would lose the key names
/// in error messages.
#[derive(Debug, Clone, Deserialize)]
pub struct CommonSettings {
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub bus: BusSettings,
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    #[serde(default)]
    pub heartbeat: HeartbeatSettings,
    #[serde(default)]
    pub outbox: OutboxSettings,
    #[serde(default)]
    pub shutdown: ShutdownSettings,
    #[serde(default)]
    pub instance: InstanceSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// How long a client has to send a request's headers (and how long an idle keep-alive
    /// connection stays open).
    pub header_read_timeout_secs: u64,
    /// A request body that stops arriving for this long fails the request.
    pub body_read_timeout_secs: u64,
    /// A request with no response after this long is answered 408 (streamed responses are
    /// timed until their headers are sent). Above the longest handler: a post-mortem written
    /// by the language model waits up to `ollama.timeout_secs`.
    pub request_timeout_secs: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            host: "0.0.0.0".into(),
            port: 0,
            body_limit_bytes: 2 * 1024 * 1024,
            header_read_timeout_secs: 30,
            body_read_timeout_secs: 15,
            request_timeout_secs: 300,
        }
    }
}

impl HttpSettings {
    /// The server's timeouts; a zero one is refused, naming its key.
    pub fn timeouts(&self) -> Result<crate::serve::Timeouts, SettingsError> {
        let secs = |key: &str, v: u64| {
            if v == 0 {
                Err(invalid(key, "must be at least 1 second"))
            } else {
                Ok(std::time::Duration::from_secs(v))
            }
        };
        Ok(crate::serve::Timeouts {
            header_read: secs(
                "http.header_read_timeout_secs",
                self.header_read_timeout_secs,
            )?,
            body_read: secs("http.body_read_timeout_secs", self.body_read_timeout_secs)?,
            request: secs("http.request_timeout_secs", self.request_timeout_secs)?,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HeartbeatSettings {
    pub interval_secs: u64,
}

impl Default for HeartbeatSettings {
    fn default() -> Self {
        HeartbeatSettings { interval_secs: 5 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ShutdownSettings {
    /// How long in-flight work may take to finish after SIGTERM.
    pub grace_secs: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        ShutdownSettings { grace_secs: 10 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InstanceSettings {
    /// Overrides the generated `<service>-<host>-<random>` instance id.
    pub id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration error: {0}")]
    Invalid(String),
    #[error("configuration error: cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

/// The seed's environment names and the keys they set.
const FAMILIAR: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("RABBITMQ_URL", "bus.url"),
    ("ELASTICSEARCH_URL", "elasticsearch.url"),
    ("JENKINS_URL", "jenkins.url"),
    ("JENKINS_USERNAME", "jenkins.username"),
    ("JENKINS_API_TOKEN", "jenkins.api_token"),
    ("DRY_RUN", "guard.dry_run"),
    ("SLACK_BOT_TOKEN", "slack.bot_token"),
    ("SLACK_SIGNING_SECRET", "slack.signing_secret"),
    ("SLACK_APP_TOKEN", "slack.app_token"),
    ("SLACK_API_URL", "slack.api_url"),
    ("OLLAMA_URL", "ollama.url"),
    ("OLLAMA_MODEL", "ollama.model"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "telemetry.otlp_endpoint"),
];

/// The familiar names, read from the process environment or (tests) a given map.
#[derive(Debug, Clone)]
struct FamiliarEnv(Option<HashMap<String, String>>);

impl Source for FamiliarEnv {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        let origin = "the environment".to_string();
        Ok(FAMILIAR
            .iter()
            .filter_map(|(var, key)| {
                let v = match &self.0 {
                    Some(map) => map.get(*var).cloned(),
                    None => std::env::var(var).ok(),
                }
                .filter(|v| !v.is_empty())?;
                Some((
                    key.to_string(),
                    Value::new(Some(&origin), ValueKind::String(v)),
                ))
            })
            .collect())
    }
}

/// A service's settings, loaded one way for every service: the common sections and the
/// service's own, from defaults, then the optional file, then the environment. A service
/// says only what differs: its defaults, its sections and the checks serde cannot make.
pub trait ServiceSettings: Sized {
    /// The service's own sections, read from the same sources as [`CommonSettings`].
    type Sections: DeserializeOwned;
    /// Built-in defaults (TOML) that differ from the common ones, e.g. the port.
    const DEFAULTS: &'static str;

    /// Assembles the settings and checks every value serde cannot; the error names the key
    /// (see [`invalid`]).
    fn checked(common: CommonSettings, own: Self::Sections) -> Result<Self, SettingsError>;

    /// Loads from `file` and the process environment.
    fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_with_env(file, None)
    }

    /// [`ServiceSettings::load`] with an explicit environment instead of the process's
    /// (tests).
    fn load_with_env(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Self, SettingsError> {
        let (common, own) = load_with_env(Self::DEFAULTS, file, env)?;
        Self::checked(common, own)
    }
}

/// Defines a service's `Settings` (the common sections and `$sections`, the service's own)
/// and loads it through [`ServiceSettings`] with the service's `DEFAULTS`, checked by its
/// `Settings::validate` (whose `Ok` value, if any, is dropped).
#[macro_export]
macro_rules! service_settings {
    ($sections:ty) => {
        /// The common sections and this service's own.
        #[derive(Debug, Clone)]
        pub struct Settings {
            pub common: $crate::CommonSettings,
            pub own: $sections,
        }

        impl $crate::ServiceSettings for Settings {
            type Sections = $sections;
            const DEFAULTS: &'static str = DEFAULTS;

            fn checked(
                common: $crate::CommonSettings,
                own: $sections,
            ) -> Result<Self, $crate::SettingsError> {
                common.http.timeouts()?;
                let settings = Settings { common, own };
                settings.validate()?;
                Ok(settings)
            }
        }
    };
}

/// The error of a value that parsed but is not acceptable, naming its key.
pub fn invalid(key: &str, reason: impl std::fmt::Display) -> SettingsError {
    SettingsError::Invalid(format!("{key}: {reason}"))
}

/// Loads the common sections and the service's own sections `S`: `defaults` (TOML, the
/// service's own, e.g. its port), then `file`, then the familiar environment names, then
/// `RUNBOOKS__*`. A key of the file that neither reads is an error naming it (a typo would
/// otherwise silently leave the default in place); the environment is often shared by all
/// services (compose's common variables, the demo), so its keys of other services pass.
pub fn load<S: DeserializeOwned>(
    defaults: &str,
    file: Option<&Path>,
) -> Result<(CommonSettings, S), SettingsError> {
    load_with_env(defaults, file, None)
}

/// [`load`] with an explicit environment instead of the process's (tests).
pub fn load_with_env<S: DeserializeOwned>(
    defaults: &str,
    file: Option<&Path>,
    env: Option<HashMap<String, String>>,
) -> Result<(CommonSettings, S), SettingsError> {
    let mut builder = Config::builder().add_source(File::from_str(defaults, FileFormat::Toml));
    let mut file_only = None;
    if let Some(path) = file {
        if !path.exists() {
            return Err(SettingsError::File {
                path: path.display().to_string(),
                reason: "no such file".into(),
            });
        }
        let source = File::from(path).format(FileFormat::Toml).required(true);
        file_only = Some(
            Config::builder()
                .add_source(source.clone())
                .build()
                .map_err(|e| SettingsError::Invalid(e.to_string()))?,
        );
        builder = builder.add_source(source);
    }
    let cfg = builder
        .add_source(FamiliarEnv(env.clone()))
        .add_source(
            Environment::with_prefix("RUNBOOKS")
                .prefix_separator("__")
                .separator("__")
                .source(env),
        )
        .build()
        .map_err(|e| SettingsError::Invalid(e.to_string()))?;
    let mut common_ignored = Vec::new();
    let common = serde_ignored::deserialize(cfg.clone(), |p| common_ignored.push(p.to_string()))
        .map_err(|e| SettingsError::Invalid(e.to_string()))?;
    let mut own_ignored = Vec::new();
    let own = serde_ignored::deserialize(cfg, |p| own_ignored.push(p.to_string()))
        .map_err(|e| SettingsError::Invalid(e.to_string()))?;
    if let (Some(file_cfg), Some(path)) = (file_only, file) {
        // A key neither struct reads: both skipped it, or a section around it.
        let skipped = |by: &[String], key: &str| {
            by.iter()
                .any(|i| key == i || key.starts_with(&format!("{i}.")))
        };
        let unknown = common_ignored.iter().chain(&own_ignored).find(|k| {
            skipped(&common_ignored, k)
                && skipped(&own_ignored, k)
                && file_cfg.get::<config::Value>(k.as_str()).is_ok()
        });
        if let Some(key) = unknown {
            return Err(SettingsError::Invalid(format!(
                "{key}: unknown key in {}",
                path.display()
            )));
        }
    }
    Ok((common, own))
}

/// Accepts a list either as a TOML array or as one comma-separated string (environment
/// variables), trimming blanks.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        One(String),
    }
    let items = match Raw::deserialize(d)? {
        Raw::List(v) => v,
        Raw::One(s) => s.split(',').map(str::to_string).collect(),
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

/// [`string_list`] of secrets (tokens): read the same way, never printed.
pub fn secret_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Secret>, D::Error> {
    Ok(string_list(d)?.into_iter().map(Secret::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct TestSettings {
        #[serde(default)]
        guard: Guard,
    }

    #[derive(Debug, Default, Deserialize)]
    struct Guard {
        #[serde(default, deserialize_with = "string_list")]
        allowed_jobs: Vec<String>,
        #[serde(default)]
        dry_run: bool,
    }

    fn env(vars: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("rb-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("runner.toml");
        std::fs::write(
            &file,
            "[http]\nport = 4000\n[bus]\nprefetch = 7\nnamespace = \"file\"\n",
        )
        .unwrap();
        let vars = env(&[
            ("RUNBOOKS__BUS__NAMESPACE", "env"),
            ("RABBITMQ_URL", "amqp://u:p@rabbit:5672/%2f"),
            ("RUNBOOKS__GUARD__ALLOWED_JOBS", "deploy-*, team/app ,"),
            ("DRY_RUN", "true"),
        ]);
        let (common, s): (CommonSettings, TestSettings) =
            load_with_env("[http]\nport = 3004\n", Some(&file), vars).unwrap();
        assert_eq!(common.http.port, 4000, "file over defaults");
        assert_eq!(common.bus.prefetch, 7);
        assert_eq!(common.bus.namespace, "env", "environment over file");
        assert_eq!(
            common.bus.url, "amqp://u:p@rabbit:5672/%2f",
            "familiar names work"
        );
        assert_eq!(s.guard.allowed_jobs, vec!["deploy-*", "team/app"]);
        assert!(s.guard.dry_run);
        assert_eq!(common.database.url, DatabaseSettings::default().url);
    }

    #[test]
    fn retry_and_pool_timeout_keys_load_from_the_environment() {
        let vars = env(&[
            ("RUNBOOKS__BUS__RETRY_INITIAL_DELAY_MS", "50"),
            ("RUNBOOKS__BUS__RETRY_MAX_DELAY_MS", "800"),
            ("RUNBOOKS__BUS__RETRY_MULTIPLIER", "3.5"),
            ("RUNBOOKS__DATABASE__STATEMENT_TIMEOUT_MS", "1000"),
            ("RUNBOOKS__DATABASE__LOCK_TIMEOUT_MS", "0"),
            ("RUNBOOKS__DATABASE__IDLE_IN_TRANSACTION_TIMEOUT_MS", "2000"),
        ]);
        let (common, _): (CommonSettings, TestSettings) = load_with_env("", None, vars).unwrap();
        let b = common.bus.backoff();
        assert_eq!(b.initial, std::time::Duration::from_millis(50));
        assert_eq!(b.max, std::time::Duration::from_millis(800));
        assert_eq!(b.multiplier, 3.5);
        assert_eq!(
            common.database.session_options(),
            vec![
                ("statement_timeout", "1000".to_string()),
                ("lock_timeout", "0".to_string()),
                ("idle_in_transaction_session_timeout", "2000".to_string()),
            ]
        );
        // The name of the fixed delay of earlier releases sets the first delay.
        let (common, _): (CommonSettings, TestSettings) =
            load_with_env("", None, env(&[("RUNBOOKS__BUS__RETRY_DELAY_MS", "70")])).unwrap();
        assert_eq!(common.bus.retry_initial_delay_ms, 70);
        let err = load_with_env::<TestSettings>(
            "",
            None,
            env(&[("RUNBOOKS__BUS__RETRY_MULTIPLIER", "fast")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("bus.retry_multiplier"), "{err}");
    }

    #[test]
    fn runbooks_names_win_over_familiar_ones() {
        let vars = env(&[
            ("DATABASE_URL", "postgres://a/one"),
            ("RUNBOOKS__DATABASE__URL", "postgres://b/two"),
        ]);
        let (common, _): (CommonSettings, TestSettings) = load_with_env("", None, vars).unwrap();
        assert_eq!(common.database.url, "postgres://b/two");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err =
            load_with_env::<TestSettings>("", None, env(&[("RUNBOOKS__HTTP__PORT", "eighty")]))
                .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("http.port"), "{text}");
        let err =
            load_with_env::<TestSettings>("", None, env(&[("DRY_RUN", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("guard.dry_run"), "{err}");
        let missing =
            load_with_env::<TestSettings>("", Some(Path::new("/nonexistent/x.toml")), env(&[]))
                .unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/x.toml"));
    }

    #[test]
    fn an_unknown_key_of_the_file_is_named() {
        let dir = std::env::temp_dir().join(format!("rb-unknown-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (toml, key) in [
            ("[bus]\nnamespce = \"x\"\n", "bus.namespce"),
            ("[guard]\ndry_runn = true\n", "guard.dry_runn"),
            ("[gaurd]\ndry_run = true\n", "gaurd"),
        ] {
            let file = dir.join("typo.toml");
            std::fs::write(&file, toml).unwrap();
            let err = load_with_env::<TestSettings>("", Some(&file), env(&[])).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("{key}: unknown key")),
                "{toml}: {text}"
            );
        }
        // Keys read by either struct pass; so do other services' keys in the environment,
        // which is often shared by all of them.
        let file = dir.join("known.toml");
        std::fs::write(&file, "[bus]\nnamespace = \"x\"\n[guard]\ndry_run = true\n").unwrap();
        let vars = env(&[("RUNBOOKS__DASHBOARD__USER", "someone-else")]);
        let (common, s): (CommonSettings, TestSettings) =
            load_with_env("", Some(&file), vars).unwrap();
        assert_eq!(common.bus.namespace, "x");
        assert!(s.guard.dry_run);
    }
}
