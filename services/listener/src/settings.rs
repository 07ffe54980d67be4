//! Settings of the listener: the common sections plus `[elasticsearch]`, `[sources.*]`,
//! `[tail]` and `[webhooks]`. Defaults work with nothing but `ELASTICSEARCH_URL`; without
//! it tailing is off and the listener serves its webhooks and NDJSON ingest.

use std::time::Duration;

use domain::Source;
pub use runtime::Secret;
use runtime::{SettingsError, invalid};
use serde::Deserialize;

pub const SERVICE: &str = domain::names::service::LISTENER;

/// Built-in defaults that differ from the common ones, and the ECS field names of each
/// source (kept here rather than in code so that one overridden key keeps the others).
pub const DEFAULTS: &str = r#"
[http]
port = 3003

[sources.jenkins]
index = "logs-jenkins*"

[sources.jenkins.fields]
timestamp = "@timestamp"
level = "log.level"
message = "message"
job = "jenkins.job.name"
build = "jenkins.build.number"

[sources.api]
index = "logs-api*"

[sources.api.fields]
timestamp = "@timestamp"
level = "log.level"
message = "message"
method = "http.request.method"
status = "http.response.status_code"
path = "url.path"
latency = "event.duration"
latency_unit = "ns"
service = "service.name"
"#;

/// Whether the point-in-time API is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PitMode {
    /// Used when the server has it; a 404 on the first open switches to the fallback.
    Auto,
    On,
    /// `search_after` on (timestamp, tiebreaker) without a point in time.
    Off,
}

/// `[elasticsearch]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ElasticsearchSettings {
    /// `ELASTICSEARCH_URL`; empty (the default): no Elasticsearch, tailing is off.
    pub url: String,
    pub username: String,
    pub password: Secret,
    /// An API key (the base64 `id:api_key` Elasticsearch returns as `encoded`).
    pub api_key: Secret,
    pub timeout_ms: u64,
    pub point_in_time: PitMode,
    pub pit_keep_alive_secs: u64,
}

impl Default for ElasticsearchSettings {
    fn default() -> Self {
        ElasticsearchSettings {
            url: String::new(),
            username: String::new(),
            password: Secret::default(),
            api_key: Secret::default(),
            timeout_ms: 10_000,
            point_in_time: PitMode::Auto,
            pit_keep_alive_secs: 60,
        }
    }
}

impl ElasticsearchSettings {
    /// Whether an Elasticsearch is set at all; without one nothing is tailed.
    pub fn configured(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

/// Unit of the latency field (ECS `event.duration` is in nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LatencyUnit {
    #[default]
    Ns,
    Us,
    Ms,
    S,
}

impl LatencyUnit {
    pub fn to_ms(self, v: f64) -> f64 {
        match self {
            LatencyUnit::Ns => v / 1e6,
            LatencyUnit::Us => v / 1e3,
            LatencyUnit::Ms => v,
            LatencyUnit::S => v * 1e3,
        }
    }
}

/// Where each log field is in a document (dotted paths; nested or flattened objects both
/// work). An empty name means the source has no such field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FieldMap {
    pub timestamp: String,
    pub level: String,
    pub message: String,
    pub job: String,
    pub build: String,
    pub method: String,
    pub status: String,
    pub path: String,
    pub latency: String,
    pub latency_unit: LatencyUnit,
    pub service: String,
}

impl FieldMap {
    /// Every mapped field, for `_source` filtering.
    pub fn all(&self) -> Vec<String> {
        [
            &self.timestamp,
            &self.level,
            &self.message,
            &self.job,
            &self.build,
            &self.method,
            &self.status,
            &self.path,
            &self.latency,
            &self.service,
        ]
        .into_iter()
        .filter(|f| !f.is_empty())
        .cloned()
        .collect()
    }
}

/// `[sources.jenkins]`, `[sources.api]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SourceSettings {
    pub enabled: bool,
    /// Index name or pattern (`logs-jenkins*`, `a,b`).
    pub index: String,
    pub poll_interval_ms: u64,
    /// Reads stop this far behind now: covers the index refresh interval.
    pub lag_ms: u64,
    /// Each poll re-reads this far behind the checkpoint for late documents; those already
    /// published are skipped by id.
    pub overlap_secs: u64,
    pub page_size: usize,
    /// Where the first start (no checkpoint yet) begins.
    pub lookback_secs: u64,
    /// Second sort key without a point in time; must be unique per document (`_id` works on
    /// OpenSearch and Elasticsearch 7; on 8 use a keyword field such as `event.id`).
    pub tiebreaker: String,
    pub fields: FieldMap,
}

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            enabled: true,
            index: String::new(),
            poll_interval_ms: 1_000,
            lag_ms: 2_000,
            overlap_secs: 30,
            page_size: 1_000,
            lookback_secs: 300,
            tiebreaker: "_id".into(),
            fields: FieldMap::default(),
        }
    }
}

impl SourceSettings {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn lag(&self) -> chrono::Duration {
        chrono::Duration::milliseconds(self.lag_ms as i64)
    }

    pub fn overlap(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.overlap_secs as i64)
    }

    pub fn lookback(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.lookback_secs as i64)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Sources {
    pub jenkins: SourceSettings,
    pub api: SourceSettings,
}

impl Sources {
    pub fn get(&self, source: Source) -> &SourceSettings {
        match source {
            Source::Jenkins => &self.jenkins,
            Source::Api => &self.api,
        }
    }
}

/// `[tail]`: what every source shares.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TailSettings {
    /// A holder that stops renewing loses its sources after this long.
    pub lease_secs: u64,
    /// Most time between checkpoint writes while a backlog is being read.
    pub checkpoint_interval_ms: u64,
    /// Ids kept (and persisted) to skip documents re-read inside the overlap window.
    pub dedup_capacity: usize,
    /// Published messages awaiting their confirm at most, per source.
    pub publish_window: usize,
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
}

impl Default for TailSettings {
    fn default() -> Self {
        TailSettings {
            lease_secs: 10,
            checkpoint_interval_ms: 1_000,
            dedup_capacity: 50_000,
            publish_window: 8_000,
            retry_min_ms: 500,
            retry_max_ms: 30_000,
        }
    }
}

impl TailSettings {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
}

/// `[webhooks]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    /// `RUNBOOKS__WEBHOOKS__JENKINS_SECRET`: when set, `X-Jenkins-Secret` must match.
    pub jenkins_secret: Secret,
    /// `RUNBOOKS__WEBHOOKS__GITHUB_SECRET`: the webhook's secret; without it
    /// `/webhooks/github` refuses everything.
    pub github_secret: Secret,
    /// Log lines of one Jenkins notification turned into records at most.
    pub max_log_lines: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            jenkins_secret: Secret::default(),
            github_secret: Secret::default(),
            max_log_lines: 1_000,
        }
    }
}

/// `[ingest]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IngestSettings {
    /// `RUNBOOKS__INGEST__TOKEN`: when set, `POST /ingest/{source}` needs
    /// `Authorization: Bearer <token>`.
    pub token: Secret,
}

/// The listener's own sections.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListenerSections {
    #[serde(default)]
    pub elasticsearch: ElasticsearchSettings,
    #[serde(default)]
    pub sources: Sources,
    #[serde(default)]
    pub tail: TailSettings,
    #[serde(default)]
    pub webhooks: WebhookSettings,
    #[serde(default)]
    pub ingest: IngestSettings,
}

runtime::service_settings!(ListenerSections);

impl Settings {
    /// Checks every listener value; the error names the key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let es = &self.own.elasticsearch;
        match url::Url::parse(&es.url) {
            _ if !es.configured() => {}
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => return Err(invalid("elasticsearch.url", "must be an http(s) URL")),
            Err(e) => return Err(invalid("elasticsearch.url", e)),
        }
        if es.timeout_ms == 0 {
            return Err(invalid("elasticsearch.timeout_ms", "must be at least 1"));
        }
        if es.pit_keep_alive_secs == 0 {
            return Err(invalid(
                "elasticsearch.pit_keep_alive_secs",
                "must be at least 1",
            ));
        }
        if es.api_key.is_set() && !es.username.is_empty() {
            return Err(invalid(
                "elasticsearch.api_key",
                "set either an API key or a username, not both",
            ));
        }
        for source in Source::ALL {
            let s = self.own.sources.get(source);
            let key = |k: &str| format!("sources.{source}.{k}");
            if !s.enabled {
                continue;
            }
            if s.index.trim().is_empty() || s.index.contains(char::is_whitespace) {
                return Err(invalid(&key("index"), "must be an index name or pattern"));
            }
            if s.poll_interval_ms == 0 {
                return Err(invalid(&key("poll_interval_ms"), "must be at least 1"));
            }
            if !(1..=10_000).contains(&s.page_size) {
                return Err(invalid(&key("page_size"), "must be 1..=10000"));
            }
            if s.tiebreaker.trim().is_empty() {
                return Err(invalid(&key("tiebreaker"), "must name a unique field"));
            }
            if s.fields.timestamp.trim().is_empty() {
                return Err(invalid(&key("fields.timestamp"), "must name a date field"));
            }
            if source == Source::Api && s.fields.status.trim().is_empty() {
                return Err(invalid(
                    &key("fields.status"),
                    "must name the HTTP status field (API records need one)",
                ));
            }
        }
        let t = &self.own.tail;
        for (k, v) in [
            ("tail.lease_secs", t.lease_secs),
            ("tail.checkpoint_interval_ms", t.checkpoint_interval_ms),
            ("tail.dedup_capacity", t.dedup_capacity as u64),
            ("tail.publish_window", t.publish_window as u64),
            ("tail.retry_min_ms", t.retry_min_ms),
        ] {
            if v == 0 {
                return Err(invalid(k, "must be at least 1"));
            }
        }
        if t.retry_max_ms < t.retry_min_ms {
            return Err(invalid(
                "tail.retry_max_ms",
                "must be at least tail.retry_min_ms",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::ServiceSettings;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_with_env(None, Some(env))
    }

    #[test]
    fn defaults_need_nothing_but_the_elasticsearch_url() {
        let s = load(&[("ELASTICSEARCH_URL", "https://es.internal:9200")]).unwrap();
        assert_eq!(s.common.http.port, 3003);
        assert_eq!(s.own.elasticsearch.url, "https://es.internal:9200");
        assert_eq!(s.own.elasticsearch.point_in_time, PitMode::Auto);
        let j = &s.own.sources.jenkins;
        assert_eq!(j.index, "logs-jenkins*");
        assert_eq!(
            (
                j.fields.timestamp.as_str(),
                j.fields.level.as_str(),
                j.fields.message.as_str()
            ),
            ("@timestamp", "log.level", "message")
        );
        assert_eq!(j.fields.job, "jenkins.job.name");
        assert_eq!(j.fields.build, "jenkins.build.number");
        assert_eq!(j.lookback_secs, 300);
        let a = &s.own.sources.api;
        assert_eq!(a.index, "logs-api*");
        assert_eq!(a.fields.method, "http.request.method");
        assert_eq!(a.fields.status, "http.response.status_code");
        assert_eq!(a.fields.path, "url.path");
        assert_eq!(a.fields.latency, "event.duration");
        assert_eq!(a.fields.latency_unit, LatencyUnit::Ns);
        assert_eq!(a.fields.service, "service.name");
        assert!(a.fields.job.is_empty());
    }

    #[test]
    fn without_an_elasticsearch_url_tailing_is_off() {
        let s = load(&[]).unwrap();
        assert!(!s.own.elasticsearch.configured());
        assert!(
            load(&[("ELASTICSEARCH_URL", "http://es:9200")])
                .unwrap()
                .own
                .elasticsearch
                .configured()
        );
    }

    #[test]
    fn one_overridden_field_keeps_the_other_defaults() {
        let s = load(&[
            ("RUNBOOKS__SOURCES__API__FIELDS__LATENCY", "duration_ms"),
            ("RUNBOOKS__SOURCES__API__FIELDS__LATENCY_UNIT", "ms"),
            ("RUNBOOKS__SOURCES__JENKINS__INDEX", "ci-*"),
            ("RUNBOOKS__SOURCES__JENKINS__OVERLAP_SECS", "120"),
            ("RUNBOOKS__ELASTICSEARCH__POINT_IN_TIME", "off"),
            (
                "RUNBOOKS__WEBHOOKS__GITHUB_SECRET",
                "It's a Secret to Everybody",
            ),
        ])
        .unwrap();
        let a = &s.own.sources.api.fields;
        assert_eq!(
            (a.latency.as_str(), a.latency_unit),
            ("duration_ms", LatencyUnit::Ms)
        );
        assert_eq!(a.status, "http.response.status_code");
        assert_eq!(s.own.sources.jenkins.index, "ci-*");
        assert_eq!(s.own.sources.jenkins.overlap_secs, 120);
        assert_eq!(s.own.sources.jenkins.fields.job, "jenkins.job.name");
        assert_eq!(s.own.elasticsearch.point_in_time, PitMode::Off);
        assert!(s.own.webhooks.github_secret.is_set());
        let printed = format!("{:?}", s.own);
        assert!(!printed.contains("Everybody"), "{printed}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("ELASTICSEARCH_URL", "es:9200", "elasticsearch.url"),
            (
                "RUNBOOKS__ELASTICSEARCH__POINT_IN_TIME",
                "maybe",
                "elasticsearch.point_in_time",
            ),
            (
                "RUNBOOKS__SOURCES__JENKINS__PAGE_SIZE",
                "0",
                "sources.jenkins.page_size",
            ),
            (
                "RUNBOOKS__SOURCES__API__PAGE_SIZE",
                "20000",
                "sources.api.page_size",
            ),
            ("RUNBOOKS__SOURCES__API__INDEX", " ", "sources.api.index"),
            (
                "RUNBOOKS__SOURCES__API__FIELDS__STATUS",
                "",
                "sources.api.fields.status",
            ),
            (
                "RUNBOOKS__SOURCES__API__FIELDS__LATENCY_UNIT",
                "weeks",
                "sources.api.fields.latency_unit",
            ),
            ("RUNBOOKS__TAIL__LEASE_SECS", "0", "tail.lease_secs"),
            (
                "RUNBOOKS__TAIL__DEDUP_CAPACITY",
                "lots",
                "tail.dedup_capacity",
            ),
        ];
        for (var, value, key) in cases {
            let err = load(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(key), "{var}={value}: {err}");
        }
        let off = load(&[
            ("RUNBOOKS__SOURCES__API__ENABLED", "false"),
            ("RUNBOOKS__SOURCES__API__FIELDS__STATUS", ""),
        ]);
        assert!(off.is_ok(), "a disabled source is not checked");
    }
}
