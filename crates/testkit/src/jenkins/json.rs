//! JSON documents shaped like the ones Jenkins serves under `/api/json`.

use serde_json::{Value, json};

use chrono::DateTime;

use super::path::job_path;
use super::state::{FakeBuild, FakeCommit, JobKind, QueueItem, State};

const BUILD_CLASS: &str = "hudson.model.FreeStyleBuild";
const JOB_CLASS: &str = "hudson.model.FreeStyleProject";
const PIPELINE_BUILD_CLASS: &str = "org.jenkinsci.plugins.workflow.job.WorkflowRun";
const PIPELINE_JOB_CLASS: &str = "org.jenkinsci.plugins.workflow.job.WorkflowJob";
const FOLDER_CLASS: &str = "com.cloudbees.hudson.plugins.folder.Folder";

fn job_url(base: &str, job: &str) -> String {
    format!("{base}{}/", job_path(job))
}

fn display(job: &str) -> String {
    job.replace('/', " » ")
}

fn short_name(job: &str) -> &str {
    job.rsplit('/').next().unwrap_or(job)
}

fn parameters_action(params: &[(String, String)]) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|(name, value)| {
            json!({"_class": "hudson.model.StringParameterValue", "name": name, "value": value})
        })
        .collect();
    json!({"_class": "hudson.model.ParametersAction", "parameters": parameters})
}

fn color(state: &State, job: &str) -> &'static str {
    let Some(last) = state
        .jobs
        .get(job)
        .and_then(|j| j.builds.values().next_back())
    else {
        return "notbuilt";
    };
    let base = match last.result.as_deref() {
        Some("SUCCESS") => "blue",
        Some("UNSTABLE") => "yellow",
        Some("ABORTED") => "aborted",
        Some(_) => "red",
        None => "blue",
    };
    if last.building {
        match base {
            "blue" => "blue_anime",
            "red" => "red_anime",
            _ => "notbuilt_anime",
        }
    } else {
        base
    }
}

fn build_class(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Freestyle => BUILD_CLASS,
        JobKind::Pipeline => PIPELINE_BUILD_CLASS,
    }
}

fn job_class(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Freestyle => JOB_CLASS,
        JobKind::Pipeline => PIPELINE_JOB_CLASS,
    }
}

/// One entry of a git change log, as the git plugin exports it.
fn commit(base: &str, c: &FakeCommit) -> Value {
    let first_line = c.message.lines().next().unwrap_or("").to_owned();
    let date = DateTime::from_timestamp_millis(c.timestamp_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000").to_string());
    let author = c.author.as_ref().map(|name| {
        let id: String = name
            .chars()
            .map(|ch| {
                if ch.is_alphanumeric() {
                    ch.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        json!({"absoluteUrl": format!("{base}/user/{id}"), "fullName": name})
    });
    let paths: Vec<Value> = c
        .paths
        .iter()
        .map(|p| json!({"editType": "edit", "file": p}))
        .collect();
    json!({
        "_class": "hudson.plugins.git.GitChangeSet",
        "affectedPaths": c.paths,
        "commitId": c.id,
        "timestamp": c.timestamp_ms,
        "author": author,
        "authorEmail": c.email,
        "comment": format!("{}\n", c.message),
        "date": date,
        "id": c.id,
        "msg": first_line,
        "paths": paths,
    })
}

fn change_log(base: &str, commits: &[FakeCommit]) -> Value {
    json!({
        "_class": "hudson.plugins.git.GitChangeSetList",
        "items": commits.iter().map(|c| commit(base, c)).collect::<Vec<_>>(),
        "kind": "git",
    })
}

pub(crate) fn build(base: &str, job: &str, kind: JobKind, b: &FakeBuild) -> Value {
    let mut actions = Vec::new();
    if !b.params.is_empty() {
        actions.push(parameters_action(&b.params));
    }
    actions.push(json!({
        "_class": "hudson.model.CauseAction",
        "causes": [{"_class": "hudson.model.Cause$UserIdCause",
                    "shortDescription": "Started by user runbooks", "userId": "runbooks"}]
    }));
    let duration = match (b.started_at, b.finished_at) {
        (Some(s), Some(f)) => f.duration_since(s).as_millis() as u64,
        _ => 0,
    };
    let mut value = json!({
        "_class": build_class(kind),
        "actions": actions,
        "building": b.building,
        "displayName": format!("#{}", b.number),
        "duration": duration,
        "fullDisplayName": format!("{} #{}", display(job), b.number),
        "id": b.number.to_string(),
        "number": b.number,
        "queueId": b.queue_id.unwrap_or(-1),
        "result": b.result,
        "timestamp": b.timestamp_ms,
        "url": format!("{}{}/", job_url(base, job), b.number),
    });
    let map = value.as_object_mut().expect("object literal");
    // Pipeline runs export a list of change logs (one per checkout); freestyle builds one,
    // an empty one when nothing changed.
    match kind {
        JobKind::Pipeline => {
            let sets: Vec<Value> = if b.commits.is_empty() {
                Vec::new()
            } else {
                vec![change_log(base, &b.commits)]
            };
            map.insert("changeSets".into(), Value::Array(sets));
        }
        JobKind::Freestyle => {
            let set = if b.commits.is_empty() {
                json!({"_class": "hudson.scm.EmptyChangeLogSet", "items": [], "kind": null})
            } else {
                change_log(base, &b.commits)
            };
            map.insert("changeSet".into(), set);
        }
    }
    value
}

fn build_ref(base: &str, kind: JobKind, job: &str, b: &FakeBuild) -> Value {
    json!({
        "_class": build_class(kind),
        "number": b.number,
        "result": b.result,
        "url": format!("{}{}/", job_url(base, job), b.number),
    })
}

pub(crate) fn job(base: &str, state: &State, name: &str) -> Option<Value> {
    let job = state.jobs.get(name)?;
    // Jenkins lists builds newest first.
    let builds: Vec<Value> = job
        .builds
        .values()
        .rev()
        .map(|b| build_ref(base, job.kind, name, b))
        .collect();
    let pick = |f: &dyn Fn(&FakeBuild) -> bool| {
        job.builds
            .values()
            .rev()
            .find(|b| f(b))
            .map(|b| build_ref(base, job.kind, name, b))
    };
    let in_queue = state
        .queue
        .values()
        .any(|q| q.job == name && q.build.is_none() && !q.cancelled);
    Some(json!({
        "_class": job_class(job.kind),
        "name": short_name(name),
        "fullName": name,
        "displayName": short_name(name),
        "fullDisplayName": display(name),
        "url": job_url(base, name),
        "buildable": true,
        "builds": builds,
        "color": color(state, name),
        "firstBuild": job.builds.values().next().map(|b| build_ref(base, job.kind, name, b)),
        "lastBuild": pick(&|_| true),
        "lastCompletedBuild": pick(&|b| !b.building),
        "lastSuccessfulBuild": pick(&|b| b.result.as_deref() == Some("SUCCESS")),
        "lastFailedBuild": pick(&|b| b.result.as_deref() == Some("FAILURE")),
        "inQueue": in_queue,
        "nextBuildNumber": job.next_build_number,
        "queueItem": null,
    }))
}

/// Items directly inside `folder` (`None` for the root).
fn children(base: &str, state: &State, folder: Option<&str>) -> Vec<Value> {
    let prefix = folder.map(|f| format!("{f}/")).unwrap_or_default();
    let mut names: Vec<String> = state
        .jobs
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
        .collect();
    names.dedup();
    names
        .into_iter()
        .map(|child| {
            let full = format!("{prefix}{child}");
            if let Some(j) = state.jobs.get(&full) {
                json!({"_class": job_class(j.kind), "name": child, "url": job_url(base, &full),
                       "color": color(state, &full)})
            } else {
                json!({"_class": FOLDER_CLASS, "name": child, "url": job_url(base, &full)})
            }
        })
        .collect()
}

pub(crate) fn folder(base: &str, state: &State, name: &str) -> Value {
    json!({
        "_class": FOLDER_CLASS,
        "name": short_name(name),
        "fullName": name,
        "displayName": short_name(name),
        "fullDisplayName": display(name),
        "url": job_url(base, name),
        "jobs": children(base, state, Some(name)),
    })
}

pub(crate) fn root(base: &str, state: &State, use_security: bool) -> Value {
    json!({
        "_class": "hudson.model.Hudson",
        "mode": "NORMAL",
        "nodeName": "",
        "nodeDescription": "the Jenkins controller's built-in node",
        "numExecutors": 2,
        "quietingDown": false,
        "useCrumbs": state.csrf,
        "useSecurity": use_security,
        "url": format!("{base}/"),
        "jobs": children(base, state, None),
    })
}

pub(crate) fn crumb(crumb: &str) -> Value {
    json!({
        "_class": "hudson.security.csrf.DefaultCrumbIssuer",
        "crumb": crumb,
        "crumbRequestField": "Jenkins-Crumb",
    })
}

pub(crate) fn queue_item(base: &str, id: i64, item: &QueueItem, kind: JobKind) -> Value {
    let params: String = item
        .params
        .iter()
        .map(|(k, v)| format!("\n{k}={v}"))
        .collect();
    let mut actions = Vec::new();
    if !item.params.is_empty() {
        actions.push(parameters_action(&item.params));
    }
    let mut value = json!({
        "actions": actions,
        "blocked": false,
        "buildable": false,
        "id": id,
        "inQueueSince": item.since_ms,
        "params": params,
        "stuck": false,
        "task": {"_class": job_class(kind), "name": short_name(&item.job),
                 "url": job_url(base, &item.job), "color": "blue"},
        "url": format!("queue/item/{id}/"),
        "why": null,
    });
    let map = value.as_object_mut().expect("object literal");
    if item.cancelled {
        map.insert("_class".into(), json!("hudson.model.Queue$LeftItem"));
        map.insert("cancelled".into(), json!(true));
        map.insert("executable".into(), Value::Null);
    } else if let Some(number) = item.build {
        map.insert("_class".into(), json!("hudson.model.Queue$LeftItem"));
        map.insert("cancelled".into(), json!(false));
        map.insert(
            "executable".into(),
            json!({"_class": build_class(kind), "number": number,
                   "url": format!("{}{number}/", job_url(base, &item.job))}),
        );
    } else {
        map.insert("_class".into(), json!("hudson.model.Queue$WaitingItem"));
        map.insert("why".into(), json!("In the quiet period."));
    }
    value
}

/// `/queue/api/json`: the items still waiting (Jenkins lists no left items here), oldest
/// first.
pub(crate) fn queue(base: &str, state: &State) -> Value {
    let items: Vec<Value> = state
        .queue
        .iter()
        .filter(|(_, q)| q.build.is_none() && !q.cancelled)
        .map(|(id, q)| {
            let kind = state.jobs.get(&q.job).map(|j| j.kind).unwrap_or_default();
            queue_item(base, *id, q, kind)
        })
        .collect();
    json!({"_class": "hudson.model.Queue", "discoverableItems": [], "items": items})
}
