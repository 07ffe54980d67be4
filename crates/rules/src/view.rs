//! Uniform, allocation-free access to the fields of a log record, shared by conditions,
//! group keys and templates.

use std::cell::OnceCell;
use std::fmt::Write as _;

use domain::{Level, LogRecord, Source};

/// A log field that group keys and templates can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    JobName,
    BuildNumber,
    Path,
    Service,
    HttpStatus,
    HttpMethod,
    LatencyMs,
    Level,
    Message,
    /// The rule's own name (templates only).
    Rule,
}

impl Field {
    /// Template placeholders, in the order error messages list them.
    pub const PLACEHOLDERS: [Field; 10] = [
        Field::JobName,
        Field::BuildNumber,
        Field::Path,
        Field::Service,
        Field::HttpStatus,
        Field::HttpMethod,
        Field::LatencyMs,
        Field::Level,
        Field::Message,
        Field::Rule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::JobName => "job_name",
            Field::BuildNumber => "build_number",
            Field::Path => "path",
            Field::Service => "service",
            Field::HttpStatus => "http_status",
            Field::HttpMethod => "http_method",
            Field::LatencyMs => "latency_ms",
            Field::Level => "level",
            Field::Message => "message",
            Field::Rule => "rule",
        }
    }

    pub fn placeholder(name: &str) -> Option<Field> {
        Field::PLACEHOLDERS.into_iter().find(|f| f.as_str() == name)
    }

    /// `group_by` names: the short `method`/`status` the issue uses, and the field names.
    pub fn group_by(name: &str) -> Option<Field> {
        match name {
            "job_name" | "job" => Some(Field::JobName),
            "path" => Some(Field::Path),
            "service" => Some(Field::Service),
            "method" | "http_method" => Some(Field::HttpMethod),
            "status" | "http_status" => Some(Field::HttpStatus),
            _ => None,
        }
    }

    /// The source whose logs carry this field; `None` for fields every log has.
    pub fn only_on(self) -> Option<Source> {
        match self {
            Field::JobName | Field::BuildNumber => Some(Source::Jenkins),
            Field::Path
            | Field::Service
            | Field::HttpStatus
            | Field::HttpMethod
            | Field::LatencyMs => Some(Source::Api),
            Field::Level | Field::Message | Field::Rule => None,
        }
    }
}

/// A log under evaluation. The lowercased message is computed at most once per log, and
/// only if a case-insensitive `message_contains` is actually reached.
pub(crate) struct LogView<'a> {
    pub log: &'a LogRecord,
    lower: OnceCell<String>,
}

impl<'a> LogView<'a> {
    pub fn new(log: &'a LogRecord) -> Self {
        LogView {
            log,
            lower: OnceCell::new(),
        }
    }

    pub fn level(&self) -> Level {
        self.log.level()
    }

    pub fn message(&self) -> &'a str {
        self.log.message()
    }

    pub fn message_lower(&self) -> &str {
        self.lower.get_or_init(|| self.log.message().to_lowercase())
    }

    pub fn job(&self) -> Option<&'a str> {
        match self.log {
            LogRecord::Jenkins(l) => l.job_name.as_deref(),
            LogRecord::Api(_) => None,
        }
    }

    pub fn path(&self) -> Option<&'a str> {
        match self.log {
            LogRecord::Api(l) => l.path.as_deref(),
            LogRecord::Jenkins(_) => None,
        }
    }

    pub fn service(&self) -> Option<&'a str> {
        match self.log {
            LogRecord::Api(l) => l.service.as_deref(),
            LogRecord::Jenkins(_) => None,
        }
    }

    pub fn method(&self) -> Option<&'a str> {
        match self.log {
            LogRecord::Api(l) => l.http_method.as_deref(),
            LogRecord::Jenkins(_) => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self.log {
            LogRecord::Api(l) => Some(l.http_status),
            LogRecord::Jenkins(_) => None,
        }
    }

    pub fn latency_ms(&self) -> Option<f64> {
        match self.log {
            LogRecord::Api(l) => l.latency_ms,
            LogRecord::Jenkins(_) => None,
        }
    }

    /// Appends the field's value; an absent field appends nothing.
    pub fn write_field(&self, field: Field, rule: &str, out: &mut String) {
        // Writing to a String cannot fail.
        match field {
            Field::JobName => out.push_str(self.job().unwrap_or("")),
            Field::BuildNumber => {
                if let LogRecord::Jenkins(l) = self.log
                    && let Some(b) = l.build_number
                {
                    let _ = write!(out, "{b}");
                }
            }
            Field::Path => out.push_str(self.path().unwrap_or("")),
            Field::Service => out.push_str(self.service().unwrap_or("")),
            Field::HttpStatus => {
                if let Some(s) = self.status() {
                    let _ = write!(out, "{s}");
                }
            }
            Field::HttpMethod => out.push_str(self.method().unwrap_or("")),
            Field::LatencyMs => {
                if let Some(ms) = self.latency_ms() {
                    let _ = write!(out, "{ms}");
                }
            }
            Field::Level => out.push_str(self.level().as_str()),
            Field::Message => out.push_str(self.message()),
            Field::Rule => out.push_str(rule),
        }
    }

    pub fn has_field(&self, field: Field) -> bool {
        match field {
            Field::JobName => self.job().is_some(),
            Field::BuildNumber => {
                matches!(self.log, LogRecord::Jenkins(l) if l.build_number.is_some())
            }
            Field::Path => self.path().is_some(),
            Field::Service => self.service().is_some(),
            Field::HttpStatus => self.status().is_some(),
            Field::HttpMethod => self.method().is_some(),
            Field::LatencyMs => self.latency_ms().is_some(),
            Field::Level | Field::Message | Field::Rule => true,
        }
    }
}
