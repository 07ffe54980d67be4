//! The shipped default rules, the CLI helpers (`check_file`, `test_file`) and reloading.

use crate::common::*;
use domain::{ActionType, Level, LogRecord, Severity};
use rules::{DEFAULT_RULES, RuleSet, RulesError, SharedRules, check_file, test_file};

#[test]
fn default_rules_compile_with_the_expected_rules() {
    let set = RuleSet::from_toml_str(DEFAULT_RULES).unwrap();
    let names: Vec<_> = set.rules().iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "jenkins_build_failure",
            "jenkins_build_timeout_or_aborted",
            "jenkins_out_of_resources",
            "jenkins_test_failures",
            "jenkins_build_recovered",
            "api_5xx_burst",
            "api_latency_high",
            "api_rate_limited",
            "api_auth_failures",
        ]
    );
    assert_eq!(set.enabled_count(), set.len());
    let failure = set.get("jenkins_build_failure").unwrap();
    assert_eq!(failure.severity(), Severity::High);
    let action = failure.action().unwrap();
    assert_eq!(action.action_type, ActionType::Restart);
    assert!(!action.requires_approval);
    assert_eq!(
        set.get("jenkins_build_recovered").unwrap().resolves(),
        [
            "jenkins_build_failure",
            "jenkins_build_timeout_or_aborted",
            "jenkins_out_of_resources",
            "jenkins_test_failures"
        ]
    );
    let thresholds: Vec<_> = [
        "api_5xx_burst",
        "api_latency_high",
        "api_rate_limited",
        "api_auth_failures",
    ]
    .iter()
    .map(|n| {
        let t = set.get(n).unwrap().threshold().unwrap();
        (t.count, t.window_secs)
    })
    .collect();
    assert_eq!(thresholds, [(5, 60), (10, 60), (20, 60), (10, 60)]);
    for r in set.rules() {
        assert!(
            r.runbook_url()
                .unwrap()
                .starts_with("https://runbooks.example.com/")
        );
    }
}

#[test]
fn default_rules_classify_typical_logs() {
    let set = RuleSet::builtin();
    let j = |level, msg: &str| jenkins(level, msg, Some("deploy-prod"));
    let cases: Vec<(LogRecord, &[&str])> = vec![
        (j(Level::Error, "BUILD FAILED"), &["jenkins_build_failure"]),
        (
            j(Level::Fatal, "Finished: FAILURE"),
            &["jenkins_build_failure"],
        ),
        (j(Level::Info, "Finished: FAILURE"), &[]),
        (
            j(
                Level::Warn,
                "Build timed out (after 10 minutes). Marking the build as aborted.",
            ),
            &["jenkins_build_timeout_or_aborted"],
        ),
        (
            j(Level::Info, "Finished: ABORTED"),
            &["jenkins_build_timeout_or_aborted"],
        ),
        (
            j(
                Level::Error,
                "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
            ),
            &["jenkins_out_of_resources"],
        ),
        (
            j(Level::Error, "write failed: NO SPACE LEFT ON DEVICE"),
            &["jenkins_out_of_resources"],
        ),
        (
            j(
                Level::Error,
                "Tests run: 42, Failures: 2, Errors: 0, Skipped: 1",
            ),
            &["jenkins_test_failures"],
        ),
        (
            j(
                Level::Info,
                "Tests run: 42, Failures: 0, Errors: 0, Skipped: 1",
            ),
            &[],
        ),
        (
            j(Level::Error, "There are test failures."),
            &["jenkins_test_failures"],
        ),
        (
            j(Level::Info, "BUILD SUCCESS"),
            &["jenkins_build_recovered"],
        ),
        (
            j(Level::Info, "Finished: SUCCESS"),
            &["jenkins_build_recovered"],
        ),
        (status(503), &["api_5xx_burst"]),
        (status(429), &["api_rate_limited"]),
        (status(401), &["api_auth_failures"]),
        (status(403), &["api_auth_failures"]),
        (status(404), &[]),
        (
            Api {
                latency: Some(2500.0),
                ..Api::default()
            }
            .log(),
            &["api_latency_high"],
        ),
        (
            Api {
                status: 504,
                latency: Some(30_000.0),
                ..Api::default()
            }
            .log(),
            &["api_5xx_burst", "api_latency_high"],
        ),
    ];
    for (log, want) in cases {
        assert_eq!(names(&set, &log), want, "{log:?}");
    }
}

#[test]
fn check_file_summarises_the_rules() {
    let dir = TempDir::new("check");
    let path = dir.file("default.toml", DEFAULT_RULES);
    let out = check_file(&path).unwrap();
    assert!(out.starts_with("ok: 9 rules (9 enabled)\n"), "{out}");
    for name in [
        "jenkins_build_failure",
        "jenkins_build_recovered",
        "api_auth_failures",
    ] {
        assert!(out.contains(name), "{out}");
    }
    assert!(out.contains("threshold=5/60s"), "{out}");
    assert!(out.contains("action=restart approval=no"), "{out}");

    let bad = dir.file(
        "bad.toml",
        &DEFAULT_RULES.replace("\"500-599\"", "\"599-500\""),
    );
    let e = check_file(&bad).unwrap_err().to_string();
    assert!(
        e.contains("rule `api_5xx_burst`") && e.contains("reversed"),
        "{e}"
    );
    let e = check_file(dir.0.join("missing.toml")).unwrap_err();
    assert!(matches!(e, RulesError::Io { .. }), "{e}");
    assert!(e.to_string().contains("missing.toml"), "{e}");
}

fn lines_for(out: &str) -> (Vec<&str>, Vec<&str>) {
    let matched = out.lines().filter(|l| l.starts_with("MATCH ")).collect();
    let missed = out.lines().filter(|l| l.starts_with("no    ")).collect();
    (matched, missed)
}

#[test]
fn test_file_on_a_build_failure() {
    let dir = TempDir::new("fail");
    let rules = dir.file("default.toml", DEFAULT_RULES);
    let log = dir.file(
        "log.json",
        r#"{"timestamp":"2026-11-01T10:00:00Z","level":"ERROR","message":"[Pipeline] BUILD FAILED","job_name":"deploy-prod","build_number":123}"#,
    );
    let out = test_file(&rules, &log).unwrap();
    assert_eq!(out.lines().count(), 9, "{out}");
    let (matched, missed) = lines_for(&out);
    assert_eq!(
        matched,
        [
            "MATCH jenkins_build_failure severity=high fingerprint=jenkins_build_failure:deploy-prod \
             title=\"Build failed: deploy-prod #123\" action=restart approval=no target=deploy-prod"
        ],
        "{out}"
    );
    assert_eq!(missed.len(), 8);
    assert!(
        out.contains("no    jenkins_build_recovered: when.any: none matched"),
        "{out}"
    );
    assert!(
        out.contains("no    api_5xx_burst: source is jenkins, rule wants api"),
        "{out}"
    );
}

#[test]
fn test_file_on_a_success_envelope() {
    let dir = TempDir::new("success");
    let rules = dir.file("default.toml", DEFAULT_RULES);
    let log = dir.file(
        "log.json",
        r#"{"id":"0190b6e8-0000-7000-8000-000000000000","type":"log.jenkins","version":1,"occurred_at":"2026-11-01T10:00:00Z","producer":"x",
            "payload":{"timestamp":"2026-11-01T10:00:00Z","level":"info","message":"Finished: SUCCESS","job_name":"deploy-prod","build_number":124}}"#,
    );
    let out = test_file(&rules, &log).unwrap();
    let (matched, _) = lines_for(&out);
    assert_eq!(matched.len(), 1, "{out}");
    assert!(
        matched[0].starts_with("MATCH jenkins_build_recovered "),
        "{out}"
    );
    assert!(
        matched[0].ends_with(
            "resolves=jenkins_build_failure:deploy-prod,jenkins_build_timeout_or_aborted:deploy-prod,jenkins_out_of_resources:deploy-prod,jenkins_test_failures:deploy-prod"
        ),
        "{out}"
    );
}

#[test]
fn test_file_on_an_api_5xx() {
    let dir = TempDir::new("api");
    let rules = dir.file("default.toml", DEFAULT_RULES);
    let log = dir.file(
        "log.json",
        r#"{"timestamp":"2026-11-01T10:00:00Z","level":"error","http_method":"GET","http_status":503,"path":"/api/orders","latency_ms":120,"service":"orders","message":"upstream unavailable"}"#,
    );
    let out = test_file(&rules, &log).unwrap();
    let (matched, _) = lines_for(&out);
    assert_eq!(
        matched,
        [
            "MATCH api_5xx_burst severity=high fingerprint=api_5xx_burst:orders|/api/orders \
             title=\"5xx burst on orders /api/orders (last: 503)\" threshold=5/60s"
        ],
        "{out}"
    );
    assert!(
        out.contains(
            "no    api_latency_high: when.latency_ms_over: latency_ms 120 is not over 2000"
        ),
        "{out}"
    );

    let bad = dir.file(
        "bad.json",
        r#"{"timestamp":"2026-11-01T10:00:00Z","level":"error","http_status":"x"}"#,
    );
    let e = test_file(&rules, &bad).unwrap_err();
    assert!(matches!(e, RulesError::Log { .. }), "{e}");
    assert!(e.to_string().contains("not an API log"), "{e}");
}

#[test]
fn shared_rules_keep_the_old_set_when_a_reload_fails() {
    let dir = TempDir::new("reload");
    let shared = SharedRules::new(RuleSet::builtin());
    let bad = dir.file(
        "bad.toml",
        &DEFAULT_RULES.replace("group_by = [\"service\"]", "group_by = [\"host\"]"),
    );
    let e = shared.reload_from(&bad).unwrap_err().to_string();
    assert!(
        e.contains("rule `api_rate_limited`") && e.contains("unknown field `host`"),
        "{e}"
    );
    assert_eq!(shared.current().len(), 9);

    let one = dir.file(
        "one.toml",
        &format!("{HEAD}[rule.when]\nlevels = [\"error\"]\n"),
    );
    let snapshot = shared.current();
    shared.reload_from(&one).unwrap();
    assert_eq!(shared.current().len(), 1);
    assert_eq!(
        snapshot.len(),
        9,
        "a snapshot taken before the reload is unchanged"
    );
}

#[test]
fn load_or_builtin_falls_back_to_the_default_rules() {
    let set = RuleSet::load_or_builtin(None).unwrap();
    assert_eq!(set.len(), 9);
    assert!(
        RuleSet::load_or_builtin(Some(std::path::Path::new("/nonexistent/rules.toml"))).is_err()
    );
}
