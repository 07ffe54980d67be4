//! What an action will do in Jenkins, validated from the row before anything reaches a URL.

use std::fmt;

use domain::ActionType;
use serde_json::Value;

use crate::jenkins::JobName;

/// A validated action: job name parsed, build numbers positive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Rebuild `job` with the parameters of `build`.
    Restart { job: JobName, build: i64 },
    /// Roll `job` back to `target` (default: the last success before `failed_build`).
    Rollback {
        job: JobName,
        failed_build: Option<i64>,
        target: Option<i64>,
    },
    /// Abort `build` of `job`.
    Stop { job: JobName, build: i64 },
}

impl Plan {
    /// Validates an action row. The error is the reason of the guard rejection.
    pub fn from_action(
        action_type: ActionType,
        target_job: &str,
        target_build: Option<i64>,
        params: &Value,
    ) -> Result<Plan, String> {
        let job = JobName::parse(target_job)
            .map_err(|e| format!("invalid job name {target_job:?}: {e}"))?;
        let build = target_build.map(positive("target_build")).transpose()?;
        Ok(match action_type {
            ActionType::Restart => Plan::Restart {
                job,
                build: build.ok_or("restart needs a build number")?,
            },
            ActionType::Stop => Plan::Stop {
                job,
                build: build.ok_or("stop needs a build number")?,
            },
            ActionType::Rollback => Plan::Rollback {
                job,
                failed_build: build,
                target: rollback_target(params)?,
            },
        })
    }

    pub fn job(&self) -> &JobName {
        match self {
            Plan::Restart { job, .. } | Plan::Rollback { job, .. } | Plan::Stop { job, .. } => job,
        }
    }

    /// The build the action is about, if any.
    pub fn build(&self) -> Option<i64> {
        match self {
            Plan::Restart { build, .. } | Plan::Stop { build, .. } => Some(*build),
            Plan::Rollback { failed_build, .. } => *failed_build,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plan::Restart { job, build } => write!(f, "restart {job} #{build}"),
            Plan::Stop { job, build } => write!(f, "stop {job} #{build}"),
            Plan::Rollback {
                job,
                failed_build,
                target,
            } => {
                write!(f, "rollback {job}")?;
                if let Some(n) = failed_build {
                    write!(f, " from #{n}")?;
                }
                match target {
                    Some(t) => write!(f, " to #{t}"),
                    None => write!(f, " to the last successful build"),
                }
            }
        }
    }
}

fn positive(name: &'static str) -> impl Fn(i64) -> Result<i64, String> {
    move |n| {
        if n > 0 {
            Ok(n)
        } else {
            Err(format!("{name} must be a positive build number, got {n}"))
        }
    }
}

/// `params.target_build`: a positive integer, also accepted as a string of digits (chat
/// commands and forms send text).
fn rollback_target(params: &Value) -> Result<Option<i64>, String> {
    const NAME: &str = "params.target_build";
    let raw = match params {
        Value::Null => return Ok(None),
        Value::Object(map) => map.get("target_build"),
        _ => return Err("params must be a JSON object".into()),
    };
    let n = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Some(_) => None,
    };
    match n {
        Some(n) => positive(NAME)(n).map(Some),
        None => Err(format!("{NAME} must be a positive build number")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn plan(t: ActionType, job: &str, build: Option<i64>, params: Value) -> Result<Plan, String> {
        Plan::from_action(t, job, build, &params)
    }

    #[test]
    fn each_action_type_maps_to_its_plan() {
        let job = JobName::parse("team/app").unwrap();
        assert_eq!(
            plan(ActionType::Restart, "team/app", Some(5), json!({})),
            Ok(Plan::Restart {
                job: job.clone(),
                build: 5
            })
        );
        assert_eq!(
            plan(ActionType::Stop, "team/app", Some(5), json!({})),
            Ok(Plan::Stop {
                job: job.clone(),
                build: 5
            })
        );
        assert_eq!(
            plan(
                ActionType::Rollback,
                "team/app",
                Some(5),
                json!({"target_build": "3"})
            ),
            Ok(Plan::Rollback {
                job: job.clone(),
                failed_build: Some(5),
                target: Some(3)
            })
        );
        let bare = plan(ActionType::Rollback, "team/app", None, json!({})).unwrap();
        assert_eq!(bare.build(), None);
        assert_eq!(
            bare.to_string(),
            "rollback team/app to the last successful build"
        );
    }

    #[test]
    fn invalid_requests_say_why() {
        let e = plan(ActionType::Restart, "app", None, json!({})).unwrap_err();
        assert_eq!(e, "restart needs a build number");
        let e = plan(ActionType::Stop, "app", None, json!({})).unwrap_err();
        assert_eq!(e, "stop needs a build number");
        let e = plan(ActionType::Restart, "app", Some(0), json!({})).unwrap_err();
        assert!(e.contains("target_build must be a positive"), "{e}");
        let e = plan(ActionType::Restart, "../etc", Some(1), json!({})).unwrap_err();
        assert!(e.starts_with("invalid job name \"../etc\""), "{e}");
        let e = plan(ActionType::Restart, "a\nb", Some(1), json!({})).unwrap_err();
        assert!(e.contains("\\n"), "control characters are escaped: {e}");
        for bad in [
            json!({"target_build": -1}),
            json!({"target_build": "3a"}),
            json!({"target_build": 1.5}),
            json!([1]),
        ] {
            assert!(
                plan(ActionType::Rollback, "app", None, bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
