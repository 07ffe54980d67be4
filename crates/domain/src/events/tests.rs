//! Round trips of every event type.
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
        rules: Vec::new(),
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
        approvals_required: 1,
        requested_via: None,
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
            memory: Some(crate::postmortem::IncidentMemory {
                seen_before: 3,
                last_incident_id: Some(2),
                last_fixed_by: Some("restart".into()),
                last_mttr_seconds: Some(210.0),
                last_resolved_at: Some(t),
                same_failure: None,
                best_similarity: None,
            }),
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
            version: 2,
            title: "Deploy outage".into(),
            summary: None,
            writer: crate::postmortem::Writer::Llm,
            url: Some("https://runbooks.example/api/incidents/7/postmortem".into()),
            length: 4200,
            generated_at: t,
        }),
        Event::Audit(AuditRecord {
            verb: "incident.acknowledge".into(),
            actor: "ana".into(),
            on_behalf_of: None,
            outcome: Default::default(),
            clause: None,
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
