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
}

/// Why an `incident.updated` was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateReason {
    /// More matching logs arrived.
    Occurrences,
    /// A corrective action failed; the incident stays open.
    ActionFailed,
    /// A corrective action was rejected by the guard or a person.
    ActionRejected,
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
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub generated_at: DateTime<Utc>,
}

/// A change made by a person or an agent: `audit.<verb>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditRecord {
    /// What was done, e.g. `incident.acknowledge`, `action.request`.
    pub verb: String,
    pub actor: String,
    pub channel: Channel,
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
mod tests {
    use super::*;
    use crate::action::ActionStatus;
    use crate::envelope::{Envelope, decode_envelope};
    use crate::incident::{IncidentStatus, Severity};
    use crate::logs::{JenkinsLog, Level, Source};

    pub(crate) fn incident() -> IncidentSummary {
        let t = "2026-11-01T10:00:00Z".parse().unwrap();
        IncidentSummary {
            id: 7,
            fingerprint: "jenkins_build_failure:deploy".into(),
            rule: "jenkins_build_failure".into(),
            title: "Build failed: deploy".into(),
            severity: Severity::High,
            status: IncidentStatus::Open,
            source: Source::Jenkins,
            job_name: Some("deploy".into()),
            build_number: Some(12),
            service: None,
            path: None,
            runbook_url: Some("https://wiki/runbooks/build".into()),
            occurrences: 3,
            detected_at: t,
            last_seen_at: t,
        }
    }

    fn action_ref() -> ActionRef {
        ActionRef {
            action_id: 3,
            action_type: ActionType::Restart,
            target_job: "deploy".into(),
            target_build: Some(12),
            incident_id: Some(7),
        }
    }

    /// One value of every event type, so round trips cover them all.
    fn every_event() -> Vec<Event> {
        let t: DateTime<Utc> = "2026-11-01T10:05:00Z".parse().unwrap();
        let action = ActionSummary {
            id: 3,
            action_type: ActionType::Rollback,
            status: ActionStatus::PendingApproval,
            target_job: "deploy".into(),
            target_build: Some(12),
            incident_id: Some(7),
            requested_by: "ana".into(),
            channel: Channel::Slack,
            requires_approval: true,
            params: Some(serde_json::json!({"target_build": 10})),
            reason: Some("bad deploy".into()),
            created_at: t,
        };
        let health = ServiceHealthChanged {
            service: "runner".into(),
            instance_id: Some("runner-1".into()),
            reason: Some("no heartbeat for 30s".into()),
            last_seen_at: Some(t),
            changed_at: t,
        };
        vec![
            Event::IncidentDetected(IncidentDetected {
                incident: incident(),
                first_log: LogRecord::Jenkins(JenkinsLog {
                    timestamp: t,
                    level: Level::Error,
                    message: "BUILD FAILED".into(),
                    job_name: Some("deploy".into()),
                    build_number: Some(12),
                    details: None,
                    source_id: Some("doc-1".into()),
                }),
                action_id: Some(3),
            }),
            Event::IncidentUpdated(IncidentUpdated {
                incident: incident(),
                reason: UpdateReason::ActionFailed,
                action_id: Some(3),
                detail: Some("jenkins answered 500".into()),
            }),
            Event::IncidentAcknowledged(IncidentAcknowledged {
                incident: incident(),
                acknowledged_by: "ana".into(),
                acknowledged_at: t,
                channel: Channel::Api,
            }),
            Event::IncidentResolved(IncidentResolved {
                incident: incident(),
                resolved_by: "runner".into(),
                resolved_at: t,
                resolution_method: ResolutionMethod::AutomatedAction,
                mttr_seconds: 300.0,
                action_id: Some(3),
            }),
            Event::ActionRequested(ActionRequested {
                action: action.clone(),
            }),
            Event::ActionApproved(ActionApproved {
                action,
                approved_by: "bob".into(),
                approved_at: t,
            }),
            Event::ActionStarted(ActionStarted {
                action: action_ref(),
                runner: "runner-a".into(),
                started_at: t,
                lease_expires_at: t,
                dry_run: false,
            }),
            Event::ActionCompleted(ActionCompleted {
                action: action_ref(),
                result: ActionResult {
                    queue_id: Some(5),
                    build_number: Some(13),
                    url: Some("http://jenkins/job/deploy/13/".into()),
                    build_result: Some("SUCCESS".into()),
                    duration_ms: 1500,
                    dry_run: false,
                },
                completed_at: t,
            }),
            Event::ActionFailed(ActionFailed {
                action: action_ref(),
                reason: "runner lost".into(),
                error_kind: Some("runner_lost".into()),
                failed_at: t,
            }),
            Event::ActionRejected(ActionRejected {
                action: action_ref(),
                reason: "job not allowed".into(),
                rejected_by: "guard".into(),
                rejected_at: t,
            }),
            Event::ServiceDown(health.clone()),
            Event::ServiceUp(health),
            Event::PostmortemGenerated(PostmortemGenerated {
                postmortem_id: 1,
                incident_id: 7,
                title: "Deploy outage".into(),
                summary: None,
                generated_at: t,
            }),
            Event::Audit(AuditRecord {
                verb: "incident.acknowledge".into(),
                actor: "ana".into(),
                channel: Channel::Slack,
                target_type: "incident".into(),
                target_id: Some("7".into()),
                details: None,
                at: t,
            }),
        ]
    }

    #[test]
    fn every_event_round_trips_through_its_envelope() {
        for event in every_event() {
            let env = Envelope::new("orchestrator", event.clone());
            assert_eq!(env.kind, event.routing_key());
            let back: Envelope<Event> =
                decode_envelope(&env.to_json()).unwrap_or_else(|e| panic!("{}: {e}", event.kind()));
            assert_eq!(back.payload, event, "{}", event.kind());
        }
    }

    #[test]
    fn audit_events_carry_their_verb_in_the_type() {
        let audit = every_event().pop().unwrap();
        assert_eq!(audit.kind(), "audit.incident.acknowledge");
        let mut env: serde_json::Value =
            serde_json::from_slice(&Envelope::new("x", audit).to_json()).unwrap();
        env["type"] = "audit.something.else".into();
        let err = decode_envelope::<Event>(env.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, DecodeError::Payload { .. }));
    }

    #[test]
    fn a_payload_of_the_wrong_shape_names_its_type() {
        let mut env: serde_json::Value =
            serde_json::from_slice(&Envelope::new("x", every_event().remove(0)).to_json()).unwrap();
        env["payload"]["incident"]["severity"] = "apocalyptic".into();
        match decode_envelope::<Event>(env.to_string().as_bytes()) {
            Err(DecodeError::Payload { kind, reason }) => {
                assert_eq!(kind, "incident.detected");
                assert!(reason.contains("apocalyptic"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
