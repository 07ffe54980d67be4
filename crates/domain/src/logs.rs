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
    #[schemars(length(max = 65536))]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = r"^[^\u0000]+$"))]
    pub job_name: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_i64"
    )]
    #[schemars(range(min = 0))]
    pub build_number: Option<i64>,
    /// Anything else the producer knows (node, stage, url...): a JSON object of at most
    /// 64 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub details: Option<serde_json::Value>,
    /// The Elasticsearch document id or the producer's own unique id (1..=256 characters, not
    /// blank). When absent the envelope id stands in, so a redelivered message is still
    /// stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")
    )]
    pub source_id: Option<String>,
}

/// An API access or error log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiLog {
    #[serde(alias = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16), regex(pattern = r"^[^\u0000]+$"))]
    pub http_method: Option<String>,
    #[serde(deserialize_with = "crate::lenient::u16_int")]
    #[schemars(range(min = 100, max = 599))]
    pub http_status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^[^\u0000]+$"))]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[^\u0000]+$"))]
    pub service: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 65536))]
    pub message: String,
    /// A JSON object of at most 64 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub details: Option<serde_json::Value>,
    /// The producer's unique id of this record (1..=256 characters, not blank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")
    )]
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

    /// Checks what the types cannot express, against the documented limits (see [`limits`]).
    /// A record that fails here is rejected (400 over HTTP, dead-lettered at once over the
    /// bus) rather than stored; the error names the field. Lengths count characters, as
    /// JSON Schema's `maxLength` and PostgreSQL's `length()` do.
    pub fn validate(&self) -> Result<(), FieldError> {
        use limits::*;
        if let Some(id) = self.source_id() {
            if id.trim().is_empty() {
                return Err(FieldError::new("source_id", "must not be empty or blank"));
            }
            short_text("source_id", id, SOURCE_ID)?;
        }
        let n = self.message().chars().count();
        if n > MESSAGE {
            return Err(FieldError::new(
                "message",
                format!("has {n} characters, at most {MESSAGE} allowed"),
            ));
        }
        let details = match self {
            LogRecord::Jenkins(l) => l.details.as_ref(),
            LogRecord::Api(l) => l.details.as_ref(),
        };
        if let Some(d) = details {
            if !d.is_object() {
                return Err(FieldError::new("details", "must be a JSON object"));
            }
            if let Some((_, reason)) = crate::json::unstorable_number("details", d) {
                return Err(FieldError::new("details", reason));
            }
            let size = serde_json::to_string(d).map_or(usize::MAX, |t| t.len());
            if size > DETAILS {
                return Err(FieldError::new(
                    "details",
                    format!("is {size} bytes of JSON, at most {DETAILS} allowed"),
                ));
            }
        }
        match self {
            LogRecord::Jenkins(l) => {
                if let Some(b) = l.build_number
                    && b < 0
                {
                    return Err(FieldError::new("build_number", format!("{b} is negative")));
                }
                if let Some(j) = &l.job_name {
                    short_text("job_name", j, JOB_NAME)?;
                }
            }
            LogRecord::Api(l) => {
                if !(100..=599).contains(&l.http_status) {
                    return Err(FieldError::new(
                        "http_status",
                        format!("{} is not in 100..=599", l.http_status),
                    ));
                }
                if let Some(ms) = l.latency_ms
                    && (!ms.is_finite() || ms < 0.0)
                {
                    return Err(FieldError::new(
                        "latency_ms",
                        format!("{ms} is not a non-negative number"),
                    ));
                }
                for (field, v, max) in [
                    ("http_method", &l.http_method, HTTP_METHOD),
                    ("path", &l.path, PATH),
                    ("service", &l.service, SERVICE),
                ] {
                    if let Some(v) = v {
                        short_text(field, v, max)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The record with NUL characters (which PostgreSQL text and jsonb cannot hold) in its
    /// message and details replaced by U+FFFD; `None` when it has none. Identifiers are
    /// not rewritten: [`LogRecord::validate`] rejects them instead.
    pub fn without_nul(&self) -> Option<LogRecord> {
        let dirty_details = |d: &Option<serde_json::Value>| {
            d.as_ref()
                .is_some_and(|d| serde_json::to_string(d).is_ok_and(|t| t.contains("\\u0000")))
        };
        let dirty = self.message().contains('\0')
            || match self {
                LogRecord::Jenkins(l) => dirty_details(&l.details),
                LogRecord::Api(l) => dirty_details(&l.details),
            };
        if !dirty {
            return None;
        }
        let mut r = self.clone();
        let (message, details) = match &mut r {
            LogRecord::Jenkins(l) => (&mut l.message, &mut l.details),
            LogRecord::Api(l) => (&mut l.message, &mut l.details),
        };
        *message = message.replace('\0', "\u{FFFD}");
        if let Some(d) = details {
            scrub(d);
        }
        Some(r)
    }
}

fn scrub(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        serde_json::Value::Object(map) => {
            let keys: Vec<String> = map.keys().filter(|k| k.contains('\0')).cloned().collect();
            for k in keys {
                if let Some(val) = map.remove(&k) {
                    map.insert(k.replace('\0', "\u{FFFD}"), val);
                }
            }
            map.values_mut().for_each(scrub);
        }
        _ => {}
    }
}

/// A short text field: at most `max` characters, no NUL.
fn short_text(field: &'static str, v: &str, max: usize) -> Result<(), FieldError> {
    if v.is_empty() {
        return Err(FieldError::new(field, "must not be empty when present"));
    }
    let n = v.chars().count();
    if n > max {
        return Err(FieldError::new(
            field,
            format!("has {n} characters, at most {max} allowed"),
        ));
    }
    if v.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(())
}

pub use crate::limits;

/// A field that breaks a limit, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        FieldError {
            field,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.reason)
    }
}

impl std::error::Error for FieldError {}

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

    fn with_source_id(id: &str) -> LogRecord {
        let LogRecord::Jenkins(mut j) = jenkins() else {
            unreachable!()
        };
        j.source_id = Some(id.into());
        LogRecord::Jenkins(j)
    }

    #[test]
    fn source_ids_must_be_present_short_and_clean() {
        for bad in ["", "   ", "\t\n", &"x".repeat(257), "a\0b"] {
            let err = with_source_id(bad).validate().unwrap_err();
            assert_eq!(err.field, "source_id", "{bad:?}: {err}");
        }
        assert!(
            with_source_id(&"é".repeat(256)).validate().is_ok(),
            "characters, not bytes"
        );
        assert!(
            with_source_id("logs-jenkins-2026.11/abc")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn every_limited_field_is_named() {
        let LogRecord::Jenkins(mut j) = jenkins() else {
            unreachable!()
        };
        j.message = "m".repeat(limits::MESSAGE + 1);
        assert_eq!(
            LogRecord::Jenkins(j.clone()).validate().unwrap_err().field,
            "message"
        );
        j.message = "ok".into();
        j.details = Some(serde_json::json!({"blob": "d".repeat(limits::DETAILS)}));
        assert_eq!(
            LogRecord::Jenkins(j.clone()).validate().unwrap_err().field,
            "details"
        );
        j.details = Some(serde_json::json!([1, 2]));
        assert_eq!(
            LogRecord::Jenkins(j.clone()).validate().unwrap_err().field,
            "details"
        );
        j.details = None;
        j.job_name = Some(String::new());
        assert_eq!(
            LogRecord::Jenkins(j).validate().unwrap_err().field,
            "job_name"
        );
        let api = LogRecord::Api(ApiLog {
            timestamp: Utc::now(),
            level: Level::Error,
            http_method: Some("G".repeat(17)),
            http_status: 500,
            path: None,
            latency_ms: None,
            service: None,
            message: String::new(),
            details: None,
            source_id: None,
        });
        assert_eq!(api.validate().unwrap_err().field, "http_method");
    }

    #[test]
    fn nul_characters_are_replaced_in_text_not_in_ids() {
        assert!(jenkins().without_nul().is_none());
        let LogRecord::Jenkins(mut j) = jenkins() else {
            unreachable!()
        };
        j.message = "a\0b".into();
        j.details = Some(serde_json::json!({"k\u{0}": ["x\u{0}y", 1]}));
        let clean = LogRecord::Jenkins(j).without_nul().unwrap();
        let LogRecord::Jenkins(c) = &clean else {
            unreachable!()
        };
        assert_eq!(c.message, "a\u{FFFD}b");
        assert_eq!(
            c.details,
            Some(serde_json::json!({"k\u{FFFD}": ["x\u{FFFD}y", 1]}))
        );
        assert!(clean.validate().is_ok());
    }
}
