//! Settings of the orchestrator: the common sections plus its own.

use std::path::PathBuf;

use runtime::{Secret, SettingsError, secret_list, string_list};
use serde::Deserialize;

mod mcp;
mod runbooks;

pub use mcp::McpSettings;
pub use runbooks::{EscalationSettings, EscalationTarget, RunbookSettings};

pub const SERVICE: &str = domain::names::service::ORCHESTRATOR;

/// Built-in defaults that differ from the common ones.
pub const DEFAULTS: &str = "[http]\nport = 3001\n";

/// The orchestrator's own sections.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrchestratorSections {
    #[serde(default)]
    pub rules: RulesSettings,
    #[serde(default)]
    pub ingest: IngestSettings,
    #[serde(default)]
    pub incidents: IncidentSettings,
    #[serde(default)]
    pub api: ApiSettings,
    #[serde(default)]
    pub retention: RetentionSettings,
    #[serde(default)]
    pub action_sweep: ActionSweepSettings,
    #[serde(default)]
    pub policy: PolicySettings,
    #[serde(default)]
    pub commands: CommandSettings,
    #[serde(default)]
    pub mcp: McpSettings,
    #[serde(default)]
    pub postmortem: PostmortemSettings,
    #[serde(default)]
    pub ollama: OllamaSettings,
    #[serde(default)]
    pub runbooks: RunbookSettings,
    #[serde(default)]
    pub oidc: crate::auth::oidc::OidcSettings,
}

/// Post-mortems: when they are written and from how much.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PostmortemSettings {
    /// Write one when an incident resolves (on demand they are always available).
    pub on_resolve: bool,
    /// How long the runner may take to return a build's commits.
    pub changes_timeout_ms: u64,
    /// Similar incidents listed in a report.
    pub similar_limit: i64,
    /// Log lines read for the summary.
    pub max_log_lines: i64,
    /// Minutes of logs before detection included in the summary.
    pub lookback_minutes: i64,
    /// Base URL of the orchestrator as people reach it (`https://runbooks.example.com`):
    /// `postmortem.generated` links to `<public_url>/api/incidents/<id>/postmortem`.
    pub public_url: Option<String>,
}

impl Default for PostmortemSettings {
    fn default() -> Self {
        PostmortemSettings {
            on_resolve: true,
            changes_timeout_ms: 5000,
            similar_limit: 5,
            max_log_lines: 2000,
            lookback_minutes: 15,
            public_url: None,
        }
    }
}

/// The local LLM that writes post-mortems (`OLLAMA_URL`, `OLLAMA_MODEL`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OllamaSettings {
    /// Empty (the default): no LLM, the template writes every report.
    pub url: String,
    pub model: String,
    /// How long writing one report may take (a cold model is slow); then the template.
    pub timeout_secs: u64,
    /// `false`: the template writes every report.
    pub enabled: bool,
}

impl Default for OllamaSettings {
    fn default() -> Self {
        OllamaSettings {
            url: String::new(),
            model: "llama3.2".into(),
            timeout_secs: 120,
            enabled: true,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PolicySettings {
    /// The action policy file; the shipped default policy when unset.
    pub path: Option<PathBuf>,
}

/// Who may send `command.*` requests on the bus.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CommandSettings {
    /// RabbitMQ users (the AMQP `user_id`, checked by the broker) whose commands are
    /// accepted. Empty: the orchestrator's own RabbitMQ user only (one shared user in
    /// development).
    #[serde(deserialize_with = "string_list")]
    pub trusted_users: Vec<String>,
    /// Principal prefixes a trusted service may act on behalf of (`slack:` for chatops).
    #[serde(deserialize_with = "string_list")]
    pub delegate_prefixes: Vec<String>,
}

impl CommandSettings {
    pub fn delegate_prefixes(&self) -> Vec<String> {
        if self.delegate_prefixes.is_empty() {
            vec!["slack:".into()]
        } else {
            self.delegate_prefixes.clone()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RulesSettings {
    /// The rules file; the shipped default rules when unset.
    pub path: Option<PathBuf>,
    /// How long a reload waits for the other replicas to confirm.
    pub reload_wait_ms: u64,
}

impl Default for RulesSettings {
    fn default() -> Self {
        RulesSettings {
            path: None,
            reload_wait_ms: 1500,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IngestSettings {
    /// Largest batch taken from `orchestrator.logs` in one transaction.
    pub batch_size: usize,
    /// How long a batch waits to fill after its first log.
    pub batch_wait_ms: u64,
    /// Batch consumers per process (each has its own channel and transaction).
    pub consumers: usize,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            batch_size: 500,
            batch_wait_ms: 5,
            consumers: 2,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IncidentSettings {
    /// `incident.updated` for new occurrences at most this often per incident.
    pub update_interval_secs: u64,
    /// Logs linked to one incident (its evidence); later occurrences are only counted.
    pub max_linked_logs: i64,
    /// Logs older than this (their timestamp against the time of ingestion) are stored but
    /// neither open nor resolve incidents: a first start against an index with history, or
    /// a replay, must not page anyone about last week.
    pub max_log_age_secs: u64,
    /// No automatic action is requested for an incident whose log is older than this
    /// (shorter): restarting a build that failed an hour ago is rarely what anyone wants.
    pub action_max_log_age_secs: u64,
    /// Logs dated more than this ahead of the time of ingestion are stored at the time of
    /// ingestion, their original timestamp kept in `details.original_timestamp`: a clock
    /// far ahead must not anchor threshold windows, `last_seen_at` or the log order.
    pub max_future_skew_secs: u64,
    /// Trigram similarity (0.3..=1) above which two incidents' normalised error texts count
    /// as the same failure: the memory `incident.detected` carries and a post-mortem's
    /// similar incidents.
    pub similarity_threshold: f32,
    /// Detections of another rule on the same Jenkins job join its open incident when they
    /// are of the same build, or within this many seconds of its last log: one failure,
    /// one incident.
    pub correlation_window_secs: u64,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        IncidentSettings {
            update_interval_secs: 60,
            max_linked_logs: 100,
            max_log_age_secs: 3600,
            action_max_log_age_secs: 600,
            max_future_skew_secs: 300,
            similarity_threshold: 0.6,
            correlation_window_secs: 900,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiSettings {
    /// Bearer tokens of `/api` and `/mcp`: `name:role+role:sha256hex` entries (comma
    /// separated in the environment); a bare token is a development admin.
    #[serde(deserialize_with = "secret_list")]
    pub tokens: Vec<Secret>,
    /// A file of such entries, one per line (`#` comments).
    pub tokens_file: Option<PathBuf>,
}

impl ApiSettings {
    /// The configured tokens, parsed; the error names the bad entry (never its secret).
    pub fn token_set(&self) -> Result<crate::auth::tokens::TokenSet, SettingsError> {
        let file = match &self.tokens_file {
            Some(p) => Some((
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|e| SettingsError::File {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })?,
            )),
            None => None,
        };
        let tokens: Vec<String> = self.tokens.iter().map(|t| t.expose().into()).collect();
        crate::auth::tokens::TokenSet::parse(
            &tokens,
            file.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
        )
        .map_err(SettingsError::Invalid)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// Logs older than this are deleted, except those an incident references.
    pub logs_days: u32,
    /// Threshold-rule hits older than this are deleted (longer than any rule window).
    pub hits_hours: u32,
    pub interval_secs: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            logs_days: 30,
            hits_hours: 24,
            interval_secs: 3600,
        }
    }
}

/// `[action_sweep]`: requests no runner claimed (see `actions::sweep`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ActionSweepSettings {
    pub interval_secs: u64,
    /// A `requested`/`approved` action waiting this long has its event published again.
    /// Keep it above the runner's `guard.max_wait_secs`, or requests waiting for a
    /// concurrency slot are duplicated while they wait.
    pub republish_after_secs: u64,
    /// A `requested`/`approved` action waiting this long is rejected as expired.
    pub expire_after_secs: u64,
}

impl Default for ActionSweepSettings {
    fn default() -> Self {
        ActionSweepSettings {
            interval_secs: 30,
            republish_after_secs: 600,
            expire_after_secs: 3600,
        }
    }
}

runtime::service_settings!(OrchestratorSections);

impl Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, why: &str| Err(SettingsError::Invalid(format!("{key}: {why}")));
        if self.own.ingest.batch_size == 0 || self.own.ingest.batch_size > 10_000 {
            return bad("ingest.batch_size", "must be between 1 and 10000");
        }
        if self.own.ingest.consumers == 0 {
            return bad("ingest.consumers", "must be at least 1");
        }
        let inc = &self.own.incidents;
        if inc.action_max_log_age_secs > inc.max_log_age_secs {
            return bad(
                "incidents.action_max_log_age_secs",
                "must not exceed incidents.max_log_age_secs",
            );
        }
        if self.own.retention.logs_days == 0 {
            return bad("retention.logs_days", "must be at least 1");
        }
        let sweep = &self.own.action_sweep;
        if sweep.interval_secs == 0 {
            return bad("action_sweep.interval_secs", "must be at least 1");
        }
        if sweep.republish_after_secs == 0 {
            return bad("action_sweep.republish_after_secs", "must be at least 1");
        }
        if sweep.expire_after_secs <= sweep.republish_after_secs {
            return bad(
                "action_sweep.expire_after_secs",
                "must be longer than action_sweep.republish_after_secs",
            );
        }
        if !(0.3..=1.0).contains(&inc.similarity_threshold) {
            return bad(
                "incidents.similarity_threshold",
                "must be between 0.3 and 1",
            );
        }
        let pm = &self.own.postmortem;
        if pm.changes_timeout_ms == 0 || pm.changes_timeout_ms > 60_000 {
            return bad(
                "postmortem.changes_timeout_ms",
                "must be between 1 and 60000",
            );
        }
        if !(1..=50).contains(&pm.similar_limit) {
            return bad("postmortem.similar_limit", "must be between 1 and 50");
        }
        if !(1..=100_000).contains(&pm.max_log_lines) {
            return bad("postmortem.max_log_lines", "must be between 1 and 100000");
        }
        if !(0..=1440).contains(&pm.lookback_minutes) {
            return bad("postmortem.lookback_minutes", "must be between 0 and 1440");
        }
        if let Some(u) = pm.public_url.as_deref().filter(|u| !u.trim().is_empty()) {
            match url::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") => {}
                _ => return bad("postmortem.public_url", "must be an http(s) URL"),
            }
        }
        if self.own.ollama.enabled && !self.own.ollama.url.trim().is_empty() {
            match url::Url::parse(self.own.ollama.url.trim()) {
                Ok(p) if matches!(p.scheme(), "http" | "https") => {}
                _ => return bad("ollama.url", "must be an http(s) URL"),
            }
        }
        if self.own.ollama.timeout_secs == 0 || self.own.ollama.timeout_secs > 900 {
            return bad("ollama.timeout_secs", "must be between 1 and 900");
        }
        self.own.api.token_set()?;
        self.own.mcp.validate()?;
        self.own.runbooks.validate()?;
        crate::auth::Policy::load(self.own.policy.path.as_deref())
            .map_err(|e| SettingsError::Invalid(format!("policy.path: {e}")))?;
        Ok(())
    }
}
