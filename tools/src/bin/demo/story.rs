//! The demo's story: the steps that must happen, in order, and how each is told.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

/// The steps of the story, in the order they must happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Failed,
    Detected,
    Requested,
    Started,
    Completed,
    Resolved,
    Succeeded,
    SlackDetected,
    SlackResolved,
    Postmortem,
    SlackPostmortem,
}

impl Step {
    pub const ALL: [Step; 11] = [
        Step::Failed,
        Step::Detected,
        Step::Requested,
        Step::Started,
        Step::Completed,
        Step::Resolved,
        Step::Succeeded,
        Step::SlackDetected,
        Step::SlackResolved,
        Step::Postmortem,
        Step::SlackPostmortem,
    ];

    pub fn what(self) -> &'static str {
        match self {
            Step::Failed => "a Jenkins build fails (its log lands in Elasticsearch)",
            Step::Detected => "the incident is detected (incident.detected)",
            Step::Requested => "the runbook requests a restart (action.requested)",
            Step::Started => "the runner takes the action (action.started)",
            Step::Completed => "Jenkins restarts the build (action.completed)",
            Step::Succeeded => "the new build succeeds (and logs \"Finished: SUCCESS\")",
            Step::Resolved => "the incident resolves with its MTTR (incident.resolved)",
            Step::SlackDetected => "Slack shows the incident",
            Step::SlackResolved => "Slack shows the resolution",
            Step::Postmortem => "a post-mortem is written (postmortem.generated)",
            Step::SlackPostmortem => {
                "Slack shows the post-mortem in the incident's thread, with a link to it"
            }
        }
    }
}

pub struct Story {
    pub seen: BTreeMap<Step, String>,
    pub started: Instant,
}

impl Story {
    pub fn mark(&mut self, step: Step, detail: String) {
        if self.seen.contains_key(&step) {
            return;
        }
        let n = Step::ALL.iter().position(|s| *s == step).unwrap_or(0) + 1;
        let (bold, plain) = if color() {
            ("\x1b[1m", "\x1b[0m")
        } else {
            ("", "")
        };
        println!(
            "{bold}[{:>5.1}s] {n}. {}{plain} — {detail}",
            self.started.elapsed().as_secs_f64(),
            step.what()
        );
        self.seen.insert(step, detail);
    }

    pub fn missing(&self) -> Option<Step> {
        Step::ALL
            .iter()
            .copied()
            .find(|s| !self.seen.contains_key(s))
    }
}

fn color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

pub fn slack_line(line: &str) {
    if color() {
        println!("    \x1b[36mslack │\x1b[0m {line}");
    } else {
        println!("    slack │ {line}");
    }
}

impl Story {
    /// Tells what an event on `logs.events` means for the story; the new build's number
    /// when Jenkins started one.
    pub fn on_event(&mut self, kind: &str, p: &Value) -> Option<i64> {
        match kind {
            "incident.detected" => self.mark(
                Step::Detected,
                format!(
                    "incident #{}: {} ({})",
                    p["incident"]["id"],
                    text(&p["incident"]["title"]),
                    text(&p["incident"]["severity"])
                ),
            ),
            "action.requested" => self.mark(
                Step::Requested,
                format!(
                    "action #{}: {} {} #{} by {}",
                    p["action"]["id"],
                    text(&p["action"]["action_type"]),
                    text(&p["action"]["target_job"]),
                    p["action"]["target_build"],
                    text(&p["action"]["requested_by"])
                ),
            ),
            "action.started" => self.mark(Step::Started, format!("runner {}", text(&p["runner"]))),
            "action.completed" => {
                let r = &p["result"];
                self.mark(
                    Step::Completed,
                    format!(
                        "Jenkins started build #{} ({} ms)",
                        r["build_number"], r["duration_ms"]
                    ),
                );
                return r["build_number"].as_i64();
            }
            "action.failed" | "action.rejected" => {
                println!("    the action did not run: {}", text(&p["reason"]));
            }
            "incident.resolved" => self.mark(
                Step::Resolved,
                format!(
                    "by {} ({}), MTTR {:.1} s",
                    text(&p["resolved_by"]),
                    text(&p["resolution_method"]),
                    p["mttr_seconds"].as_f64().unwrap_or_default()
                ),
            ),
            _ => {}
        }
        None
    }

    /// `postmortem.generated` (`p`) and the report it announced, read back from the API: the
    /// step counts only when the report quotes commits the runner read from Jenkins.
    pub fn on_postmortem(&mut self, p: &Value, report: &Value) {
        let commits = &report["facts"]["commits"];
        if commits["source"] == "jenkins"
            && commits["items"].as_array().is_some_and(|a| !a.is_empty())
        {
            self.mark(Step::Postmortem, format!(
                "version {} of incident #{}'s report, written by the {} ({} characters), quoting commit {} from Jenkins",
                p["version"], p["incident_id"], text(&p["writer"]), p["length"],
                text(&commits["items"][0]["id"]).chars().take(10).collect::<String>()));
        } else {
            println!(
                "    the report has no commits from Jenkins: {}",
                text(&commits["reason"])
            );
        }
    }
}

pub fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}
