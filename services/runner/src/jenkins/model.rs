//! Shapes of the Jenkins JSON API this client reads, and the outcomes it returns.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::error::JenkinsError;

/// `GET /job/J/N/api/json`.
#[derive(Debug, Deserialize)]
pub(crate) struct BuildJson {
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub building: bool,
    #[serde(default)]
    pub actions: Vec<Value>,
}

impl BuildJson {
    /// Parameters of the build, from its `hudson.model.ParametersAction`.
    /// Values Jenkins does not expose (passwords, files) are skipped so the
    /// job falls back to its defaults for them.
    pub fn parameters(&self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        let actions = self.actions.iter().filter(|a| {
            a.get("_class").and_then(Value::as_str) == Some("hudson.model.ParametersAction")
        });
        for action in actions {
            let Some(list) = action.get("parameters").and_then(Value::as_array) else {
                continue;
            };
            for p in list {
                let Some(name) = p.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let value = match p.get("value") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => continue,
                };
                params.push((name.to_owned(), value));
            }
        }
        params
    }
}

/// `GET /job/J/api/json?tree=builds[number,result]`.
#[derive(Debug, Deserialize)]
pub(crate) struct JobJson {
    #[serde(default)]
    pub builds: Vec<BuildRef>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BuildRef {
    pub number: i64,
    #[serde(default)]
    pub result: Option<String>,
}

/// `GET /queue/item/N/api/json`.
#[derive(Debug, Deserialize)]
pub(crate) struct QueueItemJson {
    #[serde(default)]
    pub cancelled: bool,
    #[serde(default)]
    pub executable: Option<Executable>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Executable {
    pub number: i64,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CrumbJson {
    pub crumb: String,
    #[serde(rename = "crumbRequestField")]
    pub crumb_request_field: String,
}

/// The result of a finished build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildResult {
    Success,
    Unstable,
    Failure,
    NotBuilt,
    Aborted,
    Other(String),
}

impl BuildResult {
    pub fn parse(s: &str) -> Self {
        match s {
            "SUCCESS" => Self::Success,
            "UNSTABLE" => Self::Unstable,
            "FAILURE" => Self::Failure,
            "NOT_BUILT" => Self::NotBuilt,
            "ABORTED" => Self::Aborted,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The name Jenkins uses (`SUCCESS`, `FAILURE`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "SUCCESS",
            Self::Unstable => "UNSTABLE",
            Self::Failure => "FAILURE",
            Self::NotBuilt => "NOT_BUILT",
            Self::Aborted => "ABORTED",
            Self::Other(s) => s,
        }
    }

    pub fn is_success(&self) -> bool {
        *self == Self::Success
    }
}

impl fmt::Display for BuildResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JenkinsAction {
    Restart,
    Rollback,
    Stop,
}

impl JenkinsAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restart => "restart",
            Self::Rollback => "rollback",
            Self::Stop => "stop",
        }
    }
}

impl fmt::Display for JenkinsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an action did in Jenkins.
#[derive(Debug, Clone)]
pub struct JenkinsOutcome {
    pub action: JenkinsAction,
    /// The job the action was about.
    pub job: String,
    /// The job that was triggered or stopped (the rollback job for a rollback).
    pub triggered_job: String,
    /// Queue item of the trigger; `None` for stop.
    pub queue_id: Option<i64>,
    /// The new build (restart, rollback) or the stopped build (stop).
    pub build_number: i64,
    pub build_url: Option<String>,
    /// Parameters sent with the trigger.
    pub parameters: Vec<(String, String)>,
    /// For a rollback, the build rolled back to.
    pub rollback_target: Option<i64>,
    /// The build's result, when the client waited for it.
    pub result: Option<BuildResult>,
    /// Why waiting for the result failed (timeout...), when it did. The
    /// action itself happened: the build exists.
    pub wait_error: Option<JenkinsError>,
    /// Wall time of the whole action, waiting included.
    pub duration: Duration,
}
