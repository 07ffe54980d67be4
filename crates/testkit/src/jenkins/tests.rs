//! The fake's build JSON carries commits in the shape Jenkins' git plugin exports them.

use serde_json::{Value, json};

use super::*;

async fn get(url: String) -> (u16, Value) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn commits() -> Vec<FakeCommit> {
    vec![
        FakeCommit::new(
            "a1b2c3",
            "Ann Lee",
            "Bump the heap\n\nThe build ran out of memory.",
        )
        .paths(&["Jenkinsfile", "gradle.properties"])
        .email("ann@example.com")
        .at(1_795_946_400_000),
        FakeCommit::new("d4e5f6", "Bo", "Fix the flaky test"),
    ]
}

#[tokio::test]
async fn pipeline_runs_list_their_commits_under_change_sets() {
    crate::init_tracing();
    let j = FakeJenkins::start(FakeJenkinsConfig::default()).await;
    j.add_pipeline_job("team/app");
    j.add_build("team/app", 3, "FAILURE", &[]);
    j.set_commits("team/app", 3, commits());
    let (status, b) = get(format!("{}/job/team/job/app/3/api/json", j.url())).await;
    assert_eq!(status, 200);
    assert_eq!(
        b["_class"],
        "org.jenkinsci.plugins.workflow.job.WorkflowRun"
    );
    assert!(b.get("changeSet").is_none(), "{b}");
    let set = &b["changeSets"][0];
    assert_eq!(
        (set["_class"].as_str(), set["kind"].as_str()),
        (Some("hudson.plugins.git.GitChangeSetList"), Some("git"))
    );
    let first = &set["items"][0];
    assert_eq!(first["commitId"], "a1b2c3");
    assert_eq!(first["msg"], "Bump the heap");
    assert_eq!(
        first["comment"],
        "Bump the heap\n\nThe build ran out of memory.\n"
    );
    assert_eq!(first["author"]["fullName"], "Ann Lee");
    assert_eq!(first["authorEmail"], "ann@example.com");
    assert_eq!(first["timestamp"], 1_795_946_400_000i64);
    assert_eq!(
        first["affectedPaths"],
        json!(["Jenkinsfile", "gradle.properties"])
    );
    assert_eq!(set["items"][1]["commitId"], "d4e5f6");

    // A run without changes has an empty list.
    j.add_build("team/app", 4, "SUCCESS", &[]);
    let (_, b) = get(format!("{}/job/team/job/app/4/api/json", j.url())).await;
    assert_eq!(b["changeSets"], json!([]));
}

#[tokio::test]
async fn freestyle_builds_have_one_change_set_and_tree_keeps_what_it_names() {
    crate::init_tracing();
    let j = FakeJenkins::start(FakeJenkinsConfig::default()).await;
    j.add_build("deploy", 7, "FAILURE", &[("ENV", "prod")]);
    let (_, empty) = get(format!("{}/job/deploy/7/api/json", j.url())).await;
    assert_eq!(empty["changeSet"]["items"], json!([]));
    assert_eq!(empty["changeSet"]["_class"], "hudson.scm.EmptyChangeLogSet");

    j.set_commits("deploy", 7, commits());
    // Finishing a running build again keeps its commits.
    j.add_build("deploy", 7, "FAILURE", &[]);
    let tree = "changeSet[items[commitId,author[fullName]]],number";
    let (status, b) = get(format!("{}/job/deploy/7/api/json?tree={tree}", j.url())).await;
    assert_eq!(status, 200);
    assert_eq!(
        b,
        json!({"_class": "hudson.model.FreeStyleBuild", "number": 7, "changeSet": {
        "_class": "hudson.plugins.git.GitChangeSetList",
        "items": [
            {"_class": "hudson.plugins.git.GitChangeSet", "commitId": "a1b2c3",
             "author": {"fullName": "Ann Lee"}},
            {"_class": "hudson.plugins.git.GitChangeSet", "commitId": "d4e5f6",
             "author": {"fullName": "Bo"}},
        ]}})
    );
    assert_eq!(
        j.calls().last().unwrap().query,
        vec![("tree".to_string(), tree.to_string())]
    );
    let (status, _) = get(format!("{}/job/deploy/7/api/json?tree=a[b", j.url())).await;
    assert_eq!(status, 400);
}
