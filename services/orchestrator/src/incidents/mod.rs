//! IncidentService: incidents as people and agents see them — listing, details with
//! evidence and timeline, related incidents, statistics — and acknowledgement and manual
//! resolution.

use chrono::Utc;
use domain::ResolutionMethod;
use domain::commands::{
    Incident, IncidentDetail, IncidentFilter, IncidentPage, RelatedIncident, ResolveIncident,
    ResolveJob, Stats, timeline,
};
use domain::events::IncidentAcknowledged;

use crate::auth::Op;
use crate::base::Base;
use crate::error::ServiceError;
use crate::events::{Actor, audit_with, incident_resolved, message};
use crate::repo::incidents::{self as repo, Open, Resolution};
use crate::repo::similar;
use crate::repo::{actions, logs};
use crate::settings::SERVICE;

#[derive(Clone)]
pub struct IncidentService {
    base: Base,
    /// `incidents.similarity_threshold`: how alike two error texts must be to relate.
    similarity_threshold: f32,
}

fn not_found(id: i64) -> ServiceError {
    ServiceError::NotFound(format!("incident {id} not found"))
}

fn manual<'a>(actor: &'a Actor, note: Option<&'a str>) -> Resolution<'a> {
    Resolution {
        by: &actor.name,
        method: ResolutionMethod::Manual,
        note,
    }
}

impl IncidentService {
    pub fn new(base: Base, similarity_threshold: f32) -> Self {
        IncidentService {
            base,
            similarity_threshold,
        }
    }

    pub async fn list(
        &self,
        actor: &Actor,
        f: &IncidentFilter,
    ) -> Result<IncidentPage, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "incidents", None)
            .await?;
        Ok(repo::list(&self.base.pool, &f.check()?).await?)
    }

    pub async fn get(&self, actor: &Actor, id: i64) -> Result<IncidentDetail, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "incident", Some(id.to_string()))
            .await?;
        let incident = repo::get(&self.base.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let logs = logs::for_incident(&self.base.pool, id).await?;
        let actions = actions::for_incident(&self.base.pool, id).await?;
        let timeline = timeline(&incident, &actions);
        Ok(IncidentDetail {
            incident,
            logs,
            actions,
            timeline,
        })
    }

    pub async fn acknowledge(&self, actor: &Actor, id: i64) -> Result<Incident, ServiceError> {
        let clause = self
            .base
            .authz
            .authorize(actor, Op::Acknowledge, "incident", Some(id.to_string()))
            .await?;
        let mut tx = self.base.pool.begin().await?;
        let Some(row) = repo::acknowledge(&mut tx, id, &actor.name).await? else {
            let current = repo::get(&mut *tx, id)
                .await?
                .ok_or_else(|| not_found(id))?;
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

    pub async fn resolve(
        &self,
        actor: &Actor,
        req: &ResolveIncident,
    ) -> Result<Incident, ServiceError> {
        let id = req.id;
        let clause = self
            .base
            .authz
            .authorize(actor, Op::Resolve, "incident", Some(id.to_string()))
            .await?;
        req.check()?;
        let note = req.note.as_deref();
        let mut tx = self.base.pool.begin().await?;
        let resolved = repo::resolve(&mut tx, Open::Id(id), manual(actor, note)).await?;
        let Some(row) = resolved.into_iter().next() else {
            repo::get(&mut *tx, id)
                .await?
                .ok_or_else(|| not_found(id))?;
            return Err(ServiceError::Conflict(format!(
                "incident {id} is already resolved"
            )));
        };
        self.base.metrics.resolved(&row);
        let events = [
            incident_resolved(&row, None),
            audit_with(
                actor,
                "incident.resolve",
                "incident",
                Some(id.to_string()),
                note.map(|n| serde_json::json!({"note": n})),
                Some(&clause),
            ),
        ];
        store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
        tx.commit().await?;
        tracing::info!(incident_id = id, by = %actor.name, "incident resolved");
        Ok(row)
    }

    /// The seed's resolve-by-job: every open incident of a Jenkins job.
    pub async fn resolve_job(
        &self,
        actor: &Actor,
        req: &ResolveJob,
    ) -> Result<Vec<Incident>, ServiceError> {
        let job = req.job_name.as_str();
        let clause = self
            .base
            .authz
            .authorize(actor, Op::Resolve, "job", Some(job.to_string()))
            .await?;
        req.check()?;
        let mut tx = self.base.pool.begin().await?;
        let rows =
            repo::resolve(&mut tx, Open::Job(job), manual(actor, req.note.as_deref())).await?;
        let mut events: Vec<_> = rows
            .iter()
            .map(|r| {
                self.base.metrics.resolved(r);
                incident_resolved(r, None)
            })
            .collect();
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

    pub async fn stats(
        &self,
        actor: &Actor,
        since: Option<chrono::DateTime<Utc>>,
    ) -> Result<Stats, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "stats", None)
            .await?;
        Ok(repo::stats(&self.base.pool, since).await?)
    }

    /// Incidents with the same fingerprint, a similar error text or a similar title, best
    /// first.
    pub async fn related(
        &self,
        actor: &Actor,
        id: i64,
        limit: i64,
    ) -> Result<Vec<RelatedIncident>, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "incident", Some(id.to_string()))
            .await?;
        let subject = similar::subject(&self.base.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(similar::related(&self.base.pool, &subject, self.similarity_threshold, limit).await?)
    }
}
