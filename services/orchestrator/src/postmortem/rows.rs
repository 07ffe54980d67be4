//! Database rows → the `postmortem` crate's facts. The facts are stored with each report and
//! shown to the LLM as JSON, so a row and its fact serialise alike (checked below). The
//! incident, its actions and timeline need no mapping: the crate takes the domain records.

use ::postmortem::{LogLine, SimilarIncident};

use crate::repo::postmortems::LogLine as LogRow;
use crate::repo::similar::SimilarIncident as SimilarRow;

impl From<SimilarRow> for SimilarIncident {
    fn from(r: SimilarRow) -> Self {
        let i = r.incident;
        SimilarIncident {
            id: i.id,
            title: i.title,
            rule: i.rule,
            status: i.status,
            job_name: i.job_name,
            build_number: i.build_number,
            service: i.service,
            detected_at: i.detected_at,
            resolved_at: i.resolved_at,
            resolution_method: i.resolution_method,
            resolved_by: i.resolved_by,
            mttr_seconds: i.mttr_seconds,
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
        same_json::<_, SimilarIncident>(SimilarRow {
            incident: domain::commands::PastIncident {
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
            },
            signature: "sig".into(),
            same_fingerprint: true,
            similarity: 0.5,
            fixed_by: Some("restart".into()),
        });
    }
}
