//! The rule file format's validation errors, each naming the rule and what is wrong.

use crate::common::*;
use rules::{RuleSet, RulesError};

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
