//! What the rule-engine tests share: log builders, one-rule files, error checks and a
//! scratch directory.

#![allow(dead_code)]

use std::path::PathBuf;

use domain::{ApiLog, JenkinsLog, Level, LogRecord};
use rules::RuleSet;

pub fn jenkins(level: Level, message: &str, job: Option<&str>) -> LogRecord {
    LogRecord::Jenkins(JenkinsLog {
        timestamp: "2026-11-01T10:00:00Z".parse().unwrap(),
        level,
        message: message.into(),
        job_name: job.map(Into::into),
        build_number: Some(123),
        details: None,
        source_id: Some("es-1".into()),
    })
}

#[derive(Clone)]
pub struct Api {
    pub status: u16,
    pub latency: Option<f64>,
    pub method: Option<&'static str>,
    pub path: Option<&'static str>,
    pub service: Option<&'static str>,
    pub level: Level,
    pub message: &'static str,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            status: 200,
            latency: Some(10.0),
            method: Some("GET"),
            path: Some("/api/orders"),
            service: Some("orders"),
            level: Level::Info,
            message: "",
        }
    }
}

impl Api {
    pub fn log(&self) -> LogRecord {
        LogRecord::Api(ApiLog {
            timestamp: "2026-11-01T10:00:00Z".parse().unwrap(),
            level: self.level,
            http_method: self.method.map(Into::into),
            http_status: self.status,
            path: self.path.map(Into::into),
            latency_ms: self.latency,
            service: self.service.map(Into::into),
            message: self.message.into(),
            details: None,
            source_id: None,
        })
    }
}

pub fn status(s: u16) -> LogRecord {
    Api {
        status: s,
        ..Api::default()
    }
    .log()
}

/// A one-rule file with the given source and `when` body (TOML lines).
pub fn rule(source: &str, when: &str) -> RuleSet {
    let text = format!(
        "[[rule]]\nname = \"r\"\nsource = \"{source}\"\nseverity = \"high\"\ntitle = \"t\"\n[rule.when]\n{when}\n"
    );
    RuleSet::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

pub fn matches(set: &RuleSet, log: &LogRecord) -> bool {
    !set.evaluate(log).is_empty()
}

pub fn names(set: &RuleSet, log: &LogRecord) -> Vec<String> {
    set.evaluate(log).into_iter().map(|m| m.rule).collect()
}

pub fn err(text: &str) -> String {
    match RuleSet::from_toml_str(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

pub fn assert_err(text: &str, parts: &[&str]) {
    let e = err(text);
    for p in parts {
        assert!(e.contains(p), "error `{e}` lacks `{p}`");
    }
}

pub const HEAD: &str =
    "[[rule]]\nname = \"bad_rule\"\nsource = \"jenkins\"\nseverity = \"high\"\ntitle = \"t\"\n";
pub const API_HEAD: &str =
    "[[rule]]\nname = \"bad_rule\"\nsource = \"api\"\nseverity = \"high\"\ntitle = \"t\"\n";

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "rules-engine-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
