//! Log records as they travel from the listener (or any AMQP producer) to the orchestrator.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::envelope::{Decode, DecodeError, Payload, parse_payload};
use crate::names::exchange;

/// Where a log came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Jenkins,
    Api,
}

impl Source {
    pub const ALL: [Source; 2] = [Source::Jenkins, Source::Api];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Jenkins => "jenkins",
            Source::Api => "api",
        }
    }

    /// The envelope type of a record from this source: `log.jenkins` / `log.api`.
    pub fn message_type(self) -> &'static str {
        match self {
            Source::Jenkins => "log.jenkins",
            Source::Api => "log.api",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "jenkins" => Ok(Source::Jenkins),
            "api" => Ok(Source::Api),
            other => Err(format!(
                "unknown log source `{other}` (expected jenkins or api)"
            )),
        }
    }
}

/// Log level. Written lowercase; read case-insensitively with the usual aliases
/// (`WARNING`, `ERR`, `CRITICAL`, `TRACE`...) because producers outside Runbooks differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "trace" | "debug" | "verbose" => Ok(Level::Debug),
            "info" | "information" | "notice" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            "error" | "err" => Ok(Level::Error),
            "fatal" | "critical" | "crit" | "emergency" | "alert" | "panic" => Ok(Level::Fatal),
            other => Err(format!(
                "unknown level `{other}` (expected debug, info, warn, error or fatal)"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A Jenkins log line or build event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JenkinsLog {
    #[serde(alias = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_number: Option<i64>,
    /// Anything else the producer knows (node, stage, url...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// The Elasticsearch document id or the producer's own unique id. When absent the
    /// envelope id stands in, so a redelivered message is still stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
}

/// An API access or error log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiLog {
    #[serde(alias = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    pub http_status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
}

/// One log record of either source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LogRecord {
    Jenkins(JenkinsLog),
    Api(ApiLog),
}

impl LogRecord {
    pub fn source(&self) -> Source {
        match self {
            LogRecord::Jenkins(_) => Source::Jenkins,
            LogRecord::Api(_) => Source::Api,
        }
    }

    pub fn level(&self) -> Level {
        match self {
            LogRecord::Jenkins(l) => l.level,
            LogRecord::Api(l) => l.level,
        }
    }

    pub fn timestamp(&self) -> DateTime<Utc> {
        match self {
            LogRecord::Jenkins(l) => l.timestamp,
            LogRecord::Api(l) => l.timestamp,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            LogRecord::Jenkins(l) => &l.message,
            LogRecord::Api(l) => &l.message,
        }
    }

    pub fn source_id(&self) -> Option<&str> {
        match self {
            LogRecord::Jenkins(l) => l.source_id.as_deref(),
            LogRecord::Api(l) => l.source_id.as_deref(),
        }
    }

    /// Checks what the types cannot express. A record that fails here is rejected (and
    /// dead-lettered) rather than stored.
    pub fn validate(&self) -> Result<(), String> {
        const MAX_MESSAGE: usize = 64 * 1024;
        if self.message().len() > MAX_MESSAGE {
            return Err(format!("message longer than {MAX_MESSAGE} bytes"));
        }
        match self {
            LogRecord::Jenkins(l) => {
                if let Some(b) = l.build_number
                    && b < 0
                {
                    return Err(format!("build_number {b} is negative"));
                }
                if let Some(j) = &l.job_name
                    && (j.is_empty() || j.len() > 512)
                {
                    return Err("job_name must be 1..=512 bytes".into());
                }
            }
            LogRecord::Api(l) => {
                if !(100..=599).contains(&l.http_status) {
                    return Err(format!("http_status {} is not in 100..=599", l.http_status));
                }
                if let Some(ms) = l.latency_ms
                    && (!ms.is_finite() || ms < 0.0)
                {
                    return Err(format!("latency_ms {ms} is not a non-negative number"));
                }
            }
        }
        Ok(())
    }
}

impl Payload for LogRecord {
    fn kind(&self) -> String {
        self.source().message_type().to_string()
    }

    /// `logs.<source>.<level>`
    fn routing_key(&self) -> String {
        log_routing_key(self.source(), self.level())
    }

    fn exchange(&self) -> &'static str {
        exchange::LOGS
    }
}

impl Decode for LogRecord {
    fn decode(kind: &str, payload: &RawValue) -> Result<Self, DecodeError> {
        match kind {
            "log.jenkins" => parse_payload(kind, payload).map(LogRecord::Jenkins),
            "log.api" => parse_payload(kind, payload).map(LogRecord::Api),
            other => Err(DecodeError::UnexpectedType(other.to_string())),
        }
    }
}

/// `logs.<source>.<level>`, e.g. `logs.jenkins.error`.
pub fn log_routing_key(source: Source, level: Level) -> String {
    format!("logs.{source}.{level}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Envelope, decode_envelope};

    fn jenkins() -> LogRecord {
        LogRecord::Jenkins(JenkinsLog {
            timestamp: "2026-11-01T10:00:00Z".parse().unwrap(),
            level: Level::Error,
            message: "BUILD FAILED".into(),
            job_name: Some("deploy-prod".into()),
            build_number: Some(123),
            details: Some(serde_json::json!({"node": "agent-1"})),
            source_id: Some("es-1".into()),
        })
    }

    #[test]
    fn records_round_trip_through_an_envelope() {
        let api = LogRecord::Api(ApiLog {
            timestamp: "2026-11-01T10:00:00Z".parse().unwrap(),
            level: Level::Warn,
            http_method: Some("GET".into()),
            http_status: 503,
            path: Some("/orders".into()),
            latency_ms: Some(12.5),
            service: Some("orders".into()),
            message: "upstream down".into(),
            details: None,
            source_id: None,
        });
        for rec in [jenkins(), api] {
            let env = Envelope::new("tests", rec.clone());
            let back: Envelope<LogRecord> = decode_envelope(&env.to_json()).unwrap();
            assert_eq!(back.payload, rec);
            assert_eq!(back.kind, rec.source().message_type());
        }
    }

    #[test]
    fn routing_keys_name_source_and_level() {
        assert_eq!(jenkins().routing_key(), "logs.jenkins.error");
        assert_eq!(log_routing_key(Source::Api, Level::Fatal), "logs.api.fatal");
    }

    #[test]
    fn foreign_level_spellings_are_understood() {
        for (s, l) in [
            ("ERROR", Level::Error),
            ("Warning", Level::Warn),
            ("CRITICAL", Level::Fatal),
        ] {
            assert_eq!(s.parse::<Level>().unwrap(), l);
        }
        assert!("loud".parse::<Level>().is_err());
        let raw = serde_json::json!({"@timestamp": "2026-11-01T10:00:00Z", "level": "ERROR",
            "message": "x"});
        let log: JenkinsLog = serde_json::from_value(raw).unwrap();
        assert_eq!(log.level, Level::Error);
    }

    #[test]
    fn decode_checks_the_type_and_the_fields() {
        let body = serde_json::json!({"id": uuid::Uuid::now_v7(), "type": "log.api", "version": 1,
            "occurred_at": "2026-11-01T10:00:00Z", "producer": "x",
            "payload": {"timestamp": "2026-11-01T10:00:00Z", "level": "info"}});
        let err = decode_envelope::<LogRecord>(body.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, DecodeError::Payload { .. }), "{err}");
        let mut other = body.clone();
        other["type"] = "incident.detected".into();
        assert!(matches!(
            decode_envelope::<LogRecord>(other.to_string().as_bytes()),
            Err(DecodeError::UnexpectedType(_))
        ));
    }

    #[test]
    fn validation_rejects_what_types_allow() {
        let LogRecord::Jenkins(mut j) = jenkins() else {
            unreachable!()
        };
        j.build_number = Some(-1);
        assert!(LogRecord::Jenkins(j).validate().is_err());
        assert!(jenkins().validate().is_ok());
    }
}
