//! What a runbook must hold beyond its syntax: every step reachable, no loop that could
//! spin without waiting, terminal steps without branches, and an incident resolved only
//! right after a passed verification.

use crate::error::RunbooksError;
use crate::model::{Kind, Outcome, Runbook};

/// Runs may not take more transitions than this; a loop through a wait or a verify step is
/// allowed but bounded.
pub const MAX_TRANSITIONS: u32 = 50;

pub(crate) fn validate(rb: &Runbook) -> Result<(), RunbooksError> {
    let invalid = |step: Option<&str>, message: String| RunbooksError::Invalid {
        runbook: rb.name.clone(),
        step: step.map(str::to_string),
        message,
    };
    for s in &rb.steps {
        if s.kind.is_terminal()
            && (s.on_success.is_some() || s.on_failure.is_some() || s.on_timeout.is_some())
        {
            return Err(invalid(
                Some(&s.name),
                format!(
                    "a `{}` step ends the run and takes no branches",
                    s.kind.as_str()
                ),
            ));
        }
        if matches!(s.kind, Kind::Verify | Kind::Approve) && s.timeout_secs.is_none() {
            return Err(invalid(
                Some(&s.name),
                format!(
                    "{} step needs a `timeout` (its deadline)",
                    if s.kind == Kind::Approve {
                        "an approve"
                    } else {
                        "a verify"
                    }
                ),
            ));
        }
        if matches!(s.kind, Kind::Wait | Kind::Resolve | Kind::Escalate) && s.timeout_secs.is_some()
        {
            return Err(invalid(
                Some(&s.name),
                format!("a `{}` step takes no `timeout`", s.kind.as_str()),
            ));
        }
    }
    if rb.steps[0].kind == Kind::Resolve {
        return Err(invalid(
            Some(&rb.steps[0].name),
            "the incident resolves only after a verify step passed; the first step cannot be `resolve`".into(),
        ));
    }
    // Reachability from the first step.
    let n = rb.steps.len();
    let mut seen = vec![false; n];
    let mut stack = vec![0];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(rb.edges(i).into_iter().map(|(_, j)| j));
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(invalid(
            Some(&rb.steps[i].name),
            "no branch leads to this step (unreachable)".into(),
        ));
    }
    // Resolve only on a verify's success.
    for i in 0..n {
        for (o, j) in rb.edges(i) {
            let into_resolve = rb.steps[j].kind == Kind::Resolve;
            let from_passed_verify = rb.steps[i].kind == Kind::Verify && o == Outcome::Succeeded;
            if into_resolve && !from_passed_verify {
                return Err(invalid(
                    Some(&rb.steps[i].name),
                    format!(
                        "its {} branch leads to `{}` (resolve); only a passed verify step may lead to resolve",
                        o.as_str(),
                        rb.steps[j].name
                    ),
                ));
            }
        }
    }
    // Loops must pass through a step that waits.
    if let Some(i) = spinning_cycle(rb) {
        return Err(invalid(
            Some(&rb.steps[i].name),
            "this step is on a loop with no `wait` or `verify` step: the run could spin".into(),
        ));
    }
    Ok(())
}

/// A step on a cycle made only of steps that do not wait, if there is one.
fn spinning_cycle(rb: &Runbook) -> Option<usize> {
    let n = rb.steps.len();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; n];
    fn dfs(rb: &Runbook, i: usize, state: &mut [u8]) -> Option<usize> {
        state[i] = 1;
        for (_, j) in rb.edges(i) {
            if rb.steps[j].kind.waits() {
                continue;
            }
            match state[j] {
                1 => return Some(j),
                0 => {
                    if let Some(c) = dfs(rb, j, state) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        state[i] = 2;
        None
    }
    (0..n).filter(|&i| !rb.steps[i].kind.waits()).find_map(|i| {
        if state[i] == 0 {
            dfs(rb, i, &mut state)
        } else {
            None
        }
    })
}
