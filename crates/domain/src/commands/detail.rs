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
        if let Some(at) = a.approved_at {
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
            let detail = a.error.clone().or(a.reason.clone()).unwrap_or(what);
            t.push(entry(
                at,
                &format!("action_{}", a.status),
                a.rejected_by.as_deref(),
                Some(detail),
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
            "started_at": "2026-11-29T10:02:00Z", "completed_at": "2026-11-29T10:04:00Z"
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
        assert_eq!(
            t[4].detail.as_deref(),
            Some("automated_action, MTTR 300.0s")
        );
    }
}
