//! What the console's pages show, built from the orchestrator's records and the catalog:
//! incidents ordered by severity then age, the approval queue saying what waits for whom,
//! services with what exactly is degraded. Pure functions, so the order is unit-tested.

use chrono::{DateTime, Utc};
use domain::commands::{Action, Incident};

use crate::catalog::view::ServiceView;

pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `3 h 12 min`, `45 s`.
pub fn span(secs: f64) -> String {
    let s = secs.max(0.0) as i64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

pub struct IncidentRow {
    pub id: i64,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub target: String,
    pub source: String,
    pub occurrences: i64,
    pub detected: String,
    /// How long it has been open, or its MTTR once resolved.
    pub age: String,
    pub acknowledged_by: String,
}

/// The most severe first; within a severity the one open longest first.
pub fn incidents(mut items: Vec<Incident>, now: DateTime<Utc>) -> Vec<IncidentRow> {
    items.sort_by(|a, b| {
        rank(&a.severity)
            .cmp(&rank(&b.severity))
            .then(a.detected_at.cmp(&b.detected_at))
            .then(a.id.cmp(&b.id))
    });
    items.into_iter().map(|i| incident_row(i, now)).collect()
}

pub fn incident_row(i: Incident, now: DateTime<Utc>) -> IncidentRow {
    let age = match i.mttr_seconds {
        Some(m) => format!("MTTR {}", span(m)),
        None => format!("open {}", span((now - i.detected_at).num_seconds() as f64)),
    };
    IncidentRow {
        id: i.id,
        target: i.job_name.or(i.service).unwrap_or_default(),
        severity: i.severity,
        status: i.status,
        title: i.title,
        source: i.source,
        occurrences: i.occurrences,
        detected: when(i.detected_at),
        age,
        acknowledged_by: i.acknowledged_by.unwrap_or_default(),
    }
}

pub struct ActionRow {
    pub id: i64,
    pub action_type: String,
    pub status: String,
    pub target: String,
    pub incident_id: Option<i64>,
    pub requested_by: String,
    pub requested: String,
    /// What it waits for, in words.
    pub waits_for: String,
    pub reason: String,
    /// The logged-in person asked for it (the policy will refuse their approval).
    pub own: bool,
    pub outcome: String,
}

pub fn action_row(a: Action, me: &str) -> ActionRow {
    let waits_for = if a.status == "pending_approval" {
        let who = if a.approvals_required == 1 {
            "1 approver".to_string()
        } else {
            format!("{} distinct approvers", a.approvals_required)
        };
        let clause = a
            .policy_clause
            .as_deref()
            .map(|c| format!(" (policy clause `{c}`)"))
            .unwrap_or_default();
        format!("{who} other than {}{clause}", a.requested_by)
    } else {
        String::new()
    };
    let outcome = a
        .error
        .clone()
        .or_else(|| a.rejection_reason.clone())
        .unwrap_or_default();
    ActionRow {
        id: a.id,
        target: match a.target_build {
            Some(b) => format!("{} #{b}", a.target_job),
            None => a.target_job.clone(),
        },
        own: a.requested_by == me,
        action_type: a.action_type,
        status: a.status,
        incident_id: a.incident_id,
        requested: when(a.created_at),
        requested_by: match a.requested_via {
            Some(via) => format!("{} (via {via})", a.requested_by),
            None => a.requested_by,
        },
        waits_for,
        reason: a.reason.unwrap_or_default(),
        outcome,
    }
}

pub struct ServiceRow {
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub instances: String,
    pub last_seen: String,
    pub uptime_24h: String,
    /// Exactly what is wrong: failing dependencies, readiness checks, the probe's error.
    pub problem: String,
}

pub fn service_row(s: &ServiceView) -> ServiceRow {
    let mut problems = Vec::new();
    if !s.degraded.is_empty() {
        problems.push(format!("cannot reach {}", s.degraded.join(", ")));
    }
    if !s.not_ready.is_empty() {
        problems.push(format!("not ready: {}", s.not_ready.join(", ")));
    }
    if let Some(err) = s
        .probe
        .as_ref()
        .and_then(|p| p.last_check.as_ref())
        .and_then(|c| c.get("error"))
        .and_then(|e| e.as_str())
    {
        problems.push(err.to_string());
    }
    ServiceRow {
        name: s.service.clone(),
        kind: s.kind.as_str(),
        status: s.status.as_str(),
        instances: format!("{}/{}", s.instances_up, s.instances_total),
        last_seen: s.last_seen_at.map_or_else(|| "never".into(), when),
        uptime_24h: s
            .uptime_percent
            .h24
            .map_or_else(|| "—".into(), |p| format!("{p:.2} %")),
        problem: problems.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(id: i64, severity: &str, mins_ago: i64) -> Incident {
        let at = Utc::now() - chrono::Duration::minutes(mins_ago);
        serde_json::from_value(serde_json::json!({
            "id": id, "fingerprint": "f", "rule": "r", "title": "t", "severity": severity,
            "status": "open", "source": "jenkins", "group_key": "g", "job_name": "j",
            "build_number": null, "service": null, "path": null, "runbook_url": null,
            "details": {}, "first_log_id": null, "occurrences": 1, "detected_at": at,
            "last_seen_at": at, "last_notified_at": at, "acknowledged_by": null,
            "acknowledged_at": null, "resolved_by": null, "resolved_at": null,
            "resolution_method": null, "resolution_note": null, "mttr_seconds": null
        }))
        .unwrap()
    }

    #[test]
    fn the_critical_incident_comes_first_then_the_oldest() {
        let rows = incidents(
            vec![
                incident(1, "low", 90),
                incident(2, "high", 5),
                incident(3, "critical", 1),
                incident(4, "high", 60),
            ],
            Utc::now(),
        );
        let order: Vec<i64> = rows.iter().map(|r| r.id).collect();
        assert_eq!(order, [3, 4, 2, 1]);
        assert_eq!(rows[1].age, "open 1 h 0 min");
    }

    #[test]
    fn spans_read_well() {
        assert_eq!(span(42.0), "42 s");
        assert_eq!(span(600.0), "10 min");
        assert_eq!(span(90_000.0), "1 d 1 h");
    }
}
