//! Payloads of the domain events on the `logs.events` exchange, and [`Event`], which decodes
//! any of them from its envelope type.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::action::{ActionResult, ActionSummary, ActionType, Channel};
use crate::envelope::{Decode, DecodeError, Payload, parse_payload};
use crate::incident::{IncidentSummary, ResolutionMethod};
use crate::logs::LogRecord;
use crate::names::exchange;
use crate::postmortem::{IncidentMemory, Writer};

/// Event type names (also their routing keys on `logs.events`).
pub mod kind {
    pub const INCIDENT_DETECTED: &str = "incident.detected";
    pub const INCIDENT_UPDATED: &str = "incident.updated";
    pub const INCIDENT_ACKNOWLEDGED: &str = "incident.acknowledged";
    pub const INCIDENT_RESOLVED: &str = "incident.resolved";
    pub const ACTION_REQUESTED: &str = "action.requested";
    pub const ACTION_APPROVED: &str = "action.approved";
    pub const ACTION_STARTED: &str = "action.started";
    pub const ACTION_COMPLETED: &str = "action.completed";
    pub const ACTION_FAILED: &str = "action.failed";
    pub const ACTION_REJECTED: &str = "action.rejected";
    pub const HEALTH_SERVICE_DOWN: &str = "health.service.down";
    pub const HEALTH_SERVICE_UP: &str = "health.service.up";
    pub const POSTMORTEM_GENERATED: &str = "postmortem.generated";
    /// Prefix of `audit.<verb>`.
    pub const AUDIT_PREFIX: &str = "audit.";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentDetected {
    pub incident: IncidentSummary,
    /// The log that opened the incident.
    pub first_log: LogRecord,
    /// The automatic action the rule requested, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_id: Option<i64>,
    /// Similar earlier incidents and how the last one was fixed, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<IncidentMemory>,
}

/// Why an `incident.updated` was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateReason {
    /// More matching logs arrived.
    Occurrences,
    /// Another rule matched the same failure (the same build of the job): its rule is now
    /// listed and the severity is the worst of them.
    Correlated,
    /// A corrective action failed; the incident stays open.
    ActionFailed,
    /// A corrective action was rejected by the guard or a person.
    ActionRejected,
    /// A corrective action ran as a dry run: nothing was done, the incident stays open.
    DryRun,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentUpdated {
    pub incident: IncidentSummary,
    pub reason: UpdateReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_id: Option<i64>,
    /// The failure or rejection that caused the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentAcknowledged {
    pub incident: IncidentSummary,
    pub acknowledged_by: String,
    pub acknowledged_at: DateTime<Utc>,
    pub channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentResolved {
    pub incident: IncidentSummary,
    pub resolved_by: String,
    pub resolved_at: DateTime<Utc>,
    pub resolution_method: ResolutionMethod,
    /// Resolution time minus detection time.
    pub mttr_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionRequested {
    pub action: ActionSummary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionApproved {
    pub action: ActionSummary,
    pub approved_by: String,
    pub approved_at: DateTime<Utc>,
}

/// Identifies the action a runner result is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionRef {
    pub action_id: i64,
    pub action_type: ActionType,
    pub target_job: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_build: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionStarted {
    pub action: ActionRef,
    /// The runner instance that claimed the action.
    pub runner: String,
    pub started_at: DateTime<Utc>,
    pub lease_expires_at: DateTime<Utc>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionCompleted {
    pub action: ActionRef,
    pub result: ActionResult,
    pub completed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionFailed {
    pub action: ActionRef,
    pub reason: String,
    /// A machine-readable class of the failure (`jenkins_5xx`, `timeout`, `runner_lost`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    pub failed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionRejected {
    pub action: ActionRef,
    pub reason: String,
    /// `guard` when the runner's guard refused, else the person who denied it.
    pub rejected_by: String,
    pub rejected_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceHealthChanged {
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<DateTime<Utc>>,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PostmortemGenerated {
    pub postmortem_id: i64,
    pub incident_id: i64,
    /// 1 for the first report of the incident; regenerating adds versions.
    #[serde(default = "first_version")]
    pub version: i32,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Which path wrote it.
    #[serde(default = "template_writer")]
    pub writer: Writer,
    /// Where the whole report is (`GET /api/incidents/{id}/postmortem`), when the
    /// orchestrator knows its public URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Length of the Markdown report, in characters.
    #[serde(default)]
    pub length: usize,
    pub generated_at: DateTime<Utc>,
}

fn first_version() -> i32 {
    1
}

fn template_writer() -> Writer {
    Writer::Template
}

/// Whether an audited attempt was carried out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    #[default]
    Allowed,
    /// Refused by authentication, a role or the policy; the verb is then `denied` and
    /// `details.attempted` names what was tried.
    Denied,
}

/// Verb of the audit record of a refused attempt (`audit.denied`).
pub const AUDIT_DENIED: &str = "denied";

/// A change made (or refused) by a person, a rule or an agent: `audit.<verb>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditRecord {
    /// What was done, e.g. `incident.acknowledge`, `action.request`; `denied` for refusals.
    pub verb: String,
    /// The principal the server authenticated: a token's name, `rule:<name>`, or the
    /// trusted service (RabbitMQ user) that sent a command.
    pub actor: String,
    /// The end user a trusted service acted for (`slack:U123`), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    pub channel: Channel,
    #[serde(default)]
    pub outcome: AuditOutcome,
    /// The policy clause that allowed or refused it (e.g. `actions[2]`, `default-deny`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    /// `incident`, `action`, `rules`...
    pub target_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

/// Every domain event, decoded by its envelope type.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
// One event is decoded per message and handled at once; boxing the detection (the largest,
// with its first log and memory) would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    IncidentDetected(IncidentDetected),
    IncidentUpdated(IncidentUpdated),
    IncidentAcknowledged(IncidentAcknowledged),
    IncidentResolved(IncidentResolved),
    ActionRequested(ActionRequested),
    ActionApproved(ActionApproved),
    ActionStarted(ActionStarted),
    ActionCompleted(ActionCompleted),
    ActionFailed(ActionFailed),
    ActionRejected(ActionRejected),
    ServiceDown(ServiceHealthChanged),
    ServiceUp(ServiceHealthChanged),
    PostmortemGenerated(PostmortemGenerated),
    Audit(AuditRecord),
}

impl Event {
    pub fn kind(&self) -> String {
        use kind::*;
        match self {
            Event::IncidentDetected(_) => INCIDENT_DETECTED.into(),
            Event::IncidentUpdated(_) => INCIDENT_UPDATED.into(),
            Event::IncidentAcknowledged(_) => INCIDENT_ACKNOWLEDGED.into(),
            Event::IncidentResolved(_) => INCIDENT_RESOLVED.into(),
            Event::ActionRequested(_) => ACTION_REQUESTED.into(),
            Event::ActionApproved(_) => ACTION_APPROVED.into(),
            Event::ActionStarted(_) => ACTION_STARTED.into(),
            Event::ActionCompleted(_) => ACTION_COMPLETED.into(),
            Event::ActionFailed(_) => ACTION_FAILED.into(),
            Event::ActionRejected(_) => ACTION_REJECTED.into(),
            Event::ServiceDown(_) => HEALTH_SERVICE_DOWN.into(),
            Event::ServiceUp(_) => HEALTH_SERVICE_UP.into(),
            Event::PostmortemGenerated(_) => POSTMORTEM_GENERATED.into(),
            Event::Audit(a) => format!("{AUDIT_PREFIX}{}", a.verb),
        }
    }
}

impl Payload for Event {
    fn kind(&self) -> String {
        Event::kind(self)
    }

    fn exchange(&self) -> &'static str {
        exchange::EVENTS
    }
}

impl Decode for Event {
    fn decode(k: &str, payload: &RawValue) -> Result<Self, DecodeError> {
        use kind::*;
        Ok(match k {
            INCIDENT_DETECTED => Event::IncidentDetected(parse_payload(k, payload)?),
            INCIDENT_UPDATED => Event::IncidentUpdated(parse_payload(k, payload)?),
            INCIDENT_ACKNOWLEDGED => Event::IncidentAcknowledged(parse_payload(k, payload)?),
            INCIDENT_RESOLVED => Event::IncidentResolved(parse_payload(k, payload)?),
            ACTION_REQUESTED => Event::ActionRequested(parse_payload(k, payload)?),
            ACTION_APPROVED => Event::ActionApproved(parse_payload(k, payload)?),
            ACTION_STARTED => Event::ActionStarted(parse_payload(k, payload)?),
            ACTION_COMPLETED => Event::ActionCompleted(parse_payload(k, payload)?),
            ACTION_FAILED => Event::ActionFailed(parse_payload(k, payload)?),
            ACTION_REJECTED => Event::ActionRejected(parse_payload(k, payload)?),
            HEALTH_SERVICE_DOWN => Event::ServiceDown(parse_payload(k, payload)?),
            HEALTH_SERVICE_UP => Event::ServiceUp(parse_payload(k, payload)?),
            POSTMORTEM_GENERATED => Event::PostmortemGenerated(parse_payload(k, payload)?),
            _ if k.starts_with(AUDIT_PREFIX) => {
                let rec: AuditRecord = parse_payload(k, payload)?;
                if k[AUDIT_PREFIX.len()..] != rec.verb {
                    return Err(DecodeError::Payload {
                        kind: k.to_string(),
                        reason: format!("verb `{}` does not match the type", rec.verb),
                    });
                }
                Event::Audit(rec)
            }
            other => return Err(DecodeError::UnexpectedType(other.to_string())),
        })
    }
}

macro_rules! into_event {
    ($($t:ident => $v:ident),+ $(,)?) => {
        $(impl From<$t> for Event {
            fn from(p: $t) -> Event { Event::$v(p) }
        })+
    };
}
into_event!(
    IncidentDetected => IncidentDetected,
    IncidentUpdated => IncidentUpdated,
    IncidentAcknowledged => IncidentAcknowledged,
    IncidentResolved => IncidentResolved,
    ActionRequested => ActionRequested,
    ActionApproved => ActionApproved,
    ActionStarted => ActionStarted,
    ActionCompleted => ActionCompleted,
    ActionFailed => ActionFailed,
    ActionRejected => ActionRejected,
    PostmortemGenerated => PostmortemGenerated,
    AuditRecord => Audit,
);

#[cfg(test)]
mod tests;
