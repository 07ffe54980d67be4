//! The commits of a build, read from its change log: `changeSets` on Pipeline runs,
//! `changeSet` on freestyle builds (git plugin shape). Read-only, and bounded: a build that
//! picked up a huge merge still gives a reply that fits a message.

use chrono::DateTime;
use domain::postmortem::{BuildChanges, Commit};
use serde::Deserialize;

use super::client::{JenkinsClient, check_build};
use super::error::JenkinsError;
use super::job::JobName;

/// Most commits in one reply; the newest are kept.
pub const MAX_COMMITS: usize = 50;
/// Longest commit message kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Most paths kept per commit.
pub const MAX_PATHS: usize = 20;
/// Longest path, author or id kept, in characters.
const MAX_FIELD_CHARS: usize = 300;

/// Only what the reply needs: Jenkins leaves everything else out of the answer.
pub const CHANGES_TREE: &str = "changeSets[items[commitId,msg,comment,author[fullName],timestamp,affectedPaths]],\
changeSet[items[commitId,msg,comment,author[fullName],timestamp,affectedPaths]]";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BuildChangesJson {
    #[serde(default)]
    change_sets: Option<Vec<ChangeSetJson>>,
    #[serde(default)]
    change_set: Option<ChangeSetJson>,
}

#[derive(Debug, Default, Deserialize)]
struct ChangeSetJson {
    #[serde(default)]
    items: Option<Vec<ItemJson>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemJson {
    #[serde(default)]
    commit_id: Option<String>,
    /// The first line of the message.
    #[serde(default)]
    msg: Option<String>,
    /// The whole message.
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    author: Option<AuthorJson>,
    /// Epoch milliseconds.
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    affected_paths: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorJson {
    #[serde(default)]
    full_name: Option<String>,
}

impl JenkinsClient {
    /// The commits build `build` of `job` picked up, oldest first, at most [`MAX_COMMITS`]
    /// of them. A GET only: safe in any mode, retried like every read.
    pub async fn changes(&self, job: &JobName, build: i64) -> Result<BuildChanges, JenkinsError> {
        check_build(build)?;
        let path = format!("{}/{build}/api/json", job.url_path());
        let json: BuildChangesJson = self
            .http()
            .get_json("get_changes", &path, &[("tree", CHANGES_TREE)], || {
                format!("build #{build} of job '{job}'")
            })
            .await?;
        Ok(bound(job.as_str(), build, json))
    }
}

/// Merges every change log of the build and cuts it to size.
fn bound(job: &str, build: i64, json: BuildChangesJson) -> BuildChanges {
    let sets = json
        .change_sets
        .unwrap_or_default()
        .into_iter()
        .chain(json.change_set);
    let mut commits: Vec<Commit> = Vec::new();
    for item in sets.flat_map(|s| s.items.unwrap_or_default()) {
        // Without an id a commit cannot be quoted or looked up; other SCMs than git
        // (which name it differently) are not read.
        let Some(id) = item.commit_id.filter(|c| !c.trim().is_empty()) else {
            continue;
        };
        // A checkout of the same repository twice lists the commit twice.
        if commits.iter().any(|c| c.id == id) {
            continue;
        }
        let message = item
            .comment
            .filter(|c| !c.trim().is_empty())
            .or(item.msg)
            .unwrap_or_default();
        let paths = item.affected_paths.unwrap_or_default();
        commits.push(Commit {
            id: clip(&id, MAX_FIELD_CHARS),
            author: item
                .author
                .and_then(|a| a.full_name)
                .filter(|a| !a.trim().is_empty())
                .map(|a| clip(&a, MAX_FIELD_CHARS)),
            message: clip(message.trim_end(), MAX_MESSAGE_CHARS),
            timestamp: item.timestamp.and_then(DateTime::from_timestamp_millis),
            paths: paths
                .iter()
                .take(MAX_PATHS)
                .map(|p| clip(p, MAX_FIELD_CHARS))
                .collect(),
        });
    }
    let truncated = commits.len() > MAX_COMMITS;
    if truncated {
        // The newest commits are the likeliest cause of a new failure.
        commits.drain(..commits.len() - MAX_COMMITS);
    }
    BuildChanges {
        job_name: job.to_owned(),
        build_number: build,
        commits,
        truncated,
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: serde_json::Value) -> BuildChanges {
        bound("app", 3, serde_json::from_value(v).unwrap())
    }

    #[test]
    fn pipeline_and_freestyle_change_logs_are_read_alike() {
        let item = json!({"commitId": "abc", "msg": "Fix", "comment": "Fix\n\nlonger\n",
                          "author": {"fullName": "Ann"}, "timestamp": 1_795_946_400_000i64,
                          "affectedPaths": ["a.rs"]});
        let pipeline = parse(json!({"changeSets": [{"kind": "git", "items": [item]}]}));
        let freestyle = parse(json!({"changeSet": {"kind": "git", "items": [item]}}));
        assert_eq!(pipeline, freestyle);
        let c = &pipeline.commits[0];
        assert_eq!(c.id, "abc");
        assert_eq!(c.author.as_deref(), Some("Ann"));
        assert_eq!(
            c.message, "Fix\n\nlonger",
            "the whole message, trailing newline cut"
        );
        assert_eq!(
            c.timestamp.unwrap().to_rfc3339(),
            "2026-11-29T10:00:00+00:00"
        );
        assert_eq!(c.paths, ["a.rs"]);
        assert!(!pipeline.truncated);
        // No change log at all, or an empty one, is no commits.
        assert!(parse(json!({})).commits.is_empty());
        assert!(
            parse(json!({"changeSet": {"items": [], "kind": null}}))
                .commits
                .is_empty()
        );
    }

    #[test]
    fn replies_are_bounded_keeping_the_newest_commits() {
        let items: Vec<_> = (0..60)
            .map(|i| {
                json!({"commitId": format!("c{i}"), "msg": "x".repeat(5000),
                       "affectedPaths": (0..30).map(|p| format!("p{p}")).collect::<Vec<_>>()})
            })
            .collect();
        let r = parse(json!({"changeSets": [{"items": items}]}));
        assert!(r.truncated);
        assert_eq!(r.commits.len(), MAX_COMMITS);
        assert_eq!(r.commits[0].id, "c10");
        assert_eq!(r.commits[49].id, "c59");
        assert_eq!(r.commits[0].message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(r.commits[0].message.ends_with('…'));
        assert_eq!(r.commits[0].paths.len(), MAX_PATHS);
    }

    #[test]
    fn commits_without_an_id_or_seen_twice_are_left_out() {
        let r = parse(json!({"changeSets": [
            {"items": [{"msg": "no id"}, {"commitId": "a", "msg": "one"}]},
            {"items": [{"commitId": "a", "msg": "one"}, {"commitId": "b", "msg": "two"}]}
        ]}));
        let ids: Vec<_> = r.commits.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(r.commits[1].message, "two", "msg when there is no comment");
    }
}
