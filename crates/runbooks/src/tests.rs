use crate::*;

fn one(text: &str) -> Result<RunbookSet, RunbooksError> {
    RunbookSet::from_toml_str(text)
}

const HEAD: &str = "[[runbook]]\nname = \"rb\"\nversion = 1\n";

fn with_steps(steps: &str) -> String {
    format!("{HEAD}{steps}")
}

#[test]
fn the_shipped_runbooks_are_valid() {
    let set = RunbookSet::builtin();
    let rb = set.get("jenkins-build-failure").unwrap();
    assert_eq!(rb.steps[0].kind, Kind::Restart);
    assert_eq!(rb.steps.len(), 6);
}

#[test]
fn unknown_keys_are_errors_naming_the_key_and_its_path() {
    let err = one(&with_steps(
        "[[runbook.step]]\nname = \"a\"\nkind = \"wait\"\nparams = { duration = \"1s\" }\non_sucess = \"b\"\n",
    ))
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("on_sucess"), "{msg}");
    assert!(msg.contains("runbook[0].step[0]"), "{msg}");
    assert!(msg.contains("line 8"), "{msg}");

    let err = one("[[runbok]]\nname = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("runbok"), "{err}");
}

#[test]
fn unknown_params_name_the_step_and_the_key() {
    let err = one(&with_steps(
        "[[runbook.step]]\nname = \"r\"\nkind = \"restart\"\nparams = { requires_aproval = true }\n",
    ))
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("step `r`") && msg.contains("requires_aproval"),
        "{msg}"
    );
}

#[test]
fn params_are_checked_per_kind() {
    let cases = [
        (
            "kind = \"verify\"\ntimeout = \"1m\"\nparams = { condition = \"sunshine\" }",
            "unknown condition `sunshine`",
        ),
        (
            "kind = \"verify\"\nparams = { condition = \"next_build_success\" }",
            "needs a `timeout`",
        ),
        (
            "kind = \"verify\"\ntimeout = \"1m\"\nparams = { condition = \"no_new_occurrences\" }",
            "needs a window",
        ),
        (
            "kind = \"rollback\"\nparams = { to = \"yesterday\" }",
            "last_success",
        ),
        ("kind = \"rollback\"", "missing field `to`"),
        (
            "kind = \"wait\"\nparams = { duration = \"5 minutes\" }",
            "not a duration",
        ),
        ("kind = \"reboot\"", "unknown kind `reboot`"),
        ("kind = \"restart\"\ntimeout = \"0s\"", "above zero"),
        ("kind = \"approve\"", "an approve step needs a `timeout`"),
        (
            "kind = \"approve\"\ntimeout = \"1h\"\nparams = { approvals = 0 }",
            "params.approvals: between 1 and 5",
        ),
        (
            "kind = \"approve\"\ntimeout = \"1h\"\nparams = { approvers = 2 }",
            "approvers",
        ),
    ];
    for (body, want) in cases {
        let text = with_steps(&format!("[[runbook.step]]\nname = \"s\"\n{body}\n"));
        let err = one(&text).expect_err(body).to_string();
        assert!(err.contains(want), "{body}: {err}");
    }
}

#[test]
fn branch_targets_must_exist() {
    let err = one(&with_steps(
        "[[runbook.step]]\nname = \"a\"\nkind = \"restart\"\non_failure = \"nowhere\"\n",
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("`nowhere`, which is not a step"),
        "{err}"
    );
}

#[test]
fn unreachable_steps_are_errors() {
    let err = one(&with_steps(
        "[[runbook.step]]\nname = \"a\"\nkind = \"escalate\"\n\n[[runbook.step]]\nname = \"b\"\nkind = \"restart\"\n",
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("step `b`: no branch leads"),
        "{err}"
    );
}

#[test]
fn loops_without_a_wait_are_errors_and_with_one_are_allowed() {
    let spin = with_steps(
        "[[runbook.step]]\nname = \"a\"\nkind = \"restart\"\non_failure = \"b\"\n\n\
         [[runbook.step]]\nname = \"b\"\nkind = \"stop\"\non_success = \"a\"\non_failure = \"a\"\n",
    );
    let err = one(&spin).unwrap_err();
    assert!(err.to_string().contains("loop with no `wait`"), "{err}");
    let waits = with_steps(
        "[[runbook.step]]\nname = \"a\"\nkind = \"restart\"\non_failure = \"w\"\n\n\
         [[runbook.step]]\nname = \"w\"\nkind = \"wait\"\nparams = { duration = \"1m\" }\non_success = \"a\"\n",
    );
    one(&waits).unwrap();
}

#[test]
fn resolve_only_follows_a_passed_verify() {
    let err = one(&with_steps(
        "[[runbook.step]]\nname = \"a\"\nkind = \"restart\"\n\n[[runbook.step]]\nname = \"done\"\nkind = \"resolve\"\n",
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("only a passed verify step may lead to resolve"),
        "{err}"
    );
    let err = one(&with_steps(
        "[[runbook.step]]\nname = \"v\"\nkind = \"verify\"\ntimeout = \"1m\"\nparams = { condition = \"next_build_success\" }\non_failure = \"done\"\non_success = \"done\"\n\n[[runbook.step]]\nname = \"done\"\nkind = \"resolve\"\n",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("its failed branch"), "{err}");
    let err = one(&with_steps(
        "[[runbook.step]]\nname = \"done\"\nkind = \"resolve\"\n",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("cannot be `resolve`"), "{err}");
}

#[test]
fn terminal_steps_take_no_branches() {
    let err = one(&with_steps(
        "[[runbook.step]]\nname = \"e\"\nkind = \"escalate\"\non_success = \"e\"\n",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("takes no branches"), "{err}");
}

#[test]
fn duplicate_names_are_errors() {
    let err = one(&format!("{HEAD}[[runbook.step]]\nname = \"e\"\nkind = \"escalate\"\n\n{HEAD}[[runbook.step]]\nname = \"e\"\nkind = \"escalate\"\n")).unwrap_err();
    assert!(err.to_string().contains("a second runbook"), "{err}");
    let err = one(&with_steps(
        "[[runbook.step]]\nname = \"e\"\nkind = \"restart\"\n\n[[runbook.step]]\nname = \"e\"\nkind = \"escalate\"\n",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("same name"), "{err}");
}

#[test]
fn the_machine_follows_branches_and_defaults() {
    let set = RunbookSet::builtin();
    let rb = set.get("jenkins-build-failure").unwrap();
    let i = |n: &str| rb.index_of(n).unwrap();
    // restart: success → next in order, failure → rollback, timeout → (on_failure) rollback.
    assert_eq!(
        rb.next(0, Outcome::Succeeded),
        Next::Step(i("verify-restart"))
    );
    assert_eq!(rb.next(0, Outcome::Failed), Next::Step(i("rollback")));
    assert_eq!(rb.next(0, Outcome::TimedOut), Next::Step(i("rollback")));
    let v = i("verify-restart");
    assert_eq!(rb.next(v, Outcome::Succeeded), Next::Step(i("resolve")));
    assert_eq!(rb.next(v, Outcome::TimedOut), Next::Step(i("rollback")));
    let vr = i("verify-rollback");
    // No on_timeout: the failure branch.
    assert_eq!(rb.next(vr, Outcome::TimedOut), Next::Step(i("escalate")));
    assert_eq!(
        rb.next(i("resolve"), Outcome::Succeeded),
        Next::End(End::Resolved)
    );
    assert_eq!(
        rb.next(i("resolve"), Outcome::Failed),
        Next::End(End::Unverified)
    );
    assert_eq!(
        rb.next(i("escalate"), Outcome::Failed),
        Next::End(End::Escalated)
    );
}

#[test]
fn a_step_failing_without_a_branch_ends_unverified() {
    let set = one(&with_steps(
        "[[runbook.step]]\nname = \"a\"\nkind = \"restart\"\n",
    ))
    .unwrap();
    let rb = set.get("rb").unwrap();
    assert_eq!(rb.next(0, Outcome::Failed), Next::End(End::Unverified));
    assert_eq!(rb.next(0, Outcome::Succeeded), Next::End(End::Unverified));
}

fn path(script: &str) -> (Vec<String>, End) {
    let set = RunbookSet::builtin();
    let sim = simulate(
        set.get("jenkins-build-failure").unwrap(),
        parse_script(script).unwrap(),
    );
    (sim.steps.iter().map(|s| s.step.clone()).collect(), sim.end)
}

#[test]
fn simulation_restart_verified() {
    let (steps, end) = path("build=SUCCESS");
    assert_eq!(steps, ["restart", "verify-restart", "resolve"]);
    assert_eq!(end, End::Resolved);
}

#[test]
fn simulation_restart_fails_then_rollback_verified() {
    let (steps, end) = path("build=FAILURE,build=SUCCESS");
    assert_eq!(
        steps,
        [
            "restart",
            "verify-restart",
            "rollback",
            "verify-rollback",
            "resolve"
        ]
    );
    assert_eq!(end, End::Resolved);
}

#[test]
fn simulation_no_build_escalates() {
    let (steps, end) = path("build=FAILURE");
    assert_eq!(steps.last().unwrap(), "escalate");
    assert_eq!(end, End::Escalated);
    let (steps, _) = path("action=ok,action=rejected");
    assert_eq!(steps, ["restart", "verify-restart", "rollback", "escalate"]);
}

#[test]
fn scripts_reject_unknown_keys_and_values() {
    assert!(
        parse_script("bild=SUCCESS")
            .unwrap_err()
            .to_string()
            .contains("bild")
    );
    assert!(
        parse_script("build=GREEN")
            .unwrap_err()
            .to_string()
            .contains("SUCCESS")
    );
    assert!(parse_script("build").is_err());
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90").unwrap(), 90);
    assert_eq!(parse_duration("15m").unwrap(), 900);
    assert_eq!(parse_duration("1h30m").unwrap(), 5400);
    assert!(parse_duration("15").is_ok());
    assert!(parse_duration("m").is_err());
    assert!(parse_duration("5x").is_err());
    assert!(parse_duration("1h5").is_err());
}

#[test]
fn a_stored_definition_round_trips() {
    let set = RunbookSet::builtin();
    let rb = set.get("jenkins-build-failure").unwrap();
    let back = Runbook::from_definition(&rb.to_definition()).unwrap();
    assert_eq!(&back, rb);
    assert_eq!(back.next(1, Outcome::Failed), rb.next(1, Outcome::Failed));
}

const GATED: &str = "[[runbook.step]]\nname = \"gate\"\nkind = \"approve\"\ntimeout = \"1h\"\nparams = { approvals = 2 }\non_timeout = \"page\"\n\
[[runbook.step]]\nname = \"restart\"\nkind = \"restart\"\non_failure = \"page\"\n\
[[runbook.step]]\nname = \"check\"\nkind = \"verify\"\ntimeout = \"5m\"\nparams = { condition = \"next_build_success\" }\non_failure = \"page\"\n\
[[runbook.step]]\nname = \"done\"\nkind = \"resolve\"\n\
[[runbook.step]]\nname = \"page\"\nkind = \"escalate\"\n";

#[test]
fn an_approve_step_gates_the_flow_and_times_out_to_its_branch() {
    let set = one(&with_steps(GATED)).unwrap();
    let rb = set.get("rb").unwrap();
    assert_eq!(rb.steps[0].params, StepParams::Approve { approvals: 2 });
    assert_eq!(rb.steps[0].timeout_secs, Some(3600));
    assert_eq!(rb.next(0, Outcome::Succeeded), Next::Step(1));
    assert_eq!(rb.next(0, Outcome::TimedOut), Next::Step(4));
    let names = |s: Simulation| s.steps.into_iter().map(|s| s.step).collect::<Vec<_>>();
    let ok = simulate(rb, parse_script("build=SUCCESS").unwrap());
    assert_eq!(names(ok.clone()), ["gate", "restart", "check", "done"]);
    assert_eq!(ok.end, End::Resolved);
    let late = simulate(rb, parse_script("approve=timeout").unwrap());
    assert_eq!(names(late.clone()), ["gate", "page"]);
    assert_eq!(late.end, End::Escalated);
    // An approve step waits, so a loop through it is allowed.
    assert!(Kind::Approve.waits());
    // A stored definition keeps the gate.
    let back = Runbook::from_definition(&rb.to_definition()).unwrap();
    assert_eq!(&back, rb);
}
