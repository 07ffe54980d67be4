//! The factual sections, rendered from the facts whichever writer writes the rest, so that
//! what the database says (times, counts, similar incidents) is never paraphrased.

use std::fmt::Write as _;

use super::classify::fix_phrase;
use super::quote::{block, code, duration, short, text, when};
use crate::facts::{CommitSource, Facts};

pub fn timeline_section(f: &Facts) -> String {
    let mut out = String::new();
    for e in &f.timeline {
        let _ = write!(out, "- {} — **{}**", when(e.at), e.event.replace('_', " "));
        if let Some(by) = &e.by {
            let _ = write!(out, " by {}", code(by, 100));
        }
        if let Some(d) = &e.detail {
            let _ = write!(out, ": {}", text(d, 300));
        }
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("No events recorded.");
    }
    out.trim_end().to_string()
}

pub fn evidence(f: &Facts) -> String {
    let mut out = String::new();
    if !f.logs.decisive.is_empty() {
        out.push_str(
            "**Decisive error lines** (the first lines that say why; build-tool boilerplate such as `Finished: FAILURE` left out):\n\n",
        );
        for d in &f.logs.decisive {
            let _ = writeln!(
                out,
                "- {} at {} ({}×):\n{}",
                d.level,
                when(d.first_seen),
                d.count,
                block(&d.example, 500, "  ")
            );
        }
        out.push('\n');
    }
    out.push_str(
        "**Most frequent error lines** (numbers, ids and paths masked to group repeats):\n\n",
    );
    if f.logs.top.is_empty() {
        out.push_str("- none found\n");
    }
    for t in &f.logs.top {
        let builds = if t.builds.is_empty() {
            String::new()
        } else {
            format!(
                ", builds {}",
                t.builds
                    .iter()
                    .map(|b| format!("#{b}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = writeln!(
            out,
            "- **{}×** {} (first {}, last {}{builds}); for example:\n{}",
            t.count,
            t.level,
            when(t.first_seen),
            when(t.last_seen),
            block(&t.example, 500, "  ")
        );
    }
    out.push_str("\n**Commits of the build:** ");
    let c = &f.commits;
    match c.source {
        CommitSource::NotApplicable => {
            out.push_str("not applicable (the incident does not name a build).")
        }
        CommitSource::Unavailable => {
            let _ = write!(
                out,
                "unavailable — {}.",
                text(c.reason.as_deref().unwrap_or("unknown reason"), 300)
            );
        }
        CommitSource::Jenkins | CommitSource::Logs => {
            let from = if c.source == CommitSource::Jenkins {
                "from Jenkins' changeSets".to_string()
            } else {
                format!(
                    "from the logs (Jenkins itself could not say: {})",
                    text(c.reason.as_deref().unwrap_or("unknown"), 200)
                )
            };
            if c.items.is_empty() {
                let _ = write!(out, "none recorded ({from}).");
            } else {
                let _ = writeln!(
                    out,
                    "{} commit(s) {from}{}:\n",
                    c.items.len(),
                    if c.truncated { ", more not shown" } else { "" }
                );
                for cm in c.items.iter().take(20) {
                    let author = cm
                        .author
                        .as_deref()
                        .map(|a| format!(" by {}", text(a, 80)))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "- {}{author}: {}",
                        code(&short(&cm.id), 12),
                        code(cm.message.lines().next().unwrap_or(""), 200)
                    );
                    if !cm.paths.is_empty() {
                        let files: Vec<String> =
                            cm.paths.iter().take(20).map(|p| code(p, 200)).collect();
                        let _ = writeln!(out, "  - changed: {}", files.join(", "));
                    }
                }
            }
        }
    }
    out.trim_end().to_string()
}

pub fn similar_section(f: &Facts) -> String {
    if f.similar.is_empty() {
        return "No similar incidents on record.".into();
    }
    let mut out = String::new();
    for s in &f.similar {
        let relation = match (s.same_fingerprint, s.similarity) {
            (true, x) if x >= 0.99 => "same fingerprint, same error text".to_string(),
            (true, x) if x > 0.0 => {
                format!("same fingerprint, error text {:.0}% similar", x * 100.0)
            }
            (true, _) => "same fingerprint".to_string(),
            (false, x) => format!("error text {:.0}% similar", x * 100.0),
        };
        let how = match (&s.resolution_method, s.mttr_seconds) {
            (Some(_), Some(m)) => format!(
                "{} in {}",
                fix_phrase(s.fixed_by.as_deref().unwrap_or("unknown")),
                duration(m)
            ),
            _ => format!("still {}", s.status),
        };
        let _ = writeln!(
            out,
            "- #{} “{}” ({}), detected {}: {}.",
            s.id,
            text(&s.title, 150),
            relation,
            when(s.detected_at),
            how
        );
    }
    out.trim_end().to_string()
}
