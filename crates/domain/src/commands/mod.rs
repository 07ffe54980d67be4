//! Request/reply over the `commands` exchange: routing keys `command.<area>.<verb>`, one
//! request type and one reply type per key ([`Command`]), and the reply envelope every
//! handler sends back. The orchestrator's REST API reads the same types as bodies and query
//! strings (without the id its path carries) and answers the same reply types, and its MCP
//! tools build them; JSON Schemas of each are generated into `docs/schemas/`.
//!
//! No request names who acts: the server decides the actor from what the broker or the
//! bearer token vouches for. Requests refuse unknown fields.

mod action_list;
mod actions;
mod detail;
mod incidents;
mod logs;
mod postmortems;
mod related;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::envelope::{Decode, DecodeError, parse_payload};
use crate::health::{HealthStatusReport, HealthStatusRequest};
use crate::jenkins::{BuildsRequest, JobBuilds};
use crate::postmortem::{BuildChanges, ChangesRequest};

pub use action_list::{ActionFilter, ActionPage, ActionQuery, Principal, WhoAmI};
pub use actions::{
    Action, ActionRequest, Approval, ApproveAction, DenyAction, DenyReason, GetAction,
};
pub use detail::{IncidentDetail, TimelineEntry, timeline};
pub use incidents::{
    AcknowledgeIncident, Empty, GetIncident, Incident, IncidentFilter, IncidentPage, IncidentQuery,
    ResolveIncident, ResolveIncidents, ResolveJob, ResolveNote, Resolved, ResolvedList, Stats,
    StatsQuery,
};
pub use logs::{LogFilter, LogPage, LogQuery, StoredLog};
pub use postmortems::{
    EditPostmortem, GeneratePostmortem, GetPostmortem, MAX_EDITED_MARKDOWN, Postmortem,
    PostmortemQuery, PostmortemVersion, PostmortemView, check_version,
};
pub use related::{PastIncident, RelatedIncident};

/// A request on the `commands` exchange: its routing key and what a successful reply's
/// `data` holds.
pub trait Command: Serialize + DeserializeOwned + JsonSchema {
    const KEY: &'static str;
    type Reply: Serialize + DeserializeOwned + JsonSchema;
}

macro_rules! commands {
    ($($req:ty => $reply:ty = $key:expr;)+) => {
        $(impl Command for $req {
            const KEY: &'static str = $key;
            type Reply = $reply;
        })+

        /// `(routing key, request schema, reply schema)` of every command.
        pub fn schemas() -> Vec<(&'static str, schemars::Schema, schemars::Schema)> {
            vec![$((
                $key,
                schemars::schema_for!($req),
                schemars::schema_for!($reply),
            )),+]
        }
    };
}

commands! {
    IncidentFilter => IncidentPage = key::INCIDENTS_LIST;
    GetIncident => IncidentDetail = key::INCIDENTS_GET;
    AcknowledgeIncident => Incident = key::INCIDENTS_ACK;
    ResolveIncidents => Resolved = key::INCIDENTS_RESOLVE;
    ActionRequest => Action = key::ACTIONS_REQUEST;
    GetAction => Action = key::ACTIONS_GET;
    ApproveAction => Action = key::ACTIONS_APPROVE;
    DenyAction => Action = key::ACTIONS_DENY;
    ActionFilter => ActionPage = key::ACTIONS_LIST;
    WhoAmI => Principal = key::AUTH_WHOAMI;
    StatsQuery => Stats = key::STATS_GET;
    LogFilter => LogPage = key::LOGS_SEARCH;
    GetPostmortem => PostmortemView = key::POSTMORTEMS_GET;
    GeneratePostmortem => PostmortemView = key::POSTMORTEMS_GENERATE;
    HealthStatusRequest => HealthStatusReport = key::HEALTH_STATUS;
    ChangesRequest => BuildChanges = key::JENKINS_CHANGES;
    BuildsRequest => JobBuilds = key::JENKINS_BUILDS;
}

pub use crate::invalid::InvalidField;

/// Free text of a request: at most `max` characters, and no NUL (which PostgreSQL text
/// cannot hold).
/// The `{items,total}` pages of incidents and actions: `limit` 1..=200 (50 when absent),
/// `offset` not negative (0 when absent).
pub(crate) fn check_page(
    limit: Option<i64>,
    offset: Option<i64>,
) -> Result<(i64, i64), InvalidField> {
    let limit = limit.unwrap_or(50);
    let offset = offset.unwrap_or(0);
    if !(1..=200).contains(&limit) {
        return Err(InvalidField::new(
            "limit",
            "limit must be between 1 and 200",
        ));
    }
    if offset < 0 {
        return Err(InvalidField::new("offset", "offset must not be negative"));
    }
    Ok((limit, offset))
}

pub(crate) fn check_text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<(), InvalidField> {
    match value {
        Some(v) if v.chars().count() > max || v.contains('\0') => Err(InvalidField::new(
            field,
            format!("{field} must be at most {max} characters without NUL"),
        )),
        _ => Ok(()),
    }
}

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
    /// Actions by status (the approval queue), job, incident, requester and time.
    pub const ACTIONS_LIST: &str = "command.actions.list";
    /// The principal the server judges the sender as (a console's login check).
    pub const AUTH_WHOAMI: &str = "command.auth.whoami";
    pub const STATS_GET: &str = "command.stats.get";
    pub const LOGS_SEARCH: &str = "command.logs.search";
    pub const HEALTH_STATUS: &str = "command.health.status";
    /// The latest post-mortem of an incident; written on the spot when it has none yet.
    pub const POSTMORTEMS_GET: &str = "command.postmortems.get";
    /// Writes a new version of an incident's post-mortem.
    pub const POSTMORTEMS_GENERATE: &str = "command.postmortems.generate";
    /// Answered by the runner: the commits of a build.
    pub const JENKINS_CHANGES: &str = "command.jenkins.changes";
    /// Answered by the runner: a job's builds after a given one and its last success.
    pub const JENKINS_BUILDS: &str = "command.jenkins.builds";
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

    /// A successful reply carrying `data`.
    pub fn ok_with<T: Serialize>(data: &T) -> Self {
        match serde_json::to_value(data) {
            Ok(v) => CommandReply::ok(v),
            Err(e) => CommandReply::err(
                ErrorCode::Internal,
                format!("the reply could not be written: {e}"),
            ),
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
