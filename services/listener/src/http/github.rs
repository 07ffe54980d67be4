//! `POST /webhooks/github`: GitHub Actions `workflow_run` and `workflow_job` events, signed
//! with the webhook's secret (`X-Hub-Signature-256`). A completed run becomes a Jenkins-style
//! record for job `owner/repo/workflow` and build `run_number`, so the Jenkins rules (build
//! failed, timed out or aborted, recovered) apply to Actions as well.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::{JenkinsLog, Level, LogRecord};
use serde_json::{Value, json};

use super::auth::{header, verify_github};
use super::{ApiError, HttpState, body, finish, ignored, parse_json, publish_or_503, published};

pub async fn handle(
    State(state): State<HttpState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let secret = &state.webhooks.github_secret;
        if !secret.is_set() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_configured",
                "GitHub webhooks are off: set RUNBOOKS__WEBHOOKS__GITHUB_SECRET",
            ));
        }
        let raw = body(raw, state.body_limit)?;
        verify_github(secret, header(&headers, "x-hub-signature-256"), &raw)?;
        let event = header(&headers, "x-github-event")
            .ok_or_else(|| ApiError::bad_request("missing X-GitHub-Event header"))?
            .to_string();
        let parse: fn(&Value) -> Result<Outcome, ApiError> = match event.as_str() {
            "workflow_run" => workflow_run,
            "workflow_job" => workflow_job,
            "ping" => return Ok(ignored("ping")),
            other => return Ok(ignored(format!("event `{other}` is not handled"))),
        };
        let record = parse(&parse_json(&raw)?)?;
        match record {
            Outcome::Ignore(reason) => Ok(ignored(reason)),
            Outcome::Record(r) => {
                let n = publish_or_503(&state, "webhook", vec![*r]).await?;
                Ok(published(n))
            }
        }
    }
    .await;
    finish(&state, "github", result)
}

enum Outcome {
    Record(Box<LogRecord>),
    Ignore(String),
}

fn text<'a>(v: &'a Value, path: &str) -> Result<&'a str, ApiError> {
    v.pointer(&format!("/{}", path.replace('.', "/")))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field(path, format!("`{path}` must be a non-empty string")))
}

fn int(v: &Value, path: &str) -> Result<i64, ApiError> {
    v.pointer(&format!("/{}", path.replace('.', "/")))
        .and_then(Value::as_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::field(path, format!("`{path}` must be a non-negative integer")))
}

/// What a conclusion means, in the words of a Jenkins console; `None`: not an outcome the
/// rules care about.
fn verdict(conclusion: &str) -> Option<(Level, &'static str)> {
    match conclusion {
        "success" => Some((Level::Info, "Finished: SUCCESS")),
        "failure" => Some((Level::Error, "Finished: FAILURE")),
        "timed_out" => Some((Level::Error, "Build timed out. Finished: ABORTED")),
        "cancelled" => Some((Level::Error, "Finished: ABORTED")),
        _ => None,
    }
}

fn when(v: &Value, path: &str) -> DateTime<Utc> {
    v.pointer(path)
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
}

fn workflow_run(v: &Value) -> Result<Outcome, ApiError> {
    let action = text(v, "action")?;
    if action != "completed" {
        return Ok(Outcome::Ignore(format!("workflow_run {action}")));
    }
    let repo = text(v, "repository.full_name")?;
    let name = text(v, "workflow_run.name")?;
    let run_id = int(v, "workflow_run.id")?;
    let number = int(v, "workflow_run.run_number")?;
    let attempt = int(v, "workflow_run.run_attempt").unwrap_or(1);
    let conclusion = text(v, "workflow_run.conclusion")?;
    let Some((level, verdict)) = verdict(conclusion) else {
        return Ok(Outcome::Ignore(format!("conclusion `{conclusion}`")));
    };
    let run = &v["workflow_run"];
    let branch = run["head_branch"].as_str().unwrap_or("?");
    Ok(Outcome::Record(Box::new(LogRecord::Jenkins(JenkinsLog {
        timestamp: when(v, "/workflow_run/updated_at"),
        level,
        message: format!("GitHub Actions {name} #{number} on {branch}: {verdict}"),
        job_name: Some(format!("{repo}/{name}")),
        build_number: Some(number),
        details: Some(json!({
            "provider": "github-actions", "event": "workflow_run", "conclusion": conclusion,
            "url": run["html_url"], "run_id": run_id, "run_attempt": attempt,
            "head_branch": run["head_branch"], "head_sha": run["head_sha"],
        })),
        source_id: Some(format!(
            "github:{repo}/actions/runs/{run_id}/attempts/{attempt}"
        )),
    }))))
}

fn workflow_job(v: &Value) -> Result<Outcome, ApiError> {
    let action = text(v, "action")?;
    if action != "completed" {
        return Ok(Outcome::Ignore(format!("workflow_job {action}")));
    }
    let repo = text(v, "repository.full_name")?;
    let workflow = text(v, "workflow_job.workflow_name")?;
    let job = text(v, "workflow_job.name")?;
    let job_id = int(v, "workflow_job.id")?;
    let attempt = int(v, "workflow_job.run_attempt").unwrap_or(1);
    let conclusion = text(v, "workflow_job.conclusion")?;
    match verdict(conclusion) {
        Some((Level::Error, verdict)) => {
            let j = &v["workflow_job"];
            Ok(Outcome::Record(Box::new(LogRecord::Jenkins(JenkinsLog {
                timestamp: when(v, "/workflow_job/completed_at"),
                level: Level::Error,
                message: format!("GitHub Actions job '{job}' of {workflow}: {verdict}"),
                job_name: Some(format!("{repo}/{workflow}")),
                // The run number is not in job events; the run's own event carries it.
                build_number: None,
                details: Some(json!({
                    "provider": "github-actions", "event": "workflow_job", "conclusion": conclusion,
                    "job": job, "url": j["html_url"], "run_id": j["run_id"], "run_attempt": attempt,
                    "head_branch": j["head_branch"], "head_sha": j["head_sha"],
                })),
                source_id: Some(format!(
                    "github:{repo}/actions/jobs/{job_id}/attempts/{attempt}"
                )),
            }))))
        }
        // One job passing says nothing about the run: its `workflow_run` reports that.
        _ => Ok(Outcome::Ignore(format!("job conclusion `{conclusion}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(conclusion: &str) -> Value {
        json!({"action": "completed", "repository": {"full_name": "octo/shop"},
            "workflow_run": {"id": 987, "name": "CI", "run_number": 42, "run_attempt": 2,
                "conclusion": conclusion, "head_branch": "main",
                "html_url": "https://github.com/octo/shop/actions/runs/987",
                "updated_at": "2026-11-29T10:00:00Z"}})
    }

    fn record(o: Outcome) -> LogRecord {
        match o {
            Outcome::Record(r) => *r,
            Outcome::Ignore(why) => panic!("ignored: {why}"),
        }
    }

    #[test]
    fn completed_runs_read_like_jenkins_builds() {
        let r = record(workflow_run(&run("failure")).unwrap());
        let LogRecord::Jenkins(j) = &r else { panic!() };
        assert_eq!(j.level, Level::Error);
        assert_eq!(j.job_name.as_deref(), Some("octo/shop/CI"));
        assert_eq!(j.build_number, Some(42));
        assert!(j.message.ends_with("Finished: FAILURE"), "{}", j.message);
        assert_eq!(
            j.source_id.as_deref(),
            Some("github:octo/shop/actions/runs/987/attempts/2")
        );
        assert_eq!(j.timestamp.to_rfc3339(), "2026-11-29T10:00:00+00:00");
        let ok = record(workflow_run(&run("success")).unwrap());
        assert_eq!(ok.level(), Level::Info);
        assert!(ok.message().ends_with("Finished: SUCCESS"));
        assert!(
            record(workflow_run(&run("timed_out")).unwrap())
                .message()
                .contains("Build timed out")
        );
        assert!(
            record(workflow_run(&run("cancelled")).unwrap())
                .message()
                .ends_with("Finished: ABORTED")
        );
        assert!(matches!(
            workflow_run(&run("skipped")).unwrap(),
            Outcome::Ignore(_)
        ));
        let mut started = run("failure");
        started["action"] = "requested".into();
        assert!(matches!(
            workflow_run(&started).unwrap(),
            Outcome::Ignore(_)
        ));
        let mut bad = run("failure");
        bad["workflow_run"]["run_number"] = "x".into();
        let err = workflow_run(&bad).err().unwrap();
        assert_eq!(err.extra["field"], "workflow_run.run_number");
    }

    #[test]
    fn failed_jobs_are_errors_and_passing_jobs_wait_for_their_run() {
        let job = |c: &str| {
            json!({"action": "completed", "repository": {"full_name": "octo/shop"},
            "workflow_job": {"id": 5, "run_id": 987, "workflow_name": "CI", "name": "test",
                "conclusion": c, "run_attempt": 1}})
        };
        let r = record(workflow_job(&job("failure")).unwrap());
        assert_eq!(r.level(), Level::Error);
        assert_eq!(
            r.source_id(),
            Some("github:octo/shop/actions/jobs/5/attempts/1")
        );
        assert!(matches!(
            workflow_job(&job("success")).unwrap(),
            Outcome::Ignore(_)
        ));
    }
}
