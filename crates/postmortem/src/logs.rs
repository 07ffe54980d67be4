//! The logs of a report, reduced: error lines grouped by shape, and the commits the logs
//! themselves carry.

use std::collections::{BTreeSet, HashMap};

use domain::postmortem::Commit;

use crate::facts::{ErrorLine, LogLine, LogSummary};
use crate::generic::is_generic;
use crate::normalize::normalize;

/// Distinct error patterns listed in a summary.
const TOP_LINES: usize = 10;
/// Decisive error lines quoted (the first ones that say why).
const DECISIVE_LINES: usize = 3;
/// Longest example line kept per pattern.
const EXAMPLE_CHARS: usize = 500;

/// Reduces log lines to a [`LogSummary`].
pub fn summarize(lines: &[LogLine], limit: usize) -> LogSummary {
    let mut s = LogSummary {
        lines: lines.len(),
        truncated: lines.len() >= limit,
        first_seen: lines.iter().map(|l| l.timestamp).min(),
        last_seen: lines.iter().map(|l| l.timestamp).max(),
        ..LogSummary::default()
    };
    let mut builds = BTreeSet::new();
    for l in lines {
        *s.by_level.entry(l.level.clone()).or_default() += 1;
        builds.extend(l.build_number);
    }
    s.builds = builds.into_iter().collect();
    let bad = |levels: &[&str]| -> Vec<&LogLine> {
        lines
            .iter()
            .filter(|l| levels.contains(&l.level.as_str()))
            .collect()
    };
    let mut chosen = bad(&["error", "fatal"]);
    if chosen.is_empty() {
        chosen = bad(&["warn"]);
    }
    let mut groups: HashMap<String, ErrorLine> = HashMap::new();
    let mut order = Vec::new();
    for l in chosen {
        let pattern = normalize(&l.message);
        let g = groups.entry(pattern.clone()).or_insert_with(|| {
            order.push(pattern.clone());
            ErrorLine {
                pattern,
                count: 0,
                example: l.message.chars().take(EXAMPLE_CHARS).collect(),
                level: l.level.clone(),
                first_seen: l.timestamp,
                last_seen: l.timestamp,
                builds: Vec::new(),
            }
        });
        g.count += 1;
        g.first_seen = g.first_seen.min(l.timestamp);
        g.last_seen = g.last_seen.max(l.timestamp);
        if let Some(b) = l.build_number
            && !g.builds.contains(&b)
        {
            g.builds.push(b);
        }
    }
    let mut top: Vec<ErrorLine> = order
        .into_iter()
        .filter_map(|p| groups.remove(&p))
        .collect();
    for g in &mut top {
        g.builds.sort_unstable();
    }
    // The first lines that say why, in order of appearance.
    let mut decisive: Vec<ErrorLine> = top
        .iter()
        .filter(|g| !is_generic(&g.example))
        .cloned()
        .collect();
    decisive.sort_by_key(|g| g.first_seen);
    decisive.truncate(DECISIVE_LINES);
    s.decisive = decisive;
    // Causes before boilerplate, then most frequent first; ties by first appearance (the
    // sort is stable).
    top.sort_by_key(|g| (is_generic(&g.example), std::cmp::Reverse(g.count)));
    top.truncate(TOP_LINES);
    s.top = top;
    s
}

/// Commits the logs carry: a Jenkins notification's `scm.commit`, a GitHub run's `head_sha`.
pub fn commits_in_logs(lines: &[LogLine]) -> Vec<Commit> {
    let mut out: Vec<Commit> = Vec::new();
    for l in lines {
        let d = &l.details;
        let found = d["scm"]["commit"]
            .as_str()
            .map(|id| (id, d["scm"]["branch"].as_str()))
            .or_else(|| {
                d["head_sha"]
                    .as_str()
                    .map(|id| (id, d["head_branch"].as_str()))
            });
        let Some((id, branch)) = found else { continue };
        let id: String = id.chars().take(64).collect();
        if id.is_empty() || out.iter().any(|c| c.id == id) {
            continue;
        }
        // The Jenkins plugin's changed files and culprits (the people whose changes the
        // build holds), already bounded by the listener; bounded again, as untrusted text.
        let list = |key: &str, max: usize| -> Vec<String> {
            d["scm"][key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .take(max)
                        .map(|v| v.chars().take(300).collect())
                        .collect()
                })
                .unwrap_or_default()
        };
        let culprits = list("culprits", 10);
        let mut message = branch
            .map(|b| format!("head of branch {}", b.chars().take(200).collect::<String>()))
            .unwrap_or_else(|| "build head".into());
        if let Some(total) = d["scm"]["changes_total"].as_u64() {
            message.push_str(&format!(" ({total} files changed, the first ones listed)"));
        }
        out.push(Commit {
            id,
            author: (!culprits.is_empty()).then(|| culprits.join(", ")),
            message,
            timestamp: Some(l.timestamp),
            paths: list("changes", 20),
        });
        if out.len() == 20 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: &str, level: &str, msg: &str, build: Option<i64>) -> LogLine {
        LogLine {
            timestamp: t.parse().unwrap(),
            level: level.into(),
            message: msg.into(),
            build_number: build,
            details: serde_json::json!({}),
        }
    }

    #[test]
    fn errors_group_by_shape_most_frequent_first() {
        let lines = vec![
            line("2026-11-29T10:00:00Z", "info", "Started by timer", Some(41)),
            line(
                "2026-11-29T10:00:01Z",
                "error",
                "Test failed: case 12 timed out after 30s",
                Some(41),
            ),
            line(
                "2026-11-29T10:00:02Z",
                "error",
                "npm ERR! code ELIFECYCLE",
                Some(41),
            ),
            line(
                "2026-11-29T10:00:03Z",
                "error",
                "Test failed: case 7 timed out after 31s",
                Some(42),
            ),
            line(
                "2026-11-29T10:00:04Z",
                "fatal",
                "Test failed: case 99 timed out after 2s",
                Some(42),
            ),
            line("2026-11-29T10:00:05Z", "warn", "deprecated flag", None),
        ];
        let s = summarize(&lines, 2000);
        assert_eq!(s.lines, 6);
        assert!(!s.truncated);
        assert_eq!(s.by_level["error"], 3);
        assert_eq!(s.builds, [41, 42]);
        assert_eq!(s.top.len(), 2);
        assert_eq!(
            s.top[0].pattern,
            "test failed: case <n> timed out after <n>s"
        );
        assert_eq!(s.top[0].count, 3);
        assert_eq!(s.top[0].builds, [41, 42]);
        assert_eq!(s.top[0].first_seen, lines[1].timestamp);
        assert_eq!(s.top[0].last_seen, lines[4].timestamp);
        assert_eq!(s.top[1].count, 1);
        assert_eq!(s.first_seen, Some(lines[0].timestamp));
    }

    #[test]
    fn warnings_count_when_there_are_no_errors() {
        let lines = vec![line("2026-11-29T10:00:00Z", "warn", "slow 500ms", None)];
        assert_eq!(summarize(&lines, 1).top[0].pattern, "slow <n>ms");
        assert!(summarize(&lines, 1).truncated);
    }

    #[test]
    fn commits_come_from_scm_or_head_sha_once_each() {
        let mut a = line("2026-11-29T10:00:00Z", "error", "x", Some(1));
        a.details = serde_json::json!({"scm": {"commit": "abc123", "branch": "main"}});
        let mut b = line("2026-11-29T10:00:01Z", "error", "y", Some(1));
        b.details = serde_json::json!({"scm": {"commit": "abc123"}});
        let mut c = line("2026-11-29T10:00:02Z", "error", "z", None);
        c.details = serde_json::json!({"head_sha": "def456", "head_branch": "fix"});
        let found = commits_in_logs(&[a, b, c]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].id, "abc123");
        assert_eq!(found[0].message, "head of branch main");
        assert_eq!(found[1].id, "def456");
        assert!(found[0].paths.is_empty() && found[0].author.is_none());
    }

    #[test]
    fn changed_files_and_culprits_of_the_scm_are_kept() {
        let mut a = line("2026-11-29T10:00:00Z", "error", "x", Some(1));
        a.details = serde_json::json!({"scm": {"commit": "c1a2b3", "branch": "origin/main",
            "changes": ["src/app.rs", "pom.xml"], "changes_total": 25,
            "culprits": ["Ann Lee", "Bo Chen"]}});
        let found = commits_in_logs(&[a]);
        assert_eq!(found[0].paths, ["src/app.rs", "pom.xml"]);
        assert_eq!(found[0].author.as_deref(), Some("Ann Lee, Bo Chen"));
        assert_eq!(
            found[0].message,
            "head of branch origin/main (25 files changed, the first ones listed)"
        );
    }

    #[test]
    fn the_decisive_line_is_the_first_cause_not_the_boilerplate() {
        let lines = vec![
            line("2026-11-29T10:00:00Z", "info", "Started by timer", Some(7)),
            line(
                "2026-11-29T10:00:01Z",
                "error",
                "java.lang.OutOfMemoryError: Java heap space",
                Some(7),
            ),
            line(
                "2026-11-29T10:00:02Z",
                "error",
                "ERROR: script returned exit code 137",
                Some(7),
            ),
            line(
                "2026-11-29T10:00:03Z",
                "error",
                "Finished: FAILURE",
                Some(7),
            ),
            line(
                "2026-11-29T10:01:03Z",
                "error",
                "Finished: FAILURE",
                Some(8),
            ),
            line(
                "2026-11-29T10:02:03Z",
                "error",
                "Finished: FAILURE",
                Some(9),
            ),
        ];
        let s = summarize(&lines, 2000);
        assert_eq!(s.decisive.len(), 1, "{:?}", s.decisive);
        assert_eq!(
            s.decisive[0].example,
            "java.lang.OutOfMemoryError: Java heap space"
        );
        // The cause leads the list although the boilerplate is more frequent.
        assert_eq!(
            s.top[0].example,
            "java.lang.OutOfMemoryError: Java heap space"
        );
        assert_eq!(
            (s.top[1].example.as_str(), s.top[1].count),
            ("Finished: FAILURE", 3)
        );
    }
}
