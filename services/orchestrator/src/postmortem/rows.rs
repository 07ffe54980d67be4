//! Database rows → the `postmortem` crate's facts. The facts are stored with each report and
//! shown to the LLM as JSON, so a row and its fact serialise alike (checked below).

use ::postmortem::{Action, Incident, LogLine, SimilarIncident, TimelineEntry};

use crate::incidents::TimelineEntry as TimelineRow;
use crate::repo::actions::ActionRow;
use crate::repo::incidents::IncidentRow;
use crate::repo::postmortems::{LogLine as LogRow, SimilarIncident as SimilarRow};

impl From<IncidentRow> for Incident {
    fn from(r: IncidentRow) -> Self {
        // `signature` is not a fact: it only selects the similar incidents.
        Incident {
            id: r.id,
            fingerprint: r.fingerprint,
            rule: r.rule,
            title: r.title,
            severity: r.severity,
            status: r.status,
            source: r.source,
            group_key: r.group_key,
            job_name: r.job_name,
            build_number: r.build_number,
            service: r.service,
            path: r.path,
            runbook_url: r.runbook_url,
            details: r.details,
            first_log_id: r.first_log_id,
            occurrences: r.occurrences,
            detected_at: r.detected_at,
            last_seen_at: r.last_seen_at,
            last_notified_at: r.last_notified_at,
            acknowledged_by: r.acknowledged_by,
            acknowledged_at: r.acknowledged_at,
            resolved_by: r.resolved_by,
            resolved_at: r.resolved_at,
            resolution_method: r.resolution_method,
            resolution_note: r.resolution_note,
            mttr_seconds: r.mttr_seconds,
        }
    }
}

impl From<ActionRow> for Action {
    fn from(r: ActionRow) -> Self {
        Action {
            id: r.id,
            action_type: r.action_type,
            status: r.status,
            target_job: r.target_job,
            target_build: r.target_build,
            incident_id: r.incident_id,
            requested_by: r.requested_by,
            channel: r.channel,
            requires_approval: r.requires_approval,
            approvals_required: r.approvals_required,
            policy_clause: r.policy_clause,
            requested_via: r.requested_via,
            approved_by: r.approved_by,
            approved_at: r.approved_at,
            rejected_by: r.rejected_by,
            reason: r.reason,
            rejection_reason: r.rejection_reason,
            params: r.params,
            dry_run: r.dry_run,
            claimed_by: r.claimed_by,
            result: r.result,
            error: r.error,
            error_kind: r.error_kind,
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.started_at,
            completed_at: r.completed_at,
        }
    }
}

impl From<TimelineRow> for TimelineEntry {
    fn from(e: TimelineRow) -> Self {
        TimelineEntry {
            at: e.at,
            event: e.event,
            by: e.by,
            detail: e.detail,
        }
    }
}

impl From<SimilarRow> for SimilarIncident {
    fn from(r: SimilarRow) -> Self {
        SimilarIncident {
            id: r.id,
            title: r.title,
            rule: r.rule,
            status: r.status,
            job_name: r.job_name,
            build_number: r.build_number,
            service: r.service,
            detected_at: r.detected_at,
            resolved_at: r.resolved_at,
            resolution_method: r.resolution_method,
            resolved_by: r.resolved_by,
            mttr_seconds: r.mttr_seconds,
            signature: r.signature,
            same_fingerprint: r.same_fingerprint,
            similarity: r.similarity,
            fixed_by: r.fixed_by,
        }
    }
}

impl From<LogRow> for LogLine {
    fn from(l: LogRow) -> Self {
        LogLine {
            timestamp: l.timestamp,
            level: l.level,
            message: l.message,
            build_number: l.build_number,
            details: l.details,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde::Serialize;
    use serde_json::json;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Every field set (no `None`), so that a column missing from the fact shows.
    fn same_json<R: Serialize + Clone, F: Serialize + From<R>>(row: R) {
        let a = serde_json::to_value(row.clone()).unwrap();
        let b = serde_json::to_value(F::from(row)).unwrap();
        assert_eq!(a, b);
        assert!(a.as_object().unwrap().values().all(|v| !v.is_null()), "{a}");
    }

    #[test]
    fn rows_and_facts_serialise_alike() {
        same_json::<_, Incident>(IncidentRow {
            id: 1,
            fingerprint: "f".into(),
            rule: "r".into(),
            title: "t".into(),
            severity: "high".into(),
            status: "resolved".into(),
            source: "jenkins".into(),
            group_key: "g".into(),
            job_name: Some("j".into()),
            build_number: Some(2),
            service: Some("s".into()),
            path: Some("/p".into()),
            runbook_url: Some("https://r".into()),
            details: json!({"a": 1}),
            first_log_id: Some(3),
            occurrences: 4,
            detected_at: t("2026-11-29T10:00:00Z"),
            last_seen_at: t("2026-11-29T10:01:00Z"),
            last_notified_at: t("2026-11-29T10:02:00Z"),
            acknowledged_by: Some("ana".into()),
            acknowledged_at: Some(t("2026-11-29T10:03:00Z")),
            resolved_by: Some("bob".into()),
            resolved_at: Some(t("2026-11-29T10:04:00Z")),
            resolution_method: Some("manual".into()),
            resolution_note: Some("n".into()),
            mttr_seconds: Some(240.0),
            signature: "sig".into(),
        });
        same_json::<_, Action>(ActionRow {
            id: 1,
            action_type: "restart".into(),
            status: "completed".into(),
            target_job: "j".into(),
            target_build: Some(2),
            incident_id: Some(1),
            requested_by: "ana".into(),
            channel: "api".into(),
            requires_approval: true,
            approvals_required: 1,
            policy_clause: Some("c".into()),
            requested_via: Some("amqp:chatops".into()),
            approved_by: Some("bob".into()),
            approved_at: Some(t("2026-11-29T10:00:00Z")),
            rejected_by: Some("carl".into()),
            reason: Some("why".into()),
            rejection_reason: Some("guard".into()),
            params: json!({}),
            dry_run: Some(false),
            claimed_by: Some("runner-1".into()),
            result: Some(json!({"ok": true})),
            error: Some("e".into()),
            error_kind: Some("jenkins_5xx".into()),
            created_at: t("2026-11-29T10:00:00Z"),
            updated_at: t("2026-11-29T10:01:00Z"),
            started_at: Some(t("2026-11-29T10:02:00Z")),
            completed_at: Some(t("2026-11-29T10:03:00Z")),
        });
        same_json::<_, TimelineEntry>(TimelineRow {
            at: t("2026-11-29T10:00:00Z"),
            event: "detected".into(),
            by: Some("rule:r".into()),
            detail: Some("d".into()),
        });
        same_json::<_, SimilarIncident>(SimilarRow {
            id: 9,
            title: "t".into(),
            rule: "r".into(),
            status: "resolved".into(),
            job_name: Some("j".into()),
            build_number: Some(1),
            service: Some("s".into()),
            detected_at: t("2026-11-29T10:00:00Z"),
            resolved_at: Some(t("2026-11-29T10:01:00Z")),
            resolution_method: Some("automated_action".into()),
            resolved_by: Some("rule:r".into()),
            mttr_seconds: Some(60.0),
            signature: "sig".into(),
            same_fingerprint: true,
            similarity: 0.5,
            fixed_by: Some("restart".into()),
        });
    }
}
