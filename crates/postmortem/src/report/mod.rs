//! The report: the deterministic (template) writer, and the sections both writers share.
//! Every untrusted text (log lines, commit messages, titles built from logs, notes) is
//! quoted — inline code or a fenced block, or escaped — so that it reads as data and cannot
//! restructure the report.
//!
//! - [`quote`]: escaping and quoting, times and durations;
//! - `classify`: failure classes recognised in error lines;
//! - `narrative`: the sections the LLM writes when it answers (the template's otherwise);
//! - `factual`: timeline, evidence and similar incidents, always from the facts.

mod classify;
mod factual;
mod narrative;
pub mod quote;

use std::fmt::Write as _;

pub use classify::fix_phrase;
pub use factual::{evidence, similar_section, timeline_section};
pub use narrative::summary;

use crate::facts::Facts;
use narrative::{fixed, follow_ups, hypotheses, impact};
use quote::{text, when};

/// Longest summary a report carries (`postmortem.generated` includes it).
pub const SUMMARY_CHARS: usize = 1000;
/// Longest stored title.
const TITLE_CHARS: usize = 200;

/// A written report, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The incident's title (the report's own heading says "Post-mortem: incident #N — …";
    /// the stored title is the incident's, so that listings and Slack do not repeat it).
    pub title: String,
    /// At most [`SUMMARY_CHARS`].
    pub summary: String,
    pub markdown: String,
}

impl Report {
    /// The template's report; `why` says why the LLM did not write it.
    pub fn template(f: &Facts, why: &str) -> Report {
        Report {
            title: f.incident.title.chars().take(TITLE_CHARS).collect(),
            summary: summary(f).chars().take(SUMMARY_CHARS).collect(),
            markdown: write(f, why),
        }
    }

    /// The report with the narrative sections `model` wrote; the factual ones still come
    /// from the facts.
    pub fn narrated(f: &Facts, n: &Narrative, model: &str) -> Report {
        let footer = format!(
            "Written by the LLM ({}) from the assembled facts; the timeline, evidence and similar incidents come from the database.",
            text(model, 100)
        );
        Report {
            title: f.incident.title.chars().take(TITLE_CHARS).collect(),
            summary: n
                .get("Summary")
                .unwrap_or_default()
                .chars()
                .take(SUMMARY_CHARS)
                .collect(),
            markdown: assemble(
                f,
                |name| n.get(name).unwrap_or_default().to_string(),
                &footer,
            ),
        }
    }
}

/// The sections of every report, in order.
pub const SECTIONS: [&str; 8] = [
    "Summary",
    "Impact",
    "Timeline",
    "Root-cause hypotheses",
    "Evidence",
    "What fixed it",
    "Similar incidents",
    "Follow-ups",
];

/// Sections written from the facts by code whichever writer writes the rest, so that what
/// the database says (times, counts, similar incidents) is never paraphrased.
pub const FACTUAL: [&str; 3] = ["Timeline", "Evidence", "Similar incidents"];

/// The narrative sections of one answer, by canonical section name.
#[derive(Debug, Default, PartialEq)]
pub struct Narrative {
    pub sections: Vec<(String, String)>,
}

impl Narrative {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }
}

/// `# Post-mortem: …` — the report's title line, without the `#`.
pub fn title(f: &Facts) -> String {
    format!(
        "Post-mortem: incident #{} — {}",
        f.incident.id,
        f.incident.title.chars().take(200).collect::<String>()
    )
}

/// Assembles the report from its sections (in [`SECTIONS`] order).
pub fn assemble(f: &Facts, narrative: impl Fn(&str) -> String, footer: &str) -> String {
    let mut md = format!("# {}\n\n", text(&title(f), 300));
    for name in SECTIONS {
        let body = match name {
            "Timeline" => timeline_section(f),
            "Evidence" => evidence(f),
            "Similar incidents" => similar_section(f),
            other => narrative(other),
        };
        let _ = write!(md, "## {name}\n\n{}\n\n", body.trim());
    }
    let _ = writeln!(md, "---\n_{footer}_");
    md
}

/// The template's text of a narrative section.
pub fn narrative(f: &Facts, name: &str) -> String {
    match name {
        "Summary" => summary(f),
        "Impact" => impact(f),
        "Root-cause hypotheses" => hypotheses(f),
        "What fixed it" => fixed(f),
        "Follow-ups" => follow_ups(f),
        _ => String::new(),
    }
}

/// The whole report as the template writes it.
pub fn write(f: &Facts, why: &str) -> String {
    assemble(
        f,
        |name| narrative(f, name),
        &format!(
            "Written from the template: {why}. Facts assembled {}.",
            when(f.assembled_at)
        ),
    )
}
