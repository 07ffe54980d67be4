//! The template's narrative sections — what the LLM writes when it answers: summary,
//! impact, root-cause hypotheses, what fixed it, follow-ups. Each is built from the facts
//! only; every untrusted text is quoted.

use std::fmt::Write as _;

use super::classify::classify;
use super::quote::{code, duration, short, text, when};
use crate::facts::{CommitSource, Facts};

fn subject(f: &Facts) -> String {
    let i = &f.incident;
    match (&i.job_name, i.build_number, &i.service, &i.path) {
        (Some(j), Some(b), _, _) => format!("job {} build #{b}", code(j, 200)),
        (Some(j), None, _, _) => format!("job {}", code(j, 200)),
        (_, _, Some(s), Some(p)) => format!("service {} on {}", code(s, 100), code(p, 200)),
        (_, _, Some(s), None) => format!("service {}", code(s, 100)),
        _ => format!("rule {}", code(&i.rule, 100)),
    }
}

fn outcome(f: &Facts) -> String {
    let i = &f.incident;
    match (i.resolved_at, &i.resolution_method, i.mttr_seconds) {
        (Some(at), Some(m), Some(mttr)) => format!(
            "resolved {} ({}, by {}) after {}",
            when(at),
            m.replace('_', " "),
            code(i.resolved_by.as_deref().unwrap_or("unknown"), 100),
            duration(mttr)
        ),
        _ => format!("still {} when this report was written", i.status),
    }
}

pub fn summary(f: &Facts) -> String {
    let i = &f.incident;
    let mut s = format!(
        "{} incident #{} “{}” (rule {}) on {}: detected {}, {}. {} occurrence(s).",
        capitalise(&i.severity),
        i.id,
        text(&i.title, 200),
        code(&i.rule, 100),
        subject(f),
        when(i.detected_at),
        outcome(f),
        i.occurrences
    );
    if let Some(d) = f.logs.decisive.first() {
        let _ = write!(
            s,
            " The decisive error ({}×): {}.",
            d.count,
            code(&d.example, 200)
        );
    } else if let Some(top) = f.logs.top.first() {
        let _ = write!(
            s,
            " The most frequent error ({}×): {}.",
            top.count,
            code(&top.example, 200)
        );
    }
    if !f.similar.is_empty() {
        let _ = write!(s, " Seen {} time(s) before.", f.similar.len());
    }
    s
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub(crate) fn impact(f: &Facts) -> String {
    let i = &f.incident;
    let l = &f.logs;
    let mut out = format!("- Severity: **{}**.\n", i.severity);
    let _ = writeln!(
        out,
        "- {} matching occurrence(s), the last one logged at {}.",
        i.occurrences,
        when(i.last_seen_at)
    );
    if let (Some(first), Some(last)) = (l.first_seen, l.last_seen) {
        let _ = writeln!(out, "- Logs read from {} to {}.", when(first), when(last));
    }
    let errors = l.by_level.get("error").copied().unwrap_or(0)
        + l.by_level.get("fatal").copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "- {} log line(s) read, {} error(s){}.",
        l.lines,
        errors,
        if l.truncated {
            " (the first ones only: more exist)"
        } else {
            ""
        }
    );
    if !l.builds.is_empty() {
        let builds: Vec<String> = l.builds.iter().map(|b| format!("#{b}")).collect();
        let _ = writeln!(out, "- Builds affected: {}.", builds.join(", "));
    }
    match i.mttr_seconds {
        Some(m) => {
            let _ = writeln!(out, "- Time to resolution (MTTR): {}.", duration(m));
        }
        None => {
            // As of the facts, which the footer dates: the writer reads no clock.
            let open = (f.assembled_at - i.detected_at).num_seconds().max(0) as f64;
            let _ = writeln!(out, "- Open for {} so far.", duration(open));
        }
    }
    out.trim_end().to_string()
}

/// Hypotheses from what the facts show, each with its evidence.
pub(crate) fn hypotheses(f: &Facts) -> String {
    let mut out = Vec::new();
    let decisive = f.logs.decisive.first();
    if let Some(top) = decisive.or(f.logs.top.first()) {
        let hint = classify(&top.pattern)
            .map(|c| format!(" It looks like {c}."))
            .unwrap_or_default();
        let which = if decisive.is_some() {
            "The first error that says why"
        } else {
            "The most frequent error"
        };
        out.push(format!(
            "1. **{which} is the proximate cause.**{hint} Evidence: {} line(s) of the shape {} between {} and {}.",
            top.count,
            code(&top.pattern, 200),
            when(top.first_seen),
            when(top.last_seen)
        ));
    }
    if matches!(f.commits.source, CommitSource::Jenkins | CommitSource::Logs)
        && !f.commits.items.is_empty()
    {
        let ids: Vec<String> = f
            .commits
            .items
            .iter()
            .take(5)
            .map(|c| code(&short(&c.id), 12))
            .collect();
        out.push(format!(
            "{}. **A change in the build introduced it.** Evidence: the build carried {} commit(s): {}.",
            out.len() + 1,
            f.commits.items.len(),
            ids.join(", ")
        ));
    }
    let same_text = f.similar.iter().filter(|s| s.similarity >= 0.99).count();
    if same_text > 0 {
        out.push(format!(
            "{}. **A recurring failure rather than a new one.** Evidence: {} earlier incident(s) had the same error text.",
            out.len() + 1,
            same_text
        ));
    }
    if f.incident.resolution_method.as_deref() == Some("auto_recovered") {
        out.push(format!(
            "{}. **Transient.** Evidence: it recovered without intervention (a later log matched the rule's recovery).",
            out.len() + 1
        ));
    }
    if out.is_empty() {
        return "Not enough evidence for a hypothesis: no error lines and no commits were found."
            .into();
    }
    out.join("\n")
}

pub(crate) fn fixed(f: &Facts) -> String {
    let i = &f.incident;
    let mut out = match i.resolution_method.as_deref() {
        Some("automated_action") => {
            let done = f
                .actions
                .iter()
                .rev()
                .find(|a| a.status == "completed" && a.dry_run != Some(true));
            match done {
                Some(a) => format!(
                    "Action #{} ({} of {}) completed{} and resolved the incident.",
                    a.id,
                    a.action_type,
                    code(&a.target_job, 200),
                    a.completed_at
                        .map(|t| format!(" at {}", when(t)))
                        .unwrap_or_default()
                ),
                None => "A corrective action resolved the incident.".into(),
            }
        }
        Some("auto_recovered") => {
            "It recovered by itself: a later log matched the rule's recovery condition.".into()
        }
        Some(_) => format!(
            "Resolved by hand by {}{}.",
            code(i.resolved_by.as_deref().unwrap_or("unknown"), 100),
            i.resolution_note
                .as_deref()
                .map(|n| format!(" with the note {}", code(n, 300)))
                .unwrap_or_default()
        ),
        None => "Nothing yet: the incident is still open.".into(),
    };
    let other: Vec<String> = f
        .actions
        .iter()
        .filter(|a| a.status != "completed" || a.dry_run == Some(true))
        .map(|a| {
            let why = a
                .error
                .as_deref()
                .or(a.rejection_reason.as_deref())
                .map(|e| format!(": {}", text(e, 200)))
                .unwrap_or_default();
            let dry = if a.dry_run == Some(true) {
                " (dry run: nothing was done)"
            } else {
                ""
            };
            format!(
                "- Action #{} {} — {}{dry}{why}",
                a.id, a.action_type, a.status
            )
        })
        .collect();
    if !other.is_empty() {
        out.push_str("\n\nOther actions:\n");
        out.push_str(&other.join("\n"));
    }
    out
}

pub(crate) fn follow_ups(f: &Facts) -> String {
    let i = &f.incident;
    let mut out = Vec::new();
    if f.similar.len() >= 2 {
        out.push(format!(
            "- [ ] It happened {} time(s) before: fix the cause instead of repeating the remedy.",
            f.similar.len()
        ));
    }
    if let Some(top) = f.logs.top.first() {
        out.push(format!(
            "- [ ] Confirm or refute hypothesis 1 with the owners of {}.",
            subject(f)
        ));
        if top.count > 1 {
            out.push(format!(
                "- [ ] Add a check that catches {} before it reaches the build.",
                code(&top.pattern, 120)
            ));
        }
    }
    for a in f.actions.iter().filter(|a| a.status == "failed") {
        out.push(format!(
            "- [ ] Find out why action #{} ({}) failed.",
            a.id, a.action_type
        ));
    }
    if i.mttr_seconds.is_some_and(|m| m > 900.0) && f.actions.is_empty() {
        out.push("- [ ] It took over 15 minutes to resolve by hand: consider an automatic action in the rule.".into());
    }
    if f.commits.source == CommitSource::Unavailable {
        out.push("- [ ] Get the build's commits to the team (Jenkins was not reachable for this report).".into());
    }
    match &i.runbook_url {
        Some(u) => out.push(format!(
            "- [ ] Update the runbook {} with what was learned.",
            code(u, 300)
        )),
        None => out.push(format!(
            "- [ ] Write a runbook for rule {}.",
            code(&i.rule, 100)
        )),
    }
    out.join("\n")
}
