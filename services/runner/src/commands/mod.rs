//! Read-only questions to the runner on `runner.commands` (`command.jenkins.*`), answered
//! through its Jenkins client: `command.jenkins.changes` gives the commits of a build, for
//! the orchestrator's post-mortems. Nothing here goes through the guard or touches
//! `action_executions`: it only reads Jenkins.
//!
//! Identity: the sender is the AMQP `user_id`, which RabbitMQ checks against the
//! connection's user; it must be one of `commands.trusted_users` (empty: the runner's own
//! RabbitMQ user, the one every service shares in development).

use bus::{Bus, ConsumerOptions, Message};
use domain::commands::{CommandReply, ErrorCode, key};
use domain::names::queue::RUNNER_COMMANDS;
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use crate::jenkins::{JenkinsClient, JenkinsError, JobName};
use crate::metrics::RunnerMetrics;
use crate::settings::CommandSettings;

/// The fields of `command.jenkins.changes` (`domain::postmortem::ChangesRequest`).
const CHANGES_FIELDS: [&str; 2] = ["job_name", "build_number"];

/// Why a request is refused before Jenkins is asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// A payload field is missing, of the wrong type, or unknown.
    #[error("{message}")]
    BadField { field: String, message: String },
    #[error("{0}")]
    BadRequest(String),
    /// The sender is not a trusted RabbitMQ user.
    #[error("{0}")]
    Forbidden(String),
}

impl Refusal {
    pub fn into_reply(self) -> CommandReply {
        match self {
            Refusal::BadField { field, message } => {
                CommandReply::err_with(ErrorCode::BadRequest, message, json!({"field": field}))
            }
            Refusal::BadRequest(message) => CommandReply::err(ErrorCode::BadRequest, message),
            Refusal::Forbidden(message) => CommandReply::err_with(
                ErrorCode::Forbidden,
                message,
                json!({"clause": "bus:trusted-users"}),
            ),
        }
    }
}

pub struct CommandServer {
    /// A client used for reads only; `None` without a Jenkins URL.
    jenkins: Option<JenkinsClient>,
    trusted: Vec<String>,
    bus_user: String,
    concurrency: usize,
    metrics: RunnerMetrics,
}

impl CommandServer {
    pub fn new(
        bus: &Bus,
        jenkins: Option<JenkinsClient>,
        settings: &CommandSettings,
        metrics: RunnerMetrics,
    ) -> Self {
        CommandServer {
            jenkins,
            trusted: settings.trusted_users.clone(),
            bus_user: bus.settings().user(),
            concurrency: settings.concurrency,
            metrics,
        }
    }

    /// How `runner.commands` is consumed.
    pub fn options(&self, bus: &Bus) -> ConsumerOptions {
        ConsumerOptions::new(bus, RUNNER_COMMANDS).concurrency(self.concurrency)
    }

    /// The reply to one request.
    pub async fn handle(&self, msg: Message<Value>) -> CommandReply {
        let command = msg.routing_key.as_str();
        let reply = match self.identify(&msg) {
            Err(refusal) => refusal.into_reply(),
            Ok(sender) => match command {
                key::JENKINS_CHANGES => self.changes(&sender, &msg.envelope.payload).await,
                other => {
                    warn!(command = other, sender, "unknown command to the runner");
                    return CommandReply::err(
                        ErrorCode::BadRequest,
                        format!("unknown command `{other}`"),
                    );
                }
            },
        };
        if command == key::JENKINS_CHANGES {
            let outcome = match &reply.error {
                None => "ok",
                Some(e) => code_label(e.code),
            };
            self.metrics
                .changes_requests
                .with_label_values(&[outcome])
                .inc();
        }
        reply
    }

    /// The RabbitMQ user that sent the request, when it is trusted.
    fn identify(&self, msg: &Message<Value>) -> Result<String, Refusal> {
        let Some(user) = msg.properties.user_id.clone() else {
            warn!(command = %msg.routing_key, "command without user_id refused");
            return Err(Refusal::Forbidden(
                "commands must carry the AMQP user_id property (the sender's RabbitMQ user)".into(),
            ));
        };
        let trusted = if self.trusted.is_empty() {
            user == self.bus_user
        } else {
            self.trusted.contains(&user)
        };
        if !trusted {
            warn!(command = %msg.routing_key, user, "command from an untrusted rabbitmq user refused");
            return Err(Refusal::Forbidden(format!(
                "RabbitMQ user `{user}` is not trusted to send commands to the runner (commands.trusted_users)"
            )));
        }
        Ok(user)
    }

    async fn changes(&self, sender: &str, payload: &Value) -> CommandReply {
        let (job, build) = match changes_request(payload) {
            Ok(r) => r,
            Err(refusal) => return refusal.into_reply(),
        };
        let Some(jenkins) = &self.jenkins else {
            return CommandReply::err(
                ErrorCode::Unavailable,
                "jenkins is not configured on the runner (jenkins.url is empty)",
            );
        };
        match jenkins.changes(&job, build).await {
            Ok(changes) => {
                info!(
                    job = %job,
                    build,
                    commits = changes.commits.len(),
                    truncated = changes.truncated,
                    sender,
                    "build changes served"
                );
                CommandReply::ok(serde_json::to_value(changes).unwrap_or_default())
            }
            Err(e) => {
                debug!(job = %job, build, error = %e, "build changes not available");
                jenkins_reply(&e)
            }
        }
    }
}

fn bad_field(field: &str, message: String) -> Refusal {
    Refusal::BadField {
        field: field.to_string(),
        message,
    }
}

/// Checks a `command.jenkins.changes` payload, naming the field that is wrong.
pub fn changes_request(payload: &Value) -> Result<(JobName, i64), Refusal> {
    let Some(map) = payload.as_object() else {
        return Err(Refusal::BadRequest(
            "invalid arguments for command.jenkins.changes: expected an object {job_name, build_number}"
                .into(),
        ));
    };
    if let Some(extra) = map.keys().find(|k| !CHANGES_FIELDS.contains(&k.as_str())) {
        let shown: String = extra.chars().take(60).collect();
        return Err(bad_field(
            &shown,
            format!(
                "unknown field `{shown}` in command.jenkins.changes (expected job_name, build_number)"
            ),
        ));
    }
    let job = match map.get("job_name") {
        Some(Value::String(s)) => JobName::parse(s)
            .map_err(|e| bad_field("job_name", format!("invalid job_name: {e}")))?,
        Some(_) => return Err(bad_field("job_name", "job_name must be text".into())),
        None => return Err(bad_field("job_name", "job_name is missing".into())),
    };
    let build = match map.get("build_number") {
        Some(v) => v.as_i64().filter(|n| *n >= 1).ok_or_else(|| {
            bad_field(
                "build_number",
                "build_number must be a whole number of at least 1".into(),
            )
        })?,
        None => return Err(bad_field("build_number", "build_number is missing".into())),
    };
    Ok((job, build))
}

/// What a failed read of Jenkins tells the caller: the build is not there, or Jenkins
/// could not be asked (down, slow, refusing the runner's credentials, answering nonsense).
pub fn jenkins_reply(e: &JenkinsError) -> CommandReply {
    let code = match e {
        JenkinsError::NotFound { .. } => ErrorCode::NotFound,
        JenkinsError::InvalidJob(_) | JenkinsError::InvalidBuild(_) => ErrorCode::BadRequest,
        _ => ErrorCode::Unavailable,
    };
    CommandReply::err_with(code, e.to_string(), json!({"jenkins_error": e.kind()}))
}

fn code_label(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "bad_request",
        ErrorCode::Unauthorized => "unauthorized",
        ErrorCode::Forbidden => "forbidden",
        ErrorCode::NotFound => "not_found",
        ErrorCode::Conflict => "conflict",
        ErrorCode::Unprocessable => "unprocessable",
        ErrorCode::Unavailable => "unavailable",
        ErrorCode::Internal => "internal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(payload: Value) -> (ErrorCode, String, Value) {
        let e = changes_request(&payload)
            .unwrap_err()
            .into_reply()
            .error
            .unwrap();
        (e.code, e.message, e.details.unwrap_or(Value::Null))
    }

    #[test]
    fn requests_are_checked_field_by_field() {
        let (job, build) =
            changes_request(&json!({"job_name": "team/app", "build_number": 7})).unwrap();
        assert_eq!((job.as_str(), build), ("team/app", 7));
        for (payload, field, says) in [
            (
                json!({"job_name": "a", "build_number": 1, "url": "http://evil"}),
                "url",
                "unknown field `url`",
            ),
            (json!({"build_number": 1}), "job_name", "missing"),
            (
                json!({"job_name": "../x", "build_number": 1}),
                "job_name",
                "invalid job_name",
            ),
            (
                json!({"job_name": 3, "build_number": 1}),
                "job_name",
                "text",
            ),
            (json!({"job_name": "a"}), "build_number", "missing"),
            (
                json!({"job_name": "a", "build_number": 0}),
                "build_number",
                "at least 1",
            ),
            (
                json!({"job_name": "a", "build_number": "7"}),
                "build_number",
                "whole number",
            ),
        ] {
            let (code, message, details) = refused(payload.clone());
            assert_eq!(code, ErrorCode::BadRequest, "{payload}");
            assert_eq!(details["field"], field, "{payload}");
            assert!(message.contains(says), "{payload}: {message}");
        }
        assert_eq!(refused(json!([1])).0, ErrorCode::BadRequest);
    }

    #[test]
    fn jenkins_failures_become_not_found_or_unavailable() {
        let code = |e: JenkinsError| jenkins_reply(&e).error.unwrap().code;
        assert_eq!(
            code(JenkinsError::NotFound {
                what: "build #9 of job 'app'".into()
            }),
            ErrorCode::NotFound
        );
        for e in [
            JenkinsError::Server {
                operation: "get_changes",
                status: 503,
            },
            JenkinsError::Timeout {
                operation: "get_changes",
            },
            JenkinsError::Connect {
                operation: "get_changes",
                reason: "refused".into(),
            },
            JenkinsError::Unauthorized {
                operation: "get_changes",
            },
        ] {
            assert_eq!(code(e.clone()), ErrorCode::Unavailable, "{e}");
        }
    }
}
