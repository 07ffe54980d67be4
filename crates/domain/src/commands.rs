//! Request/reply over the `commands` exchange: routing keys `command.<area>.<verb>` and the
//! reply every handler sends back.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::envelope::{Decode, DecodeError, parse_payload};

/// Envelope type of every reply.
pub const REPLY_KIND: &str = "command.reply";

pub mod key {
    pub const INCIDENTS_LIST: &str = "command.incidents.list";
    pub const INCIDENTS_GET: &str = "command.incidents.get";
    pub const INCIDENTS_ACK: &str = "command.incidents.ack";
    pub const INCIDENTS_RESOLVE: &str = "command.incidents.resolve";
    pub const ACTIONS_REQUEST: &str = "command.actions.request";
    pub const ACTIONS_GET: &str = "command.actions.get";
    pub const ACTIONS_APPROVE: &str = "command.actions.approve";
    pub const ACTIONS_DENY: &str = "command.actions.deny";
    pub const STATS_GET: &str = "command.stats.get";
    pub const LOGS_SEARCH: &str = "command.logs.search";
    pub const HEALTH_STATUS: &str = "command.health.status";
    /// The latest post-mortem of an incident (`{incident_id, version?}`); written on the
    /// spot when the incident has none yet.
    pub const POSTMORTEMS_GET: &str = "command.postmortems.get";
    /// Writes a new version of an incident's post-mortem (`{incident_id}`).
    pub const POSTMORTEMS_GENERATE: &str = "command.postmortems.generate";
    /// Answered by the runner: the commits of a build (`ChangesRequest` → `BuildChanges`).
    pub const JENKINS_CHANGES: &str = "command.jenkins.changes";
}

/// A machine-readable class of failure, mirrored by HTTP status codes in REST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Unprocessable,
    Unavailable,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
    /// Machine-readable particulars (`field`, `clause`, `missing_role`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// `{ok: true, data}` or `{ok: false, error: {code, message}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandReply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CommandError>,
}

impl CommandReply {
    pub fn ok(data: serde_json::Value) -> Self {
        CommandReply {
            ok: true,
            data: Some(data),
            error: None,
        }
    }

    pub fn err(code: ErrorCode, message: impl Into<String>) -> Self {
        CommandReply {
            ok: false,
            data: None,
            error: Some(CommandError {
                code,
                message: message.into(),
                details: None,
            }),
        }
    }

    /// An error with machine-readable particulars.
    pub fn err_with(
        code: ErrorCode,
        message: impl Into<String>,
        details: serde_json::Value,
    ) -> Self {
        let mut r = CommandReply::err(code, message);
        if let Some(e) = r.error.as_mut() {
            e.details = Some(details);
        }
        r
    }

    pub fn into_result(self) -> Result<serde_json::Value, CommandError> {
        match (self.ok, self.error) {
            (true, _) => Ok(self.data.unwrap_or(serde_json::Value::Null)),
            (false, Some(e)) => Err(e),
            (false, None) => Err(CommandError {
                code: ErrorCode::Internal,
                message: "reply without data nor error".into(),
                details: None,
            }),
        }
    }
}

impl Decode for CommandReply {
    fn decode(kind: &str, payload: &RawValue) -> Result<Self, DecodeError> {
        if kind != REPLY_KIND {
            return Err(DecodeError::UnexpectedType(kind.to_string()));
        }
        parse_payload(kind, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip() {
        let ok = CommandReply::ok(serde_json::json!([1, 2]));
        let back: CommandReply =
            serde_json::from_str(&serde_json::to_string(&ok).unwrap()).unwrap();
        assert_eq!(back.into_result().unwrap(), serde_json::json!([1, 2]));
        let err = CommandReply::err(ErrorCode::NotFound, "incident 9 not found");
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["error"]["code"], "not_found");
        assert_eq!(err.into_result().unwrap_err().code, ErrorCode::NotFound);
    }
}
