//! Cross-module unit tests: evaluation and explanation must agree, on every rule and log.

use domain::{ApiLog, JenkinsLog, Level, LogRecord};

use super::*;

fn jenkins(level: Level, message: &str, job: Option<&str>) -> LogRecord {
    LogRecord::Jenkins(JenkinsLog {
        timestamp: "2026-11-01T10:00:00Z".parse().unwrap(),
        level,
        message: message.into(),
        job_name: job.map(Into::into),
        build_number: Some(7),
        details: None,
        source_id: None,
    })
}

fn api(status: u16, latency: Option<f64>, method: Option<&str>, path: Option<&str>) -> LogRecord {
    LogRecord::Api(ApiLog {
        timestamp: "2026-11-01T10:00:00Z".parse().unwrap(),
        level: if status >= 500 {
            Level::Error
        } else {
            Level::Info
        },
        http_method: method.map(Into::into),
        http_status: status,
        path: path.map(Into::into),
        latency_ms: latency,
        service: Some("orders".into()),
        message: format!("HTTP {status}"),
        details: None,
        source_id: None,
    })
}

const MIXED: &str = r#"
[[rule]]
name = "nested"
source = "jenkins"
severity = "high"
title = "t"
[rule.when]
levels = ["warn", "error"]
all = [
  { any = [ { job = "deploy-*" }, { job = "team/*" } ] },
  { not = { message_regex = "(?i)ignore me" } },
]
any = [ { message_contains = "boom", case_insensitive = true }, { message_contains = "Bang" } ]

[[rule]]
name = "api_mixed"
source = "api"
severity = "low"
title = "t"
[rule.when]
any = [
  { status = ["429", "500-504"], method = ["post", "PUT"] },
  { latency_ms_over = 100.5, path = "/api/**" },
  { not = { service = "ord*" } },
]

[[rule]]
name = "off"
enabled = false
source = "api"
severity = "low"
title = "t"
[rule.when]
status = "1xx"
"#;

fn corpus() -> Vec<LogRecord> {
    let mut logs = Vec::new();
    for level in Level::ALL {
        for msg in [
            "BOOM now",
            "bang",
            "Bang",
            "boom, ignore me",
            "BUILD FAILED",
            "Finished: SUCCESS",
            "",
        ] {
            for job in [
                Some("deploy-prod"),
                Some("team/app"),
                Some("team/a/b"),
                Some("other"),
                None,
            ] {
                logs.push(jenkins(level, msg, job));
            }
        }
    }
    for status in [100, 200, 401, 403, 429, 500, 503, 504, 505, 599] {
        for latency in [None, Some(50.0), Some(100.5), Some(2500.0)] {
            for method in [None, Some("POST"), Some("get"), Some("put")] {
                for path in [None, Some("/api/v1/x"), Some("/other")] {
                    logs.push(api(status, latency, method, path));
                }
            }
        }
    }
    logs
}

#[test]
fn explain_agrees_with_evaluate_on_every_rule_and_log() {
    for set in [RuleSet::from_toml_str(MIXED).unwrap(), RuleSet::builtin()] {
        let mut matched_any = 0;
        let mut missed_any = 0;
        for log in corpus() {
            let matches = set.evaluate(&log);
            let explained = set.explain(&log);
            assert_eq!(explained.len(), set.len());
            let from_explain: Vec<_> = explained.iter().filter_map(|e| e.outcome.clone()).collect();
            assert_eq!(matches, from_explain, "{log:?}");
            for e in &explained {
                assert_eq!(e.matched, e.reason.is_none(), "{e:?}");
                assert_eq!(e.matched, e.outcome.is_some(), "{e:?}");
                if e.matched {
                    matched_any += 1;
                } else {
                    missed_any += 1;
                    assert!(!e.reason.as_deref().unwrap().is_empty());
                }
            }
        }
        assert!(matched_any > 0 && missed_any > 0);
    }
}

#[test]
fn nested_combinators_evaluate_as_written() {
    let set = RuleSet::from_toml_str(MIXED).unwrap();
    let names = |log: &LogRecord| -> Vec<String> {
        set.evaluate(log).into_iter().map(|m| m.rule).collect()
    };
    assert_eq!(
        names(&jenkins(Level::Error, "BOOM now", Some("deploy-prod"))),
        ["nested"]
    );
    assert_eq!(
        names(&jenkins(Level::Warn, "Bang", Some("team/app"))),
        ["nested"]
    );
    // `*` does not cross `/`.
    assert!(names(&jenkins(Level::Warn, "Bang", Some("team/a/b"))).is_empty());
    // The `not` branch.
    assert!(
        names(&jenkins(
            Level::Error,
            "boom, IGNORE me",
            Some("deploy-prod")
        ))
        .is_empty()
    );
    // Level outside the set.
    assert!(names(&jenkins(Level::Fatal, "boom", Some("deploy-prod"))).is_empty());
    // Case-sensitive `Bang`.
    assert!(names(&jenkins(Level::Error, "bang", Some("deploy-prod"))).is_empty());

    assert_eq!(names(&api(502, None, Some("post"), None)), ["api_mixed"]);
    assert!(names(&api(505, None, Some("POST"), None)).is_empty());
    assert!(names(&api(429, None, Some("GET"), None)).is_empty());
    assert_eq!(
        names(&api(200, Some(100.6), None, Some("/api/v1/x"))),
        ["api_mixed"]
    );
    assert!(names(&api(200, Some(100.5), None, Some("/api/v1/x"))).is_empty());
    // The disabled `1xx` rule never matches.
    assert!(names(&api(100, None, None, None)).is_empty());
}

#[test]
fn explanations_name_the_failing_condition() {
    let set = RuleSet::from_toml_str(MIXED).unwrap();
    let reason = |log: &LogRecord, rule: &str| -> String {
        set.explain(log)
            .into_iter()
            .find(|e| e.rule == rule)
            .and_then(|e| e.reason)
            .unwrap_or_default()
    };
    let log = jenkins(Level::Info, "boom", Some("deploy-x"));
    assert_eq!(
        reason(&log, "nested"),
        "when.levels: level is info, rule wants warn, error"
    );
    let log = jenkins(Level::Error, "boom ignore me", Some("deploy-x"));
    assert_eq!(
        reason(&log, "nested"),
        "when.all[1].not.message_regex \"(?i)ignore me\" matched, rule wants it not to"
    );
    let log = jenkins(Level::Error, "boom", Some("x"));
    assert_eq!(
        reason(&log, "nested"),
        "when.all[0].any: none matched (when.all[0].any[0].job: job_name \"x\" does not match \"deploy-*\"; \
         when.all[0].any[1].job: job_name \"x\" does not match \"team/*\")"
    );
    let log = jenkins(Level::Error, "quiet", Some("deploy-x"));
    assert_eq!(
        reason(&log, "nested"),
        "when.any: none matched (when.any[0].message_contains \"boom\" not found (case-insensitive); \
         when.any[1].message_contains \"Bang\" not found)"
    );
    assert_eq!(
        reason(&log, "api_mixed"),
        "source is jenkins, rule wants api"
    );
    assert_eq!(reason(&log, "off"), "rule is disabled (`enabled = false`)");
    let log = api(200, None, None, None);
    let r = reason(&log, "api_mixed");
    assert!(
        r.contains("when.any[0].status: http_status 200 is not in 429, 500-504"),
        "{r}"
    );
    assert!(
        r.contains("when.any[1].latency_ms_over: latency_ms is absent"),
        "{r}"
    );
    assert!(
        r.contains("when.any[2].not.service \"ord*\" matched"),
        "{r}"
    );
    let log = api(503, None, Some("GET"), None);
    let r = reason(&log, "api_mixed");
    assert!(
        r.contains("when.any[0].method: http_method GET is not POST or PUT"),
        "{r}"
    );
}

#[test]
fn a_rule_names_its_runbook() {
    let base = "[[rule]]\nname = \"r\"\nsource = \"jenkins\"\nseverity = \"high\"\ntitle = \"t\"\n[rule.when]\nmessage_contains = \"x\"\n";
    let set = RuleSet::from_toml_str(&format!(
        "{base}[rule.runbook]\nname = \"jenkins-build-failure\"\n"
    ))
    .unwrap();
    assert_eq!(set.rules()[0].runbook(), Some("jenkins-build-failure"));
    let err = RuleSet::from_toml_str(&format!(
        "{base}[rule.runbook]\nname = \"a\"\n[rule.action]\ntype = \"restart\"\n"
    ))
    .unwrap_err();
    assert!(err.to_string().contains("not both"), "{err}");
    let err = RuleSet::from_toml_str(&format!("{base}[rule.runbook]\nnam = \"a\"\n")).unwrap_err();
    assert!(err.to_string().contains("nam"), "{err}");
    let err = RuleSet::from_toml_str(&format!("{base}[rule.runbook]\n")).unwrap_err();
    assert!(err.to_string().contains("missing `name`"), "{err}");
}
