//! `command.incidents.*` and `command.stats.get`: the incident record every door shows, the
//! list filter, acknowledgement and resolution, the detail with its timeline, and the
//! statistics.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::de::Deserializer;
use serde::{Deserialize, Serialize};

use super::{InvalidField, check_page, check_text};
use crate::incident::IncidentSummary;
use crate::logs::Source;
use crate::{IncidentStatus, ResolutionMethod, Severity};

/// An incident as stored, as every door shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    pub id: i64,
    /// Rule name + group key: one open incident per fingerprint.
    pub fingerprint: String,
    /// The rule that opened it.
    pub rule: String,
    /// Every rule that matched this failure (the same build of a job), the opening rule
    /// first; the severity is the worst of theirs.
    #[serde(default)]
    pub rules: Vec<String>,
    pub title: String,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// `jenkins` or `api`.
    pub source: String,
    pub group_key: String,
    pub job_name: Option<String>,
    pub build_number: Option<i64>,
    pub service: Option<String>,
    pub path: Option<String>,
    pub runbook_url: Option<String>,
    pub details: serde_json::Value,
    pub first_log_id: Option<i64>,
    pub occurrences: i64,
    pub detected_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub last_notified_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// `manual`, `auto_recovered` or `automated_action`.
    pub resolution_method: Option<String>,
    pub resolution_note: Option<String>,
    pub mttr_seconds: Option<f64>,
}

impl Incident {
    // The table's CHECK constraints guarantee these columns hold the enums' words.
    pub fn severity(&self) -> Severity {
        self.severity.parse().unwrap_or(Severity::Medium)
    }

    pub fn status(&self) -> IncidentStatus {
        self.status.parse().unwrap_or(IncidentStatus::Open)
    }

    pub fn resolution_method(&self) -> Option<ResolutionMethod> {
        self.resolution_method
            .as_deref()
            .and_then(|m| m.parse().ok())
    }

    /// What events say about it.
    pub fn summary(&self) -> IncidentSummary {
        IncidentSummary {
            id: self.id,
            fingerprint: self.fingerprint.clone(),
            rule: self.rule.clone(),
            rules: self.rules.clone(),
            title: self.title.clone(),
            severity: self.severity(),
            status: self.status(),
            source: self.source.parse().unwrap_or(Source::Jenkins),
            job_name: self.job_name.clone(),
            build_number: self.build_number,
            service: self.service.clone(),
            path: self.path.clone(),
            runbook_url: self.runbook_url.clone(),
            occurrences: self.occurrences,
            detected_at: self.detected_at,
            last_seen_at: self.last_seen_at,
        }
    }
}

/// `command.incidents.list` and the query string of `GET /api/incidents`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentFilter {
    /// Comma-separated statuses; `active` means open and acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^(active|(open|acknowledged|resolved)(,(open|acknowledged|resolved))*)$"
    ))]
    pub status: Option<String>,
    /// Comma-separated severities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(critical|high|medium|low)(,(critical|high|medium|low))*$"))]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), regex(pattern = r"^[^\u0000]*$"))]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200), regex(pattern = r"^[^\u0000]*$"))]
    pub rule: Option<String>,
    /// 1..=200, default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
}

/// An [`IncidentFilter`] checked and parsed: what the database is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentQuery {
    pub statuses: Option<Vec<IncidentStatus>>,
    pub severities: Option<Vec<Severity>>,
    pub since: Option<DateTime<Utc>>,
    pub job: Option<String>,
    pub rule: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The words of a comma-separated list, each one parsed; an empty list is refused.
pub(super) fn words<T: std::str::FromStr<Err = String>>(
    list: &str,
    key: &'static str,
) -> Result<Vec<T>, InvalidField> {
    let words: Vec<T> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| InvalidField::new(key, format!("{key}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    if words.is_empty() {
        return Err(InvalidField::new(
            key,
            format!("{key} is empty; leave it out to match every {key}"),
        ));
    }
    Ok(words)
}

impl IncidentFilter {
    /// Checks the limits and parses the lists.
    pub fn check(&self) -> Result<IncidentQuery, InvalidField> {
        let (limit, offset) = check_page(self.limit, self.offset)?;
        check_text("job", self.job.as_deref(), 512)?;
        check_text("rule", self.rule.as_deref(), 200)?;
        let statuses = match self.status.as_deref() {
            Some("active") => Some(vec![IncidentStatus::Open, IncidentStatus::Acknowledged]),
            Some(s) => Some(words::<IncidentStatus>(s, "status")?),
            None => None,
        };
        let severities = self
            .severity
            .as_deref()
            .map(|s| words::<Severity>(s, "severity"))
            .transpose()?;
        Ok(IncidentQuery {
            statuses,
            severities,
            since: self.since,
            job: self.job.clone(),
            rule: self.rule.clone(),
            limit,
            offset,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentPage {
    pub items: Vec<Incident>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// `command.incidents.get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetIncident {
    pub id: i64,
}

/// `command.incidents.ack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeIncident {
    pub id: i64,
}

/// A body that carries nothing (`{}`): acknowledging or approving over REST.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The body of `POST /api/incidents/{id}/resolve`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveNote {
    /// Why or how it was resolved (at most 2000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub note: Option<String>,
}

/// Resolves one incident by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveIncident {
    pub id: i64,
    /// Why or how it was resolved (at most 2000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub note: Option<String>,
}

impl ResolveIncident {
    pub fn check(&self) -> Result<(), InvalidField> {
        check_text("note", self.note.as_deref(), 2000)
    }
}

/// Resolves every open incident of a Jenkins job (`POST /api/incidents/resolve-by-job`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveJob {
    /// The Jenkins job whose open incidents are resolved.
    #[schemars(
        length(min = 1, max = 512),
        regex(pattern = r"^[^\u0000]*\S[^\u0000]*$")
    )]
    pub job_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000), regex(pattern = r"^[^\u0000]*$"))]
    pub note: Option<String>,
}

impl ResolveJob {
    pub fn check(&self) -> Result<(), InvalidField> {
        let job = &self.job_name;
        if job.trim().is_empty() || job.chars().count() > 512 || job.contains('\0') {
            return Err(InvalidField::new(
                "job_name",
                "job_name must be 1..=512 characters",
            ));
        }
        check_text("note", self.note.as_deref(), 2000)
    }
}

/// `command.incidents.resolve`: `{id, note?}` resolves one incident, `{job_name, note?}`
/// every open one of a job.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ResolveIncidents {
    One(ResolveIncident),
    Job(ResolveJob),
}

impl<'de> Deserialize<'de> for ResolveIncidents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The presence of `job_name` decides, so that errors name the fields of one shape.
        let v = serde_json::Value::deserialize(d)?;
        let by_job = v.get("job_name").is_some();
        let parsed = if by_job {
            serde_json::from_value(v).map(ResolveIncidents::Job)
        } else {
            serde_json::from_value(v).map(ResolveIncidents::One)
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// The reply to `command.incidents.resolve`: the incident, or those of the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Resolved {
    Job(ResolvedList),
    One(Box<Incident>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResolvedList {
    pub resolved: Vec<Incident>,
}

/// `command.stats.get` and the query string of `GET /api/metrics/summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Only incidents detected since then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    pub total: i64,
    pub by_severity: BTreeMap<String, i64>,
    pub by_status: BTreeMap<String, i64>,
    pub resolved: i64,
    pub mttr_p50_seconds: Option<f64>,
    pub mttr_p90_seconds: Option<f64>,
    pub mttr_mean_seconds: Option<f64>,
    /// Resolved automatically (recovery rule or corrective action) over all resolved.
    pub auto_resolved_ratio: Option<f64>,
    pub since: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_are_checked_with_the_field_named() {
        let f = |v| serde_json::from_value::<IncidentFilter>(v).unwrap().check();
        let q = f(json!({"status": "active", "severity": "high, low"})).unwrap();
        assert_eq!(
            q.statuses,
            Some(vec![IncidentStatus::Open, IncidentStatus::Acknowledged])
        );
        assert_eq!(q.severities, Some(vec![Severity::High, Severity::Low]));
        assert_eq!((q.limit, q.offset), (50, 0));
        for (v, field) in [
            (json!({"limit": 0}), "limit"),
            (json!({"offset": -1}), "offset"),
            (json!({"status": ","}), "status"),
            (json!({"status": "closed"}), "status"),
            (json!({"job": "a\u{0}b"}), "job"),
        ] {
            assert_eq!(f(v.clone()).unwrap_err().field, field, "{v}");
        }
        assert!(serde_json::from_value::<IncidentFilter>(json!({"user": "x"})).is_err());
    }

    #[test]
    fn resolve_requests_take_one_shape_or_the_other() {
        let one: ResolveIncidents = serde_json::from_value(json!({"id": 3, "note": "ok"})).unwrap();
        assert!(matches!(
            one,
            ResolveIncidents::One(ResolveIncident { id: 3, .. })
        ));
        let job: ResolveIncidents = serde_json::from_value(json!({"job_name": "a"})).unwrap();
        assert!(matches!(job, ResolveIncidents::Job(_)));
        for bad in [
            json!({"id": 3, "user": "U1"}),
            json!({"job_name": "a", "id": 3}),
            json!({"id": 3, "channel": "slack"}),
        ] {
            let e = serde_json::from_value::<ResolveIncidents>(bad.clone()).unwrap_err();
            assert!(e.to_string().contains("unknown field"), "{bad}: {e}");
        }
        let long = ResolveJob {
            job_name: " ".into(),
            note: None,
        };
        assert_eq!(long.check().unwrap_err().field, "job_name");
    }
}
