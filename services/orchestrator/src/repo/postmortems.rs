//! PostmortemRepository: versioned reports and the logs a report summarises. The incidents
//! similar to one are in [`super::similar`].

use chrono::{DateTime, Utc};
use domain::commands::{Postmortem, PostmortemVersion};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::col;

fn postmortem(r: PgRow) -> Result<Postmortem, sqlx::Error> {
    Ok(Postmortem {
        id: col(&r, "id")?,
        incident_id: col(&r, "incident_id")?,
        version: col(&r, "version")?,
        title: col(&r, "title")?,
        summary: col(&r, "summary")?,
        markdown: col(&r, "markdown")?,
        writer: col(&r, "writer")?,
        writer_note: col(&r, "writer_note")?,
        model: col(&r, "model")?,
        trigger: col(&r, "trigger")?,
        requested_by: col(&r, "requested_by")?,
        facts: col(&r, "facts")?,
        generated_at: col(&r, "generated_at")?,
    })
}

/// A report about to be stored.
pub struct NewPostmortem<'a> {
    pub incident_id: i64,
    pub title: &'a str,
    pub summary: &'a str,
    pub markdown: &'a str,
    pub writer: &'a str,
    pub writer_note: Option<&'a str>,
    pub model: Option<&'a str>,
    pub trigger: &'a str,
    pub requested_by: &'a str,
    pub source_event: Option<Uuid>,
    pub facts: &'a serde_json::Value,
}

/// Versions of one incident are numbered one at a time: held until the transaction ends
/// (taking it again in the same transaction is harmless).
pub async fn lock(tx: &mut PgConnection, incident_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('postmortem:' || $1::text, 0))")
        .bind(incident_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Stores the next version of the incident's report; `None` when `source_event` already
/// produced one (a redelivered `incident.resolved`).
pub async fn insert(
    tx: &mut PgConnection,
    p: &NewPostmortem<'_>,
) -> Result<Option<Postmortem>, sqlx::Error> {
    lock(tx, p.incident_id).await?;
    sqlx::query(
        "INSERT INTO postmortems (incident_id, version, title, summary, markdown, writer, writer_note,
                                  model, trigger, requested_by, source_event, facts)
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
         FROM postmortems WHERE incident_id = $1
         ON CONFLICT (source_event) DO NOTHING
         RETURNING *",
    )
    .bind(p.incident_id)
    .bind(p.title)
    .bind(p.summary)
    .bind(p.markdown)
    .bind(p.writer)
    .bind(p.writer_note)
    .bind(p.model)
    .bind(p.trigger)
    .bind(p.requested_by)
    .bind(p.source_event)
    .bind(p.facts)
    .try_map(postmortem)
    .fetch_optional(tx)
    .await
}

/// The latest version, or `version`.
pub async fn get<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    incident_id: i64,
    version: Option<i32>,
) -> Result<Option<Postmortem>, sqlx::Error> {
    sqlx::query(
        "SELECT * FROM postmortems WHERE incident_id = $1 AND ($2::int IS NULL OR version = $2)
         ORDER BY version DESC LIMIT 1",
    )
    .bind(incident_id)
    .bind(version)
    .try_map(postmortem)
    .fetch_optional(ex)
    .await
}

/// Whether `source_event` already produced a report.
pub async fn exists_for_event(pool: &PgPool, event: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM postmortems WHERE source_event = $1)")
        .bind(event)
        .fetch_one(pool)
        .await
}

pub async fn versions(
    pool: &PgPool,
    incident_id: i64,
) -> Result<Vec<PostmortemVersion>, sqlx::Error> {
    sqlx::query(
        "SELECT id, version, writer, trigger, requested_by, generated_at FROM postmortems
         WHERE incident_id = $1 ORDER BY version DESC",
    )
    .bind(incident_id)
    .try_map(|r: PgRow| {
        Ok(PostmortemVersion {
            id: col(&r, "id")?,
            version: col(&r, "version")?,
            writer: col(&r, "writer")?,
            trigger: col(&r, "trigger")?,
            requested_by: col(&r, "requested_by")?,
            generated_at: col(&r, "generated_at")?,
        })
    })
    .fetch_all(pool)
    .await
}

/// A log line a report summarises.
#[derive(Debug, Clone, FromRow)]
pub struct LogLine {
    pub timestamp: DateTime<Utc>,
    pub level: String,
    pub message: String,
    pub build_number: Option<i64>,
    pub details: serde_json::Value,
}

/// Where a report's logs come from: the incident's evidence, plus the logs of its job (and
/// build) or its service and path between `since` and `until`.
pub struct LogScope<'a> {
    pub incident_id: i64,
    pub job_name: Option<&'a str>,
    pub build_number: Option<i64>,
    pub service: Option<&'a str>,
    pub path: Option<&'a str>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub limit: i64,
}

pub async fn log_lines(pool: &PgPool, s: &LogScope<'_>) -> Result<Vec<LogLine>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM (
            (SELECT timestamp, level, message, build_number, details FROM logs_jenkins
             WHERE id IN (SELECT jenkins_log_id FROM incident_logs WHERE incident_id = $1)
                OR ($2::text IS NOT NULL AND job_name = $2
                    AND ($3::int8 IS NULL OR build_number = $3)
                    AND timestamp BETWEEN $6 AND $7)
             ORDER BY timestamp LIMIT $8)
            UNION
            (SELECT timestamp, level, message, NULL::int8, details FROM logs_api
             WHERE id IN (SELECT api_log_id FROM incident_logs WHERE incident_id = $1)
                OR ($4::text IS NOT NULL AND service = $4 AND ($5::text IS NULL OR path = $5)
                    AND timestamp BETWEEN $6 AND $7)
             ORDER BY timestamp LIMIT $8)
         ) l ORDER BY timestamp LIMIT $8",
    )
    .bind(s.incident_id)
    .bind(s.job_name)
    .bind(s.build_number)
    .bind(s.service)
    .bind(s.path)
    .bind(s.since)
    .bind(s.until)
    .bind(s.limit)
    .fetch_all(pool)
    .await
}
