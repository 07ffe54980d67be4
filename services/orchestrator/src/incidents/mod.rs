//! Incidents as people and agents see them: listing, details with evidence and timeline,
//! acknowledgement and manual resolution.

use chrono::{DateTime, Utc};
use domain::ResolutionMethod;
use domain::events::{IncidentAcknowledged, IncidentResolved};
use serde::Serialize;

use crate::auth::Op;
use crate::core::Core;
use crate::error::ServiceError;
use crate::events::{Actor, audit_with, message};
use crate::repo::actions::{self, ActionRow};
use crate::repo::incidents::{
    self as repo, IncidentFilter, IncidentPage, IncidentRow, Open, Resolution, Stats,
};
use crate::repo::logs::{self, StoredLog};
use crate::settings::SERVICE;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct IncidentDetail {
    pub incident: IncidentRow,
    pub logs: Vec<StoredLog>,
    pub actions: Vec<ActionRow>,
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub by: Option<String>,
    pub detail: Option<String>,
}

/// A resolution note: bounded, and without NUL (which PostgreSQL text cannot hold).
fn check_note(note: Option<&str>) -> Result<(), ServiceError> {
    match note {
        Some(n) if n.chars().count() > 2000 || n.contains('\0') => Err(ServiceError::Invalid {
            field: "note".into(),
            message: "note must be at most 2000 characters without NUL".into(),
        }),
        _ => Ok(()),
    }
}

fn manual<'a>(actor: &'a Actor, note: Option<&'a str>) -> Resolution<'a> {
    Resolution {
        by: &actor.name,
        method: ResolutionMethod::Manual,
        note,
    }
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

pub(crate) fn timeline(i: &IncidentRow, acts: &[ActionRow]) -> Vec<TimelineEntry> {
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

impl Core {
    pub async fn list_incidents(
        &self,
        actor: &Actor,
        f: &IncidentFilter,
    ) -> Result<IncidentPage, ServiceError> {
        self.authorize(actor, Op::Read, "incidents", None).await?;
        repo::list(&self.pool, f).await
    }

    pub async fn get_incident(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<IncidentDetail, ServiceError> {
        self.authorize(actor, Op::Read, "incident", Some(id.to_string()))
            .await?;
        let incident = repo::get(&self.pool, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("incident {id} not found")))?;
        let logs = logs::for_incident(&self.pool, id).await?;
        let actions = actions::for_incident(&self.pool, id).await?;
        let timeline = timeline(&incident, &actions);
        Ok(IncidentDetail {
            incident,
            logs,
            actions,
            timeline,
        })
    }

    pub async fn acknowledge_incident(
        &self,
        id: i64,
        actor: &Actor,
    ) -> Result<IncidentRow, ServiceError> {
        let clause = self
            .authorize(actor, Op::Acknowledge, "incident", Some(id.to_string()))
            .await?;
        let mut tx = self.pool.begin().await?;
        let Some(row) = repo::acknowledge(&mut tx, id, &actor.name).await? else {
            let current = repo::get(&mut *tx, id)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("incident {id} not found")))?;
            return Err(ServiceError::Conflict(format!(
                "incident {id} is already {}",
                current.status
            )));
        };
        let events = [
            message(IncidentAcknowledged {
                incident: row.summary(),
                acknowledged_by: actor.name.clone(),
                acknowledged_at: row.acknowledged_at.unwrap_or_else(Utc::now),
                channel: actor.channel,
            }),
            audit_with(
                actor,
                "incident.acknowledge",
                "incident",
                Some(id.to_string()),
                None,
                Some(&clause),
            ),
        ];
        store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(incident_id = id, by = %actor.name, "incident acknowledged");
        Ok(row)
    }

    pub async fn resolve_incident(
        &self,
        id: i64,
        actor: &Actor,
        note: Option<&str>,
    ) -> Result<IncidentRow, ServiceError> {
        let clause = self
            .authorize(actor, Op::Resolve, "incident", Some(id.to_string()))
            .await?;
        check_note(note)?;
        let mut tx = self.pool.begin().await?;
        let resolved = repo::resolve(&mut tx, Open::Id(id), manual(actor, note)).await?;
        let Some(row) = resolved.into_iter().next() else {
            repo::get(&mut *tx, id)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("incident {id} not found")))?;
            return Err(ServiceError::Conflict(format!(
                "incident {id} is already resolved"
            )));
        };
        let mut events = vec![self.resolved_event(&row, None)];
        events.push(audit_with(
            actor,
            "incident.resolve",
            "incident",
            Some(id.to_string()),
            note.map(|n| serde_json::json!({"note": n})),
            Some(&clause),
        ));
        store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(incident_id = id, by = %actor.name, "incident resolved");
        Ok(row)
    }

    /// The seed's resolve-by-job: every open incident of a Jenkins job.
    pub async fn resolve_job_incidents(
        &self,
        job: &str,
        actor: &Actor,
        note: Option<&str>,
    ) -> Result<Vec<IncidentRow>, ServiceError> {
        let clause = self
            .authorize(actor, Op::Resolve, "job", Some(job.to_string()))
            .await?;
        if job.trim().is_empty() || job.chars().count() > 512 || job.contains('\0') {
            return Err(ServiceError::Invalid {
                field: "job_name".into(),
                message: "job_name must be 1..=512 characters".into(),
            });
        }
        check_note(note)?;
        let mut tx = self.pool.begin().await?;
        let rows = repo::resolve(&mut tx, Open::Job(job), manual(actor, note)).await?;
        let mut events: Vec<_> = rows.iter().map(|r| self.resolved_event(r, None)).collect();
        events.push(audit_with(
            actor,
            "incident.resolve_by_job",
            "job",
            Some(job.to_string()),
            Some(serde_json::json!({"resolved": rows.len()})),
            Some(&clause),
        ));
        store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
        tx.commit().await?;
        Ok(rows)
    }

    fn resolved_event(&self, row: &IncidentRow, action_id: Option<i64>) -> bus::OutgoingMessage {
        let mttr = row.mttr_seconds.unwrap_or_default();
        let method = row
            .resolution_method
            .as_deref()
            .and_then(|m| m.parse().ok())
            .unwrap_or(ResolutionMethod::Manual);
        self.metrics.observe_resolution(&row.severity, mttr);
        self.metrics
            .incidents_resolved
            .with_label_values(&[method.as_str()])
            .inc();
        message(IncidentResolved {
            incident: row.summary(),
            resolved_by: row.resolved_by.clone().unwrap_or_default(),
            resolved_at: row.resolved_at.unwrap_or_else(Utc::now),
            resolution_method: method,
            mttr_seconds: mttr,
            action_id,
        })
    }

    pub async fn stats(
        &self,
        actor: &Actor,
        since: Option<DateTime<Utc>>,
    ) -> Result<Stats, ServiceError> {
        self.authorize(actor, Op::Read, "stats", None).await?;
        repo::stats(&self.pool, since).await
    }

    pub async fn search_logs(
        &self,
        actor: &Actor,
        f: &crate::repo::logs::LogFilter,
    ) -> Result<Vec<StoredLog>, ServiceError> {
        self.authorize(actor, Op::Read, "logs", None).await?;
        logs::search(&self.pool, f).await
    }
}
