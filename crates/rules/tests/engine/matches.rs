//! What the rule engine produces for a matching log: group keys, fingerprints, titles,
//! actions and recovery effects; and its explanations of why a rule did not match.

use crate::common::*;
use domain::{ActionType, Level, Severity, Source};
use rules::{Effect, RuleMatch, RuleSet, Threshold};

#[test]
fn group_keys_fingerprints_and_titles() {
    let text = r#"
[[rule]]
name = "api_errors"
description = "errors"
source = "api"
severity = "medium"
title = "{rule}: {http_method} {path} on {service} -> {http_status} in {latency_ms} ms [{level}] {message} {{literal}}"
runbook_url = "https://runbooks.example.com/x"
group_by = ["service", "method", "status", "path"]
[rule.when]
status = "5xx"
[rule.threshold]
count = 3
window_secs = 30

[[rule]]
name = "ungrouped"
source = "api"
severity = "low"
title = "all"
[rule.when]
status = "5xx"
"#;
    let set = RuleSet::from_toml_str(text).unwrap();
    let log = Api {
        status: 502,
        latency: Some(12.5),
        method: Some("POST"),
        level: Level::Error,
        message: "bad gateway",
        ..Api::default()
    }
    .log();
    let m = set.evaluate(&log);
    assert_eq!(m.len(), 2);
    assert_eq!(
        m[0],
        RuleMatch {
            rule: "api_errors".into(),
            source: Source::Api,
            severity: Severity::Medium,
            group_key: "orders|POST|502|/api/orders".into(),
            fingerprint: "api_errors:orders|POST|502|/api/orders".into(),
            title: "api_errors: POST /api/orders on orders -> 502 in 12.5 ms [error] bad gateway {literal}"
                .into(),
            description: Some("errors".into()),
            runbook_url: Some("https://runbooks.example.com/x".into()),
            action: None,
            runbook: None,
            threshold: Some(Threshold {
                count: 3,
                window_secs: 30
            }),
            effect: Effect::Open,
        }
    );
    assert_eq!(m[1].group_key, "");
    assert_eq!(m[1].fingerprint, "ungrouped:");
    assert_eq!(m[1].threshold, None);

    // Absent values give empty parts, not a skipped field.
    let sparse = Api {
        status: 500,
        service: None,
        method: None,
        latency: None,
        ..Api::default()
    }
    .log();
    let m = set.evaluate(&sparse);
    assert_eq!(m[0].group_key, "||500|/api/orders");
    assert!(
        m[0].title
            .starts_with("api_errors:  /api/orders on  -> 500 in  ms"),
        "{}",
        m[0].title
    );
}

#[test]
fn jenkins_title_and_action_target() {
    let text = r#"
[[rule]]
name = "fail"
source = "jenkins"
severity = "critical"
title = "Build failed: {job_name} #{build_number}"
group_by = ["job_name"]
[rule.when]
message_contains = "FAIL"
[rule.action]
type = "rollback"
"#;
    let set = RuleSet::from_toml_str(text).unwrap();
    let m = &set.evaluate(&jenkins(Level::Error, "FAIL", Some("team/deploy")))[0];
    assert_eq!(m.title, "Build failed: team/deploy #123");
    assert_eq!(m.fingerprint, "fail:team/deploy");
    let a = m.action.as_ref().unwrap();
    assert_eq!(a.action_type, ActionType::Rollback);
    assert!(a.requires_approval, "rollback needs approval by default");
    assert_eq!(a.target_job.as_deref(), Some("team/deploy"));
    // Without a job the incident still opens, but the action has nothing to target.
    let m = &set.evaluate(&jenkins(Level::Error, "FAIL", None))[0];
    assert_eq!(m.fingerprint, "fail:");
    assert_eq!(m.action.as_ref().unwrap().target_job, None);
}

#[test]
fn action_approval_defaults_per_type_and_api_targets() {
    let with_action = |source: &str, action: &str| {
        let head = if source == "api" { API_HEAD } else { HEAD };
        let when = if source == "api" {
            "status = 500"
        } else {
            "levels = [\"error\"]"
        };
        RuleSet::from_toml_str(&format!(
            "{head}[rule.when]\n{when}\n[rule.action]\n{action}\n"
        ))
    };
    for (action, approval) in [
        ("type = \"restart\"", false),
        ("type = \"rollback\"", true),
        ("type = \"stop\"", true),
        ("type = \"restart\"\nrequires_approval = true", true),
        ("type = \"stop\"\nrequires_approval = false", false),
    ] {
        let set = with_action("jenkins", action).unwrap();
        assert_eq!(
            set.rules()[0].action().unwrap().requires_approval,
            approval,
            "{action}"
        );
    }
    let set = with_action("api", "type = \"restart\"\njob = \"deploy-{service}\"").unwrap();
    let m = &set.evaluate(&status(500))[0];
    assert_eq!(
        m.action.as_ref().unwrap().target_job.as_deref(),
        Some("deploy-orders")
    );
    let e = with_action("api", "type = \"restart\"")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("rule `bad_rule`") && e.contains("`job` is required on api rules"),
        "{e}"
    );
}

#[test]
fn long_titles_are_cut() {
    let text = format!("{HEAD}title = \"{{message}}\"\n[rule.when]\nlevels = [\"error\"]\n")
        .replace("title = \"t\"\n", "");
    let set = RuleSet::from_toml_str(&text).unwrap();
    let m = &set.evaluate(&jenkins(Level::Error, &"x".repeat(10_000), None))[0];
    assert_eq!(m.title.chars().count(), rules::MAX_RENDERED_CHARS);
}

#[test]
fn recovery_rules_resolve_the_same_group() {
    let text = r#"
[[rule]]
name = "fail"
source = "jenkins"
severity = "high"
title = "t"
group_by = ["job_name"]
[rule.when]
message_contains = "BUILD FAILED"

[[rule]]
name = "tests"
source = "jenkins"
severity = "medium"
title = "t"
group_by = ["job_name"]
[rule.when]
message_contains = "test failures"

[[rule]]
name = "ok"
source = "jenkins"
group_by = ["job_name"]
resolves = ["fail", "tests"]
[rule.when]
message_contains = "BUILD SUCCESS"
"#;
    let set = RuleSet::from_toml_str(text).unwrap();
    assert!(set.get("ok").unwrap().is_recovery());
    let m = set.evaluate(&jenkins(Level::Info, "BUILD SUCCESS", Some("deploy")));
    assert_eq!(m.len(), 1);
    assert!(m[0].is_recovery());
    assert_eq!(m[0].title, "ok");
    assert_eq!(m[0].severity, Severity::Low);
    assert_eq!(
        m[0].effect,
        Effect::Resolve {
            rules: vec!["fail".into(), "tests".into()],
            fingerprints: vec!["fail:deploy".into(), "tests:deploy".into()],
        }
    );
    // The fingerprints are those the failures of the same job opened.
    let f = set.evaluate(&jenkins(Level::Error, "BUILD FAILED", Some("deploy")));
    assert_eq!(f[0].effect, Effect::Open);
    assert!(
        matches!(&m[0].effect, Effect::Resolve { fingerprints, .. } if fingerprints[0] == f[0].fingerprint)
    );
}

// ------------------------------------------------------------------ explanations

#[test]
fn explanations_say_which_condition_failed() {
    let set = RuleSet::builtin();
    let log = jenkins(Level::Info, "Finished: UNSTABLE", Some("deploy"));
    let ex = set.explain(&log);
    assert_eq!(ex.len(), set.len());
    let why = |rule: &str| {
        ex.iter()
            .find(|e| e.rule == rule)
            .unwrap()
            .reason
            .clone()
            .unwrap_or_default()
    };
    assert_eq!(
        why("jenkins_build_failure"),
        "when.levels: level is info, rule wants error, fatal"
    );
    assert!(why("api_5xx_burst").contains("source is jenkins, rule wants api"));
    let log = jenkins(Level::Error, "something else", Some("deploy"));
    let ex = set.explain(&log);
    let r = ex
        .iter()
        .find(|e| e.rule == "jenkins_build_failure")
        .unwrap();
    assert!(!r.matched);
    let reason = r.reason.as_deref().unwrap();
    assert!(
        reason.contains("when.any[1].message_contains \"Finished: FAILURE\" not found"),
        "{reason}"
    );
    let r = ex
        .iter()
        .find(|e| e.rule == "jenkins_test_failures")
        .unwrap();
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("when.any[0].message_regex"),
        "{r:?}"
    );

    let ex = set.explain(&status(200));
    let r = ex.iter().find(|e| e.rule == "api_5xx_burst").unwrap();
    assert_eq!(
        r.reason.as_deref(),
        Some("when.status: http_status 200 is not in 500-599")
    );
    let r = ex.iter().find(|e| e.rule == "api_latency_high").unwrap();
    assert_eq!(
        r.reason.as_deref(),
        Some("when.latency_ms_over: latency_ms 10 is not over 2000")
    );
}
