//! The rule engine through its public API: file format, validation errors, evaluation,
//! explanations, the CLI helpers and the shipped default rules.

use std::path::PathBuf;

use domain::{ActionType, ApiLog, JenkinsLog, Level, LogRecord, Severity, Source};
use orchestrator::rules::{
    DEFAULT_RULES, Effect, RuleMatch, RuleSet, RulesError, SharedRules, Threshold, check_file,
    test_file,
};

// ------------------------------------------------------------------ helpers

fn jenkins(level: Level, message: &str, job: Option<&str>) -> LogRecord {
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
struct Api {
    status: u16,
    latency: Option<f64>,
    method: Option<&'static str>,
    path: Option<&'static str>,
    service: Option<&'static str>,
    level: Level,
    message: &'static str,
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
    fn log(&self) -> LogRecord {
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

fn status(s: u16) -> LogRecord {
    Api {
        status: s,
        ..Api::default()
    }
    .log()
}

/// A one-rule file with the given source and `when` body (TOML lines).
fn rule(source: &str, when: &str) -> RuleSet {
    let text = format!(
        "[[rule]]\nname = \"r\"\nsource = \"{source}\"\nseverity = \"high\"\ntitle = \"t\"\n[rule.when]\n{when}\n"
    );
    RuleSet::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn matches(set: &RuleSet, log: &LogRecord) -> bool {
    !set.evaluate(log).is_empty()
}

fn names(set: &RuleSet, log: &LogRecord) -> Vec<String> {
    set.evaluate(log).into_iter().map(|m| m.rule).collect()
}

fn err(text: &str) -> String {
    match RuleSet::from_toml_str(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn assert_err(text: &str, parts: &[&str]) {
    let e = err(text);
    for p in parts {
        assert!(e.contains(p), "error `{e}` lacks `{p}`");
    }
}

const HEAD: &str =
    "[[rule]]\nname = \"bad_rule\"\nsource = \"jenkins\"\nseverity = \"high\"\ntitle = \"t\"\n";
const API_HEAD: &str =
    "[[rule]]\nname = \"bad_rule\"\nsource = \"api\"\nseverity = \"high\"\ntitle = \"t\"\n";

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "rules-engine-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
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

// ------------------------------------------------------------------ conditions

#[test]
fn levels_match_the_set() {
    let set = rule("jenkins", "levels = [\"error\", \"FATAL\"]");
    assert!(matches(&set, &jenkins(Level::Error, "x", None)));
    assert!(matches(&set, &jenkins(Level::Fatal, "x", None)));
    assert!(!matches(&set, &jenkins(Level::Warn, "x", None)));
    let one = rule("jenkins", "levels = \"warn\"");
    assert!(matches(&one, &jenkins(Level::Warn, "x", None)));
    assert!(!matches(&one, &jenkins(Level::Info, "x", None)));
}

#[test]
fn message_contains_is_case_sensitive_unless_asked() {
    let cs = rule("jenkins", "message_contains = \"BUILD FAILED\"");
    assert!(matches(
        &cs,
        &jenkins(Level::Info, "[x] BUILD FAILED here", None)
    ));
    assert!(!matches(&cs, &jenkins(Level::Info, "build failed", None)));
    let ci = rule(
        "jenkins",
        "message_contains = \"Build Failed\"\ncase_insensitive = true",
    );
    assert!(matches(&ci, &jenkins(Level::Info, "BUILD FAILED", None)));
    assert!(matches(&ci, &jenkins(Level::Info, "build failed", None)));
    assert!(!matches(&ci, &jenkins(Level::Info, "build ok", None)));
    // Non-ASCII text is folded too.
    let uni = rule(
        "jenkins",
        "message_contains = \"ÉCHEC\"\ncase_insensitive = true",
    );
    assert!(matches(&uni, &jenkins(Level::Info, "build échec", None)));
}

#[test]
fn message_regex_with_optional_case_insensitivity() {
    let re = rule(
        "jenkins",
        r#"message_regex = 'Tests run: \d+, Failures: [1-9]'"#,
    );
    assert!(matches(
        &re,
        &jenkins(Level::Info, "Tests run: 12, Failures: 3, Errors: 0", None)
    ));
    assert!(!matches(
        &re,
        &jenkins(Level::Info, "Tests run: 12, Failures: 0, Errors: 0", None)
    ));
    assert!(!matches(
        &re,
        &jenkins(Level::Info, "tests run: 12, failures: 3", None)
    ));
    let ci = rule(
        "jenkins",
        "message_regex = '^tests run: \\d+, failures: [1-9]'\ncase_insensitive = true",
    );
    assert!(matches(
        &ci,
        &jenkins(Level::Info, "TESTS RUN: 1, FAILURES: 1", None)
    ));
    assert!(!matches(
        &ci,
        &jenkins(Level::Info, "x TESTS RUN: 1, FAILURES: 1", None)
    ));
}

#[test]
fn status_ranges_lists_and_classes() {
    let range = rule("api", "status = \"500-599\"");
    assert!(matches(&range, &status(500)));
    assert!(matches(&range, &status(599)));
    assert!(!matches(&range, &status(499)));
    let list = rule("api", "status = [\"429\", \"500-504\"]");
    for s in [429, 500, 504] {
        assert!(matches(&list, &status(s)), "{s}");
    }
    for s in [428, 430, 505, 200] {
        assert!(!matches(&list, &status(s)), "{s}");
    }
    let ints = rule("api", "status = [401, 403]");
    assert!(matches(&ints, &status(403)) && !matches(&ints, &status(402)));
    let class = rule("api", "status = \"4xx\"");
    assert!(matches(&class, &status(404)) && !matches(&class, &status(500)));
}

#[test]
fn latency_must_be_strictly_over_and_present() {
    let set = rule("api", "latency_ms_over = 2000");
    let with = |ms: Option<f64>| {
        Api {
            latency: ms,
            ..Api::default()
        }
        .log()
    };
    assert!(matches(&set, &with(Some(2000.5))));
    assert!(!matches(&set, &with(Some(2000.0))));
    assert!(!matches(&set, &with(None)));
}

#[test]
fn globs_on_job_path_and_service() {
    let job = rule("jenkins", "job = \"deploy-*\"");
    assert!(matches(
        &job,
        &jenkins(Level::Info, "x", Some("deploy-prod"))
    ));
    assert!(!matches(
        &job,
        &jenkins(Level::Info, "x", Some("build-prod"))
    ));
    assert!(!matches(&job, &jenkins(Level::Info, "x", None)));
    let folder = rule("jenkins", "job = \"team/*\"");
    assert!(matches(
        &folder,
        &jenkins(Level::Info, "x", Some("team/app"))
    ));
    assert!(!matches(
        &folder,
        &jenkins(Level::Info, "x", Some("team/app/main"))
    ));
    assert!(!matches(
        &folder,
        &jenkins(Level::Info, "x", Some("other/app"))
    ));
    let deep = rule("jenkins", "job = \"team/**\"");
    assert!(matches(
        &deep,
        &jenkins(Level::Info, "x", Some("team/app/main"))
    ));

    let path = rule("api", "path = \"/api/*\"");
    let at = |p: &'static str| {
        Api {
            path: Some(p),
            ..Api::default()
        }
        .log()
    };
    assert!(matches(&path, &at("/api/orders")));
    assert!(!matches(&path, &at("/api/orders/1")));
    assert!(!matches(&path, &at("/health")));

    let service = rule("api", "service = \"pay*\"");
    let svc = |s: Option<&'static str>| {
        Api {
            service: s,
            ..Api::default()
        }
        .log()
    };
    assert!(matches(&service, &svc(Some("payments"))));
    assert!(!matches(&service, &svc(Some("orders"))));
    assert!(!matches(&service, &svc(None)));
}

#[test]
fn methods_ignore_case() {
    let set = rule("api", "method = [\"post\", \"PUT\"]");
    let m = |m: Option<&'static str>| {
        Api {
            method: m,
            ..Api::default()
        }
        .log()
    };
    assert!(matches(&set, &m(Some("POST"))));
    assert!(matches(&set, &m(Some("put"))));
    assert!(!matches(&set, &m(Some("GET"))));
    assert!(!matches(&set, &m(None)));
    let one = rule("api", "method = \"delete\"");
    assert!(matches(&one, &m(Some("DELETE"))));
}

#[test]
fn several_keys_in_a_table_must_all_hold() {
    let set = rule(
        "api",
        "status = \"5xx\"\nmethod = \"POST\"\npath = \"/api/*\"",
    );
    let base = Api {
        status: 503,
        method: Some("POST"),
        ..Api::default()
    };
    assert!(matches(&set, &base.log()));
    assert!(!matches(
        &set,
        &Api {
            method: Some("GET"),
            ..base.clone()
        }
        .log()
    ));
    assert!(!matches(
        &set,
        &Api {
            status: 404,
            ..base.clone()
        }
        .log()
    ));
    assert!(!matches(
        &set,
        &Api {
            path: Some("/x"),
            ..base
        }
        .log()
    ));
}

#[test]
fn all_any_not_nest() {
    let set = rule(
        "jenkins",
        r#"all = [
  { levels = ["error"] },
  { any = [ { message_contains = "a" }, { all = [ { message_contains = "b" }, { not = { message_contains = "c" } } ] } ] },
]
not = { job = "sandbox-*" }"#,
    );
    let l = |msg: &str, job: &str| jenkins(Level::Error, msg, Some(job));
    assert!(matches(&set, &l("a", "prod")));
    assert!(matches(&set, &l("b", "prod")));
    assert!(!matches(&set, &l("bc", "prod")));
    assert!(matches(&set, &l("abc", "prod")));
    assert!(!matches(&set, &l("a", "sandbox-1")));
    assert!(!matches(&set, &l("x", "prod")));
    assert!(!matches(&set, &jenkins(Level::Warn, "a", Some("prod"))));
}

#[test]
fn rules_only_see_logs_of_their_source() {
    let set = rule("jenkins", "levels = [\"info\", \"error\"]");
    assert!(matches(&set, &jenkins(Level::Info, "x", None)));
    assert!(!matches(&set, &status(200)));
}

#[test]
fn disabled_rules_never_match_but_are_validated() {
    let text = format!("{HEAD}enabled = false\n[rule.when]\nlevels = [\"error\"]\n");
    let set = RuleSet::from_toml_str(&text).unwrap();
    assert!(!matches(&set, &jenkins(Level::Error, "x", None)));
    assert_eq!((set.len(), set.enabled_count()), (1, 0));
    assert!(!set.rules()[0].is_enabled());
    let bad = format!("{HEAD}enabled = false\n[rule.when]\nmessage_regex = \"(\"\n");
    assert_err(&bad, &["rule `bad_rule`", "invalid regex"]);
}

// ------------------------------------------------------------------ matches

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
    assert_eq!(
        m.title.chars().count(),
        orchestrator::rules::MAX_RENDERED_CHARS
    );
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

// ------------------------------------------------------------------ validation

#[test]
fn toml_syntax_errors_give_the_line() {
    let e = err("[[rule]]\nname = \"x\"\nsource = \"jenkins\n");
    assert!(e.contains("line 3"), "{e}");
    let e = RuleSet::from_toml_str("[[rule]]\nname = = 1\n").unwrap_err();
    assert!(matches!(e, RulesError::Parse { line: 2, .. }), "{e}");
}

#[test]
fn unknown_keys_are_errors_naming_the_rule_and_line() {
    let text = format!("{HEAD}[rule.when]\nlevels = [\"error\"]\nmesage_contains = \"x\"\n");
    assert_err(
        &text,
        &[
            "rule `bad_rule`",
            "line 8",
            "unknown field `mesage_contains`",
        ],
    );
    assert_err(
        &format!("{HEAD}sevrity = \"high\"\n[rule.when]\nlevels = [\"error\"]\n"),
        &["rule `bad_rule`", "sevrity"],
    );
    assert_err("version = 2\n", &["unknown field `version`"]);
    assert_err(
        &format!(
            "{HEAD}[rule.when]\nlevels = [\"error\"]\n[rule.threshold]\ncount = 1\nwindow = 5\n"
        ),
        &["rule `bad_rule`", "unknown field `window`"],
    );
}

#[test]
fn duplicate_names_are_rejected() {
    let one = format!("{HEAD}[rule.when]\nlevels = [\"error\"]\n");
    assert_err(
        &format!("{one}{one}"),
        &["rule `bad_rule`", "duplicate name", "rule #1"],
    );
}

#[test]
fn names_are_required_and_restricted() {
    let nameless = "[[rule]]\nsource = \"jenkins\"\nseverity = \"low\"\ntitle = \"t\"\n[rule.when]\nlevels = [\"error\"]\n";
    let one = format!("{HEAD}[rule.when]\nlevels = [\"error\"]\n");
    assert_err(&format!("{one}{nameless}"), &["rule #2", "missing `name`"]);
    assert_err(
        &one.replace("bad_rule", "bad:rule"),
        &["rule `bad:rule`", "must be"],
    );
}

#[test]
fn invalid_regexes_carry_the_regex_message() {
    assert_err(
        &format!(
            "{HEAD}[rule.when]\nany = [{{ levels = [\"error\"] }}, {{ message_regex = \"(unclosed\" }}]\n"
        ),
        &[
            "rule `bad_rule`",
            "when.any[1].message_regex: invalid regex",
            "unclosed group",
        ],
    );
}

#[test]
fn invalid_globs_are_rejected() {
    assert_err(
        &format!("{HEAD}[rule.when]\njob = \"deploy-[\"\n"),
        &["rule `bad_rule`", "when.job: invalid glob", "deploy-["],
    );
}

#[test]
fn unknown_enum_values_are_rejected() {
    let ok = format!("{HEAD}[rule.when]\nlevels = [\"error\"]\n");
    assert_err(
        &ok.replace("\"high\"", "\"urgent\""),
        &["rule `bad_rule`", "unknown severity `urgent`"],
    );
    assert_err(
        &ok.replace("\"jenkins\"", "\"gitlab\""),
        &["rule `bad_rule`", "unknown source `gitlab`"],
    );
    assert_err(
        &ok.replace("\"error\"", "\"loud\""),
        &["rule `bad_rule`", "when.levels", "unknown level `loud`"],
    );
    assert_err(
        &format!("{ok}[rule.action]\ntype = \"reboot\"\n"),
        &["rule `bad_rule`", "unknown type `reboot`"],
    );
    assert_err(
        &format!("{ok}[rule.action]\nrequires_approval = true\n"),
        &["rule `bad_rule`", "missing `type`"],
    );
}

#[test]
fn missing_required_keys_are_rejected() {
    let ok = format!("{HEAD}[rule.when]\nlevels = [\"error\"]\n");
    assert_err(
        &ok.replace("severity = \"high\"\n", ""),
        &["rule `bad_rule`", "missing `severity`"],
    );
    assert_err(
        &ok.replace("title = \"t\"\n", ""),
        &["rule `bad_rule`", "missing `title`"],
    );
    assert_err(
        &ok.replace("source = \"jenkins\"\n", ""),
        &["rule `bad_rule`", "missing `source`"],
    );
    assert_err(HEAD, &["rule `bad_rule`", "missing `when`"]);
    assert_err(
        &format!("{HEAD}[rule.when]\n"),
        &["rule `bad_rule`", "when: no condition"],
    );
}

#[test]
fn status_ranges_must_be_valid() {
    for (status, reason) in [
        ("\"600\"", "outside 100..=599"),
        ("\"99-200\"", "outside 100..=599"),
        ("[429, 700]", "status 700 is outside 100..=599"),
        ("\"599-500\"", "reversed"),
        ("\"five\"", "not a status"),
        ("[]", "empty list"),
    ] {
        assert_err(
            &format!("{API_HEAD}[rule.when]\nstatus = {status}\n"),
            &["rule `bad_rule`", "when.status", reason],
        );
    }
}

#[test]
fn conditions_must_fit_the_source() {
    for leaf in [
        "status = 500",
        "latency_ms_over = 1",
        "path = \"/x\"",
        "service = \"s\"",
        "method = \"GET\"",
    ] {
        let key = leaf.split(' ').next().unwrap();
        assert_err(
            &format!("{HEAD}[rule.when]\n{leaf}\n"),
            &[
                "rule `bad_rule`",
                &format!("when.{key} applies to api logs only"),
                "source is jenkins",
            ],
        );
    }
    assert_err(
        &format!("{API_HEAD}[rule.when]\nany = [{{ job = \"x\" }}]\n"),
        &[
            "rule `bad_rule`",
            "when.any[0].job applies to jenkins logs only",
            "source is api",
        ],
    );
    assert_err(
        &format!("{API_HEAD}group_by = [\"job_name\"]\n[rule.when]\nstatus = 500\n"),
        &[
            "rule `bad_rule`",
            "group_by: `job_name` exists only on jenkins logs",
        ],
    );
    assert_err(
        &format!("{HEAD}group_by = [\"service\"]\n[rule.when]\nlevels = [\"error\"]\n"),
        &[
            "rule `bad_rule`",
            "group_by: `service` exists only on api logs",
        ],
    );
    assert_err(
        &format!("{HEAD}group_by = [\"host\"]\n[rule.when]\nlevels = [\"error\"]\n"),
        &["rule `bad_rule`", "group_by: unknown field `host`"],
    );
}

#[test]
fn empty_combinators_are_rejected() {
    assert_err(
        &format!("{HEAD}[rule.when]\nany = []\n"),
        &["rule `bad_rule`", "when.any: empty list"],
    );
    assert_err(
        &format!("{HEAD}[rule.when]\nall = [{{ any = [] }}]\n"),
        &["rule `bad_rule`", "when.all[0].any: empty list"],
    );
    assert_err(
        &format!("{HEAD}[rule.when]\nnot = {{}}\n"),
        &["rule `bad_rule`", "when.not: no condition"],
    );
}

#[test]
fn template_placeholders_are_checked() {
    let ok = format!("{HEAD}[rule.when]\nlevels = [\"error\"]\n");
    assert_err(
        &ok.replace("title = \"t\"", "title = \"Failed {job} #{build_number}\""),
        &["rule `bad_rule`", "title: unknown placeholder {job}"],
    );
    assert_err(
        &ok.replace("title = \"t\"", "title = \"{http_status}\""),
        &["rule `bad_rule`", "{http_status} exists only on api logs"],
    );
    assert_err(
        &ok.replace("title = \"t\"", "title = \"{job_name\""),
        &["rule `bad_rule`", "unclosed"],
    );
    assert_err(
        &format!("{ok}[rule.action]\ntype = \"stop\"\njob = \"{{nope}}\"\n"),
        &["rule `bad_rule`", "action.job: unknown placeholder {nope}"],
    );
}

#[test]
fn thresholds_must_be_positive() {
    let ok = format!("{HEAD}[rule.when]\nlevels = [\"error\"]\n");
    for (t, reason) in [
        (
            "count = 0\nwindow_secs = 60",
            "threshold.count must be between 1",
        ),
        (
            "count = 5\nwindow_secs = 0",
            "threshold.window_secs must be between 1",
        ),
        ("count = -1\nwindow_secs = 60", "threshold.count"),
        ("count = 5", "threshold: missing `window_secs`"),
    ] {
        assert_err(
            &format!("{ok}[rule.threshold]\n{t}\n"),
            &["rule `bad_rule`", reason],
        );
    }
    let set = RuleSet::from_toml_str(&format!(
        "{ok}[rule.threshold]\ncount = 1\nwindow_secs = 1\n"
    ))
    .unwrap();
    assert_eq!(
        set.rules()[0].threshold().unwrap().window(),
        std::time::Duration::from_secs(1)
    );
}

#[test]
fn recovery_rules_are_checked() {
    let target = "[[rule]]\nname = \"fail\"\nsource = \"jenkins\"\nseverity = \"high\"\ntitle = \"t\"\ngroup_by = [\"job_name\"]\n[rule.when]\nlevels = [\"error\"]\n";
    let recovery = |extra: &str| {
        format!(
            "{target}[[rule]]\nname = \"ok\"\nsource = \"jenkins\"\ngroup_by = [\"job_name\"]\n{extra}\n[rule.when]\nmessage_contains = \"SUCCESS\"\n"
        )
    };
    assert!(RuleSet::from_toml_str(&recovery("resolves = [\"fail\"]")).is_ok());
    assert_err(
        &recovery("resolves = [\"nope\"]"),
        &["rule `ok`", "resolves unknown rule `nope`"],
    );
    assert_err(
        &recovery("resolves = [\"ok\"]"),
        &["rule `ok`", "resolves itself"],
    );
    assert_err(
        &recovery("resolves = []"),
        &["rule `ok`", "`resolves` is empty"],
    );
    assert_err(
        &format!(
            "{}[rule.action]\ntype = \"restart\"\n",
            recovery("resolves = [\"fail\"]")
        ),
        &["rule `ok`", "recovery rule", "cannot have an action"],
    );
    assert_err(
        &format!(
            "{}[rule.threshold]\ncount = 2\nwindow_secs = 5\n",
            recovery("resolves = [\"fail\"]")
        ),
        &["rule `ok`", "recovery rule", "cannot have a threshold"],
    );
    let regrouped = recovery("resolves = [\"fail\"]").replace(
        "name = \"ok\"\nsource = \"jenkins\"\ngroup_by = [\"job_name\"]",
        "name = \"ok\"\nsource = \"jenkins\"",
    );
    assert_err(
        &regrouped,
        &["rule `ok`", "resolves `fail`, which groups by [job_name]"],
    );
    let chained = format!(
        "{}[[rule]]\nname = \"ok2\"\nsource = \"jenkins\"\ngroup_by = [\"job_name\"]\nresolves = [\"ok\"]\n[rule.when]\nlevels = [\"info\"]\n",
        recovery("resolves = [\"fail\"]")
    );
    assert_err(&chained, &["rule `ok2`", "itself a recovery rule"]);
}

#[test]
fn runbook_urls_must_be_http() {
    let ok = format!("{HEAD}[rule.when]\nlevels = [\"error\"]\n");
    assert_err(
        &ok.replace(
            "title = \"t\"",
            "title = \"t\"\nrunbook_url = \"wiki/page\"",
        ),
        &["rule `bad_rule`", "runbook_url"],
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

// ------------------------------------------------------------------ default rules and CLI

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
            "resolves=jenkins_build_failure:deploy-prod,jenkins_build_timeout_or_aborted:deploy-prod,jenkins_test_failures:deploy-prod"
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
