//! `command.incidents.get`: an incident with its evidence, its actions and what happened.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::actions::Action;
use super::incidents::Incident;
use super::logs::StoredLog;

/// One incident with its evidence, actions and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub logs: Vec<StoredLog>,
    pub actions: Vec<Action>,
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub by: Option<String>,
    pub detail: Option<String>,
}

fn entry(
    at: DateTime<Utc>,
    event: &str,
    by: Option<&str>,
    detail: Option<String>,
) -> TimelineEntry {
    TimelineEntry {
        at,
        event: event.into(),
        by: by.map(str::to_string),
        detail,
    }
}

/// How an ended action came out, in words.
fn outcome(a: &Action, what: &str) -> String {
    let build = a
        .result
        .as_ref()
        .and_then(|r| r.get("build_number"))
        .and_then(serde_json::Value::as_i64);
    let dry = if a.dry_run == Some(true) {
        " (dry run: Jenkins was not called)"
    } else {
        ""
    };
    match a.status.as_str() {
        "completed" => match build {
            Some(n) => format!("{what}: completed, Jenkins build #{n}{dry}"),
            None => format!("{what}: completed{dry}"),
        },
        "failed" => {
            let kind = a
                .error_kind
                .as_deref()
                .map(|k| format!(" [{k}]"))
                .unwrap_or_default();
            let why = a.error.as_deref().unwrap_or("no error recorded");
            format!("{what}: failed{kind}: {why}")
        }
        "rejected" => {
            let why = a
                .rejection_reason
                .as_deref()
                .unwrap_or("no reason recorded");
            format!("{what}: rejected: {why}")
        }
        other => format!("{what}: {other}"),
    }
}

/// What happened to an incident and its actions, oldest first.
pub fn timeline(i: &Incident, acts: &[Action]) -> Vec<TimelineEntry> {
    let mut t = vec![entry(
        i.detected_at,
        "detected",
        Some(&format!("rule:{}", i.rule)),
        Some(i.title.clone()),
    )];
    if i.occurrences > 1 {
        t.push(entry(
            i.last_seen_at,
            "last_seen",
            None,
            Some(format!("{} occurrences", i.occurrences)),
        ));
    }
    if let Some(at) = i.acknowledged_at {
        t.push(entry(
            at,
            "acknowledged",
            i.acknowledged_by.as_deref(),
            None,
        ));
    }
    for a in acts {
        let what = format!("{} of {} (action #{})", a.action_type, a.target_job, a.id);
        t.push(entry(
            a.created_at,
            "action_requested",
            Some(&a.requested_by),
            Some(what.clone()),
        ));
        // Every approval, who and when; an action approved before approvals were recorded
        // one by one shows its final approver.
        for (n, ap) in a.approvals.iter().enumerate() {
            t.push(entry(
                ap.at,
                "action_approved",
                Some(&ap.by),
                Some(format!(
                    "{what}: approval {} of {}",
                    n + 1,
                    a.approvals_required.max(a.approvals.len() as i32)
                )),
            ));
        }
        if a.approvals.is_empty()
            && let Some(at) = a.approved_at
        {
            t.push(entry(
                at,
                "action_approved",
                a.approved_by.as_deref(),
                Some(what.clone()),
            ));
        }
        if let Some(at) = a.started_at {
            t.push(entry(
                at,
                "action_started",
                a.claimed_by.as_deref(),
                Some(what.clone()),
            ));
        }
        if let Some(at) = a.completed_at {
            // Who ended it and how it really ended: the runner that ran it (or the person or
            // sweep that rejected it), and the outcome — never the request's own reason.
            let by = match a.status.as_str() {
                "rejected" => a.rejected_by.as_deref().or(a.claimed_by.as_deref()),
                _ => a.claimed_by.as_deref(),
            };
            t.push(entry(
                at,
                &format!("action_{}", a.status),
                by,
                Some(outcome(a, &what)),
            ));
        }
    }
    if let Some(at) = i.resolved_at {
        let detail = match (&i.resolution_method, i.mttr_seconds) {
            (Some(m), Some(s)) => Some(format!("{m}, MTTR {s:.1}s")),
            _ => None,
        };
        t.push(entry(at, "resolved", i.resolved_by.as_deref(), detail));
    }
    t.sort_by_key(|e| e.at);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_timeline_tells_detection_actions_and_resolution_in_order() {
        let incident: Incident = serde_json::from_value(json!({
            "id": 4, "fingerprint": "f", "rule": "build_failed", "title": "Build failed",
            "severity": "high", "status": "resolved", "source": "jenkins", "group_key": "g",
            "details": {}, "occurrences": 1,
            "detected_at": "2026-11-29T10:00:00Z", "last_seen_at": "2026-11-29T10:00:00Z",
            "last_notified_at": "2026-11-29T10:00:00Z",
            "resolved_by": "runner", "resolved_at": "2026-11-29T10:05:00Z",
            "resolution_method": "automated_action", "mttr_seconds": 300.0
        }))
        .unwrap();
        let action: Action = serde_json::from_value(json!({
            "id": 9, "action_type": "restart", "status": "completed", "target_job": "app",
            "requested_by": "rule:build_failed", "channel": "rule", "requires_approval": false,
            "approvals_required": 0, "params": {}, "claimed_by": "runner-1",
            "created_at": "2026-11-29T10:01:00Z", "updated_at": "2026-11-29T10:04:00Z",
            "started_at": "2026-11-29T10:02:00Z", "completed_at": "2026-11-29T10:04:00Z",
            "result": {"build_number": 43}, "reason": "the requester's reason"
        }))
        .unwrap();
        let t = timeline(&incident, &[action]);
        let events: Vec<&str> = t.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            events,
            [
                "detected",
                "action_requested",
                "action_started",
                "action_completed",
                "resolved"
            ]
        );
        assert_eq!(t[2].by.as_deref(), Some("runner-1"));
        assert_eq!(t[3].by.as_deref(), Some("runner-1"), "who ran it");
        assert_eq!(
            t[3].detail.as_deref(),
            Some("restart of app (action #9): completed, Jenkins build #43")
        );
        assert_eq!(
            t[4].detail.as_deref(),
            Some("automated_action, MTTR 300.0s")
        );
    }

    #[test]
    fn every_approval_is_on_the_timeline_and_a_failure_says_how_it_failed() {
        let incident: Incident = serde_json::from_value(json!({
            "id": 5, "fingerprint": "f", "rule": "r", "title": "t", "severity": "high",
            "status": "open", "source": "jenkins", "group_key": "g", "details": {},
            "occurrences": 1, "detected_at": "2026-11-29T10:00:00Z",
            "last_seen_at": "2026-11-29T10:00:00Z", "last_notified_at": "2026-11-29T10:00:00Z"
        }))
        .unwrap();
        let action: Action = serde_json::from_value(json!({
            "id": 3, "action_type": "rollback", "status": "failed", "target_job": "deploy-prod",
            "requested_by": "ana", "channel": "api", "requires_approval": true,
            "approvals_required": 2, "params": {}, "claimed_by": "runner-2",
            "approved_by": "carl", "approved_at": "2026-11-29T10:03:00Z",
            "approvals": [
                {"by": "bob", "at": "2026-11-29T10:02:00Z", "channel": "slack", "via": "amqp:chatops"},
                {"by": "carl", "at": "2026-11-29T10:03:00Z", "channel": "api"}
            ],
            "error": "jenkins answered 503", "error_kind": "jenkins_5xx", "reason": "please",
            "created_at": "2026-11-29T10:01:00Z", "updated_at": "2026-11-29T10:05:00Z",
            "started_at": "2026-11-29T10:04:00Z", "completed_at": "2026-11-29T10:05:00Z"
        }))
        .unwrap();
        let t = timeline(&incident, &[action]);
        let approvals: Vec<(&str, &str)> = t
            .iter()
            .filter(|e| e.event == "action_approved")
            .map(|e| (e.by.as_deref().unwrap(), e.detail.as_deref().unwrap()))
            .collect();
        assert_eq!(
            approvals,
            [
                (
                    "bob",
                    "rollback of deploy-prod (action #3): approval 1 of 2"
                ),
                (
                    "carl",
                    "rollback of deploy-prod (action #3): approval 2 of 2"
                )
            ]
        );
        let failed = t.iter().find(|e| e.event == "action_failed").unwrap();
        assert_eq!(failed.by.as_deref(), Some("runner-2"));
        assert_eq!(
            failed.detail.as_deref(),
            Some("rollback of deploy-prod (action #3): failed [jenkins_5xx]: jenkins answered 503")
        );
    }
}
