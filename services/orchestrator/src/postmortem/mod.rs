//! Post-mortems (seed 002): when an incident resolves, and on demand (REST, `/devops
//! postmortem`, MCP), the orchestrator assembles the facts — timeline, a summary of the
//! logs, the build's commits (asked of the runner), similar past incidents — and a writer
//! turns them into Markdown: the LLM when it answers with every section, the template
//! otherwise. Reports are versioned in `postmortems`; each emits `postmortem.generated`.

pub mod facts;
pub mod llm;
mod rows;

use ::postmortem::{Facts, Report};
use bus::{HandlerError, Message};
use domain::Event;
use domain::commands::{
    EditPostmortem, Postmortem, PostmortemVersion, PostmortemView, check_version,
};
use domain::events::PostmortemGenerated;
use domain::postmortem::Writer;
use uuid::Uuid;

use crate::auth::Op;
use crate::base::Base;
use crate::error::ServiceError;
use crate::events::{Actor, audit_with, message};
use crate::repo::postmortems::{self as repo, NewPostmortem};
use crate::settings::{OllamaSettings, PostmortemSettings, SERVICE};
use llm::Llm;

/// PostmortemService: reports on demand and on resolution, written from the assembled facts
/// by the LLM or the template, stored by version.
#[derive(Clone)]
pub struct PostmortemService {
    base: Base,
    /// For the runner's `command.jenkins.changes`.
    bus: bus::Bus,
    /// The LLM writer; `None` when disabled or not configured.
    llm: Option<Llm>,
    /// `ollama.enabled`: says why the template wrote a report when there is no LLM.
    llm_enabled: bool,
    settings: PostmortemSettings,
    /// `incidents.similarity_threshold`.
    similarity_threshold: f32,
}

/// Why a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The incident resolved (`incident.resolved` with this envelope id).
    Resolved(Uuid),
    /// Someone asked (REST, Slack, MCP).
    OnDemand,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Resolved(_) => "resolved",
            Trigger::OnDemand => "on_demand",
        }
    }
}

/// A written report before it is stored.
pub struct Written {
    pub title: String,
    pub summary: String,
    pub markdown: String,
    pub writer: Writer,
    pub note: Option<String>,
    pub model: Option<String>,
}

impl PostmortemService {
    /// Writes with the LLM `ollama` configures, when enabled.
    pub fn new(
        base: Base,
        bus: bus::Bus,
        ollama: &OllamaSettings,
        settings: PostmortemSettings,
        similarity_threshold: f32,
    ) -> Self {
        PostmortemService {
            base,
            bus,
            llm: Llm::new(ollama),
            llm_enabled: ollama.enabled,
            settings,
            similarity_threshold,
        }
    }

    /// The LLM writer, for the readiness check.
    pub fn llm(&self) -> Option<&Llm> {
        self.llm.as_ref()
    }

    /// The latest report of incident `id` (or `version`); the first one is written on the
    /// spot when there is none yet.
    pub async fn get(
        &self,
        actor: &Actor,
        id: i64,
        version: Option<i32>,
    ) -> Result<Postmortem, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "postmortem", Some(id.to_string()))
            .await?;
        check_version(version)?;
        if let Some(row) = repo::get(&self.base.pool, id, version).await? {
            return Ok(row);
        }
        if let Some(v) = version {
            return Err(ServiceError::NotFound(format!(
                "incident {id} has no post-mortem version {v}"
            )));
        }
        self.write_postmortem(id, Trigger::OnDemand, actor)
            .await?
            .ok_or_else(|| ServiceError::Internal("post-mortem not stored".into()))
    }

    /// Writes a new version of incident `id`'s report.
    pub async fn regenerate(&self, actor: &Actor, id: i64) -> Result<Postmortem, ServiceError> {
        self.base
            .authz
            .authorize(
                actor,
                Op::WritePostmortem,
                "postmortem",
                Some(id.to_string()),
            )
            .await?;
        self.write_postmortem(id, Trigger::OnDemand, actor)
            .await?
            .ok_or_else(|| ServiceError::Internal("post-mortem not stored".into()))
    }

    /// Saves a person's edited report as the next version, its author recorded; the facts
    /// stay those of the version edited. Nothing to edit yet, or another version saved
    /// since `based_on`, changes nothing.
    pub async fn edit(
        &self,
        actor: &Actor,
        id: i64,
        edit: EditPostmortem,
    ) -> Result<Postmortem, ServiceError> {
        self.base
            .authz
            .authorize(
                actor,
                Op::WritePostmortem,
                "postmortem",
                Some(id.to_string()),
            )
            .await?;
        edit.check()?;
        let mut tx = self.base.pool.begin().await?;
        repo::lock(&mut tx, id).await?;
        let Some(latest) = repo::get(&mut *tx, id, None).await? else {
            return Err(ServiceError::NotFound(format!(
                "incident {id} has no post-mortem to edit yet (POST without a body writes one)"
            )));
        };
        if let Some(base) = edit.based_on
            && base != latest.version
        {
            return Err(ServiceError::Conflict(format!(
                "the edit starts from version {base}, but version {} was saved since; \
                 start from it (based_on = {})",
                latest.version, latest.version
            )));
        }
        let note = format!("edited by {} from version {}", actor.name, latest.version);
        let title = edit
            .title
            .as_deref()
            .unwrap_or(&latest.title)
            .trim()
            .to_string();
        let summary = edit
            .summary
            .as_deref()
            .unwrap_or(&latest.summary)
            .to_string();
        let row = repo::insert(
            &mut tx,
            &NewPostmortem {
                incident_id: id,
                title: &title,
                summary: &summary,
                markdown: &edit.markdown,
                writer: Writer::Person.as_str(),
                writer_note: Some(&note),
                model: None,
                trigger: "edited",
                requested_by: &actor.name,
                source_event: None,
                facts: &latest.facts,
            },
        )
        .await?
        .ok_or_else(|| ServiceError::Internal("edited post-mortem not stored".into()))?;
        let details = serde_json::json!({
            "postmortem_id": row.id,
            "version": row.version,
            "edited_from": latest.version,
        });
        self.announce(
            tx,
            actor,
            &row,
            Writer::Person,
            "edited",
            "postmortem.edit",
            details,
        )
        .await?;
        tracing::info!(incident_id = id, version = row.version, author = %actor.name, "post-mortem edited");
        Ok(row)
    }

    /// Every version of incident `id`'s report, the latest first.
    pub async fn versions(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<Vec<PostmortemVersion>, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "postmortem", Some(id.to_string()))
            .await?;
        crate::repo::incidents::get(&self.base.pool, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("incident {id} not found")))?;
        Ok(repo::versions(&self.base.pool, id).await?)
    }

    /// Assembles, writes and stores a report, and emits `postmortem.generated`. `None` when
    /// the triggering event already produced one (a redelivery).
    pub async fn write_postmortem(
        &self,
        id: i64,
        trigger: Trigger,
        actor: &Actor,
    ) -> Result<Option<Postmortem>, ServiceError> {
        let facts = self.assemble_facts(id).await?;
        let w = self.write_report(&facts).await;
        let facts_json = serde_json::to_value(&facts)
            .map_err(|e| ServiceError::Internal(format!("facts not serialisable: {e}")))?;
        let source_event = match trigger {
            Trigger::Resolved(e) => Some(e),
            Trigger::OnDemand => None,
        };
        let mut tx = self.base.pool.begin().await?;
        let stored = repo::insert(
            &mut tx,
            &NewPostmortem {
                incident_id: id,
                title: &w.title,
                summary: &w.summary,
                markdown: &w.markdown,
                writer: w.writer.as_str(),
                writer_note: w.note.as_deref(),
                model: w.model.as_deref(),
                trigger: trigger.as_str(),
                requested_by: &actor.name,
                source_event,
                facts: &facts_json,
            },
        )
        .await?;
        let Some(row) = stored else {
            tx.rollback().await?;
            return Ok(None);
        };
        let details = serde_json::json!({
            "postmortem_id": row.id,
            "version": row.version,
            "writer": w.writer.as_str(),
            "trigger": trigger.as_str(),
        });
        self.announce(
            tx,
            actor,
            &row,
            w.writer,
            trigger.as_str(),
            "postmortem.generate",
            details,
        )
        .await?;
        tracing::info!(
            incident_id = id,
            version = row.version,
            writer = w.writer.as_str(),
            note = w.note.as_deref().unwrap_or(""),
            "post-mortem written"
        );
        Ok(Some(row))
    }

    /// Commits a stored version with its `postmortem.generated` and audit events (the outbox
    /// in the same transaction) and counts it.
    #[allow(clippy::too_many_arguments)]
    async fn announce(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        actor: &Actor,
        row: &Postmortem,
        writer: Writer,
        trigger: &str,
        audit: &str,
        details: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let id = row.incident_id;
        let events = [
            message(PostmortemGenerated {
                postmortem_id: row.id,
                incident_id: id,
                version: row.version,
                title: row.title.clone(),
                summary: Some(row.summary.clone()),
                writer,
                url: self.postmortem_url(id),
                length: row.markdown.chars().count(),
                generated_at: row.generated_at,
            }),
            audit_with(
                actor,
                audit,
                "incident",
                Some(id.to_string()),
                Some(details),
                None,
            ),
        ];
        store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
        tx.commit().await?;
        self.base
            .metrics
            .postmortems
            .with_label_values(&[writer.as_str(), trigger])
            .inc();
        Ok(())
    }

    /// The LLM's narrative when it answers with every section, else the template's.
    pub async fn write_report(&self, facts: &Facts) -> Written {
        let why = match &self.llm {
            None if self.llm_enabled => {
                "no LLM is configured (ollama.url / OLLAMA_URL is empty)".to_string()
            }
            None => "the LLM is disabled (ollama.enabled = false)".to_string(),
            Some(llm) => match llm.write(facts).await {
                Ok(n) => {
                    let r = Report::narrated(facts, &n, &llm.model);
                    return Written {
                        title: r.title,
                        summary: r.summary,
                        markdown: r.markdown,
                        writer: Writer::Llm,
                        note: None,
                        model: Some(llm.model.clone()),
                    };
                }
                Err(e) => {
                    tracing::warn!(incident_id = facts.incident.id, error = %e, "post-mortem falls back to the template");
                    e.to_string()
                }
            },
        };
        let r = Report::template(facts, &why);
        Written {
            title: r.title,
            summary: r.summary,
            markdown: r.markdown,
            writer: Writer::Template,
            note: Some(why),
            model: None,
        }
    }

    /// A report as chatops and MCP clients read it.
    pub fn view(&self, row: &Postmortem) -> PostmortemView {
        PostmortemView {
            id: row.id,
            incident_id: row.incident_id,
            version: row.version,
            title: row.title.clone(),
            summary: row.summary.clone(),
            writer: row.writer.clone(),
            writer_note: row.writer_note.clone(),
            markdown: row.markdown.clone(),
            url: self.postmortem_url(row.incident_id),
            generated_at: row.generated_at,
        }
    }

    pub fn postmortem_url(&self, id: i64) -> Option<String> {
        self.settings
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| format!("{}/api/incidents/{id}/postmortem", u.trim_end_matches('/')))
    }

    /// The `orchestrator.postmortems` consumer: a report for every resolved incident,
    /// once per `incident.resolved` (a redelivery finds the report of its event and does
    /// nothing).
    pub async fn on_resolved(&self, msg: Message<Event>) -> Result<(), HandlerError> {
        let Event::IncidentResolved(r) = &msg.envelope.payload else {
            return Ok(());
        };
        if !self.settings.on_resolve {
            return Ok(());
        }
        let event = msg.envelope.id;
        if repo::exists_for_event(&self.base.pool, event)
            .await
            .map_err(ServiceError::from)?
        {
            tracing::debug!(
                incident_id = r.incident.id,
                "post-mortem of this resolution already written"
            );
            return Ok(());
        }
        let actor = Actor::system("postmortem");
        match self
            .write_postmortem(r.incident.id, Trigger::Resolved(event), &actor)
            .await
        {
            Ok(_) => Ok(()),
            // The incident is gone (retention): nothing to write about.
            Err(ServiceError::NotFound(m)) => {
                tracing::info!(incident_id = r.incident.id, reason = %m, "no post-mortem: incident not found");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
