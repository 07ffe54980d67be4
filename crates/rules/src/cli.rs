//! What `orchestrator rules check FILE` and `orchestrator rules test FILE --log LOG.json`
//! print. The binary only wires these into its command line.

use std::fmt::Write as _;
use std::path::Path;

use domain::{ApiLog, JenkinsLog, LogRecord};

use super::compile::RuleSet;
use super::error::RulesError;
use super::eval::Effect;
use super::explain::RuleExplanation;

/// Validates a rules file. The summary's first line is `ok: N rules (M enabled)`, then one
/// line per rule with its source, severity and what it does.
pub fn check_file(path: impl AsRef<Path>) -> Result<String, RulesError> {
    let set = RuleSet::load(path)?;
    Ok(summary(&set))
}

pub fn summary(set: &RuleSet) -> String {
    let mut out = format!(
        "ok: {} rules ({} enabled)\n",
        set.len(),
        set.enabled_count()
    );
    let width = set
        .rules()
        .iter()
        .map(|r| r.name().len())
        .max()
        .unwrap_or(0);
    for r in set.rules() {
        let _ = write!(
            out,
            "  {:width$}  {:<7} {:<8}",
            r.name(),
            r.source().as_str(),
            r.severity().as_str()
        );
        if !r.is_enabled() {
            out.push_str(" disabled");
        }
        if let Some(t) = r.threshold() {
            let _ = write!(out, " threshold={}/{}s", t.count, t.window_secs);
        }
        if let Some(a) = r.action() {
            let _ = write!(
                out,
                " action={} approval={}",
                a.action_type,
                yes_no(a.requires_approval)
            );
        }
        if r.is_recovery() {
            let _ = write!(out, " resolves={}", r.resolves().join(","));
        }
        let out_len = out.trim_end().len();
        out.truncate(out_len);
        out.push('\n');
    }
    out
}

/// Evaluates the rules file against one log and prints one line per rule:
/// `MATCH <rule> severity=<s> fingerprint=<f> title="<t>" ...` or `no    <rule>: <reason>`.
///
/// The log is a JenkinsLog or ApiLog JSON object (an `http_status` field means API), or an
/// envelope `{"type": "log.jenkins" | "log.api", "payload": {...}}`.
pub fn test_file(
    rules_path: impl AsRef<Path>,
    log_path: impl AsRef<Path>,
) -> Result<String, RulesError> {
    let set = RuleSet::load(rules_path)?;
    let log_path = log_path.as_ref();
    let log_err = |reason: String| RulesError::Log {
        path: log_path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(log_path).map_err(|e| log_err(e.to_string()))?;
    let log = parse_log_json(&text).map_err(log_err)?;
    Ok(format_explanations(&set.explain(&log)))
}

/// Reads one log record from JSON (see [`test_file`]) and validates it.
pub fn parse_log_json(text: &str) -> Result<LogRecord, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let obj = value
        .as_object()
        .ok_or("expected a JSON object (a log record or an envelope)")?;
    let (is_api, body) = match (obj.get("type"), obj.get("payload")) {
        (Some(kind), Some(payload)) => match kind.as_str() {
            Some("log.jenkins") => (false, payload),
            Some("log.api") => (true, payload),
            _ => {
                return Err(format!(
                    "envelope type {kind} is not a log (expected \"log.jenkins\" or \"log.api\")"
                ));
            }
        },
        _ => (obj.contains_key("http_status"), &value),
    };
    // The untagged `LogRecord` would take an API log with a message for a Jenkins one, so
    // the kind is decided above and the matching struct parsed directly.
    let log = if is_api {
        serde_json::from_value::<ApiLog>(body.clone())
            .map(LogRecord::Api)
            .map_err(|e| format!("not an API log: {e}"))?
    } else {
        serde_json::from_value::<JenkinsLog>(body.clone())
            .map(LogRecord::Jenkins)
            .map_err(|e| format!("not a Jenkins log: {e}"))?
    };
    log.validate().map_err(|e| e.to_string())?;
    Ok(log)
}

/// The `rules test` lines for a set of explanations.
pub fn format_explanations(explanations: &[RuleExplanation]) -> String {
    let mut out = String::new();
    for e in explanations {
        match (&e.outcome, &e.reason) {
            (Some(m), _) => {
                let _ = write!(
                    out,
                    "MATCH {} severity={} fingerprint={} title={:?}",
                    m.rule, m.severity, m.fingerprint, m.title
                );
                if let Some(t) = m.threshold {
                    let _ = write!(out, " threshold={}/{}s", t.count, t.window_secs);
                }
                if let Some(a) = &m.action {
                    let _ = write!(
                        out,
                        " action={} approval={} target={}",
                        a.action_type,
                        yes_no(a.requires_approval),
                        a.target_job.as_deref().unwrap_or("-")
                    );
                }
                if let Effect::Resolve { fingerprints, .. } = &m.effect {
                    let _ = write!(out, " resolves={}", fingerprints.join(","));
                }
                out.push('\n');
            }
            (None, reason) => {
                let _ = writeln!(
                    out,
                    "no    {}: {}",
                    e.rule,
                    reason.as_deref().unwrap_or("no match")
                );
            }
        }
    }
    out
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_told_apart_by_http_status_or_envelope_type() {
        let api = r#"{"timestamp":"2026-11-01T10:00:00Z","level":"error","http_status":503,"message":"x"}"#;
        assert!(matches!(parse_log_json(api), Ok(LogRecord::Api(_))));
        let jenkins = r#"{"timestamp":"2026-11-01T10:00:00Z","level":"ERROR","message":"BUILD FAILED","job_name":"j"}"#;
        assert!(matches!(parse_log_json(jenkins), Ok(LogRecord::Jenkins(_))));
        let env = format!(r#"{{"type":"log.jenkins","payload":{jenkins}}}"#);
        assert!(matches!(parse_log_json(&env), Ok(LogRecord::Jenkins(_))));
        let env = format!(r#"{{"type":"log.api","payload":{api}}}"#);
        assert!(matches!(parse_log_json(&env), Ok(LogRecord::Api(_))));
    }

    #[test]
    fn bad_logs_are_explained() {
        for (text, want) in [
            ("[1]", "expected a JSON object"),
            ("{", "not JSON"),
            (
                r#"{"type":"incident.detected","payload":{}}"#,
                "is not a log",
            ),
            (
                r#"{"type":"log.api","payload":{"level":"info"}}"#,
                "not an API log",
            ),
            (r#"{"level":"info"}"#, "not a Jenkins log"),
            (
                r#"{"timestamp":"2026-11-01T10:00:00Z","level":"info","http_status":700}"#,
                "not in 100..=599",
            ),
        ] {
            let e = parse_log_json(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
