//! The rule engine's conditions through its public API: levels, messages, statuses,
//! latency, globs, methods, combinators, sources and disabled rules.

use crate::common::*;
use domain::Level;
use rules::RuleSet;

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
