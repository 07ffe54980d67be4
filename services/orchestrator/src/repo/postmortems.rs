//! PostmortemRepository: versioned reports, the incidents similar to one (same fingerprint
//! or trigram-similar normalised error text), the memory `incident.detected` carries, and the
//! logs a report summarises.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// A stored report.
#[derive(Debug, Clone, FromRow, Serialize, schemars::JsonSchema)]
pub struct PostmortemRow {
    pub id: i64,
    pub incident_id: i64,
    /// 1 for the first report of the incident.
    pub version: i32,
    pub title: String,
    pub summary: String,
    /// The report, in Markdown.
    pub markdown: String,
    /// `llm` or `template`.
    pub writer: String,
    /// Why the template wrote it, when it did (LLM disabled, unreachable, incomplete answer).
    pub writer_note: Option<String>,
    /// The model that wrote it, when the LLM did.
    pub model: Option<String>,
    /// `resolved` or `on_demand`.
    pub trigger: String,
    pub requested_by: String,
    /// Everything the report was written from.
    pub facts: serde_json::Value,
    pub generated_at: DateTime<Utc>,
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

/// Stores the next version of the incident's report; `None` when `source_event` already
/// produced one (a redelivered `incident.resolved`).
pub async fn insert(
    tx: &mut PgConnection,
    p: &NewPostmortem<'_>,
) -> Result<Option<PostmortemRow>, sqlx::Error> {
    // Versions of one incident are numbered one at a time.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('postmortem:' || $1::text, 0))")
        .bind(p.incident_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query_as(
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
    .fetch_optional(tx)
    .await
}

/// The latest version, or `version`.
pub async fn get(
    pool: &PgPool,
    incident_id: i64,
    version: Option<i32>,
) -> Result<Option<PostmortemRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM postmortems WHERE incident_id = $1 AND ($2::int IS NULL OR version = $2)
         ORDER BY version DESC LIMIT 1",
    )
    .bind(incident_id)
    .bind(version)
    .fetch_optional(pool)
    .await
}

/// Whether `source_event` already produced a report.
pub async fn exists_for_event(pool: &PgPool, event: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM postmortems WHERE source_event = $1)")
        .bind(event)
        .fetch_one(pool)
        .await
}

/// One version in a listing.
#[derive(Debug, Clone, FromRow, Serialize, schemars::JsonSchema)]
pub struct VersionRow {
    pub id: i64,
    pub version: i32,
    pub writer: String,
    pub trigger: String,
    pub requested_by: String,
    pub generated_at: DateTime<Utc>,
}

pub async fn versions(pool: &PgPool, incident_id: i64) -> Result<Vec<VersionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, version, writer, trigger, requested_by, generated_at FROM postmortems
         WHERE incident_id = $1 ORDER BY version DESC",
    )
    .bind(incident_id)
    .fetch_all(pool)
    .await
}

/// An earlier (or later) incident like this one, and how it ended.
#[derive(Debug, Clone, FromRow, Serialize, schemars::JsonSchema)]
pub struct SimilarIncident {
    pub id: i64,
    pub title: String,
    pub rule: String,
    pub status: String,
    pub job_name: Option<String>,
    pub build_number: Option<i64>,
    pub service: Option<String>,
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// `manual`, `auto_recovered` or `automated_action`.
    pub resolution_method: Option<String>,
    pub resolved_by: Option<String>,
    pub mttr_seconds: Option<f64>,
    /// Its normalised error text.
    pub signature: String,
    /// Same rule and group: the same failure of the same job or endpoint again.
    pub same_fingerprint: bool,
    /// Trigram similarity of the normalised error texts, 0 to 1.
    pub similarity: f32,
    /// The action that fixed it (`restart`, `rollback`, `stop`) when one did, else the
    /// resolution method.
    pub fixed_by: Option<String>,
}

/// Incidents similar to `id`: the same fingerprint, or a normalised error text at least
/// `threshold` similar; most similar first, then same fingerprint, then the latest.
pub async fn similar(
    db: &mut PgConnection,
    id: i64,
    fingerprint: &str,
    signature: &str,
    threshold: f32,
    limit: i64,
) -> Result<Vec<SimilarIncident>, sqlx::Error> {
    // `%` lets the trigram index pick the candidates (pg_trgm's default limit is 0.3); the
    // configured threshold is never below it.
    sqlx::query_as(
        "SELECT i.id, i.title, i.rule, i.status, i.job_name, i.build_number, i.service,
                i.detected_at, i.resolved_at, i.resolution_method, i.resolved_by, i.mttr_seconds,
                i.signature, (i.fingerprint = $2) AS same_fingerprint,
                CASE WHEN $3 = '' THEN 0 ELSE similarity(i.signature, $3) END::real AS similarity,
                COALESCE((SELECT a.action_type FROM action_executions a
                          WHERE a.incident_id = i.id AND a.status = 'completed'
                                AND NOT COALESCE(a.dry_run, false)
                          ORDER BY a.completed_at DESC NULLS LAST LIMIT 1),
                         i.resolution_method) AS fixed_by
         FROM incidents i
         WHERE i.id <> $1
           AND (i.fingerprint = $2
                OR ($3 <> '' AND i.signature % $3 AND similarity(i.signature, $3) >= $4))
         ORDER BY similarity DESC, same_fingerprint DESC, i.detected_at DESC, i.id DESC
         LIMIT $5",
    )
    .bind(id)
    .bind(fingerprint)
    .bind(signature)
    .bind(threshold)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// What a new incident remembers: how many earlier incidents were like it, and the latest
/// resolved one among them.
#[derive(Debug, Clone, FromRow)]
pub struct Memory {
    pub seen_before: i64,
    pub last_incident_id: Option<i64>,
    pub last_fixed_by: Option<String>,
    pub last_mttr_seconds: Option<f64>,
    pub last_resolved_at: Option<DateTime<Utc>>,
}

pub async fn memory(
    tx: &mut PgConnection,
    id: i64,
    fingerprint: &str,
    signature: &str,
    threshold: f32,
) -> Result<Memory, sqlx::Error> {
    sqlx::query_as(
        "WITH alike AS (
             SELECT i.* FROM incidents i
             WHERE i.id < $1
               AND (i.fingerprint = $2
                    OR ($3 <> '' AND i.signature % $3 AND similarity(i.signature, $3) >= $4))
         ), last AS (
             SELECT id, mttr_seconds, resolved_at,
                    COALESCE((SELECT a.action_type FROM action_executions a
                              WHERE a.incident_id = alike.id AND a.status = 'completed'
                                    AND NOT COALESCE(a.dry_run, false)
                              ORDER BY a.completed_at DESC NULLS LAST LIMIT 1),
                             resolution_method) AS fixed_by
             FROM alike WHERE status = 'resolved' ORDER BY resolved_at DESC LIMIT 1
         )
         SELECT (SELECT count(*) FROM alike) AS seen_before,
                last.id AS last_incident_id, last.fixed_by AS last_fixed_by,
                last.mttr_seconds AS last_mttr_seconds, last.resolved_at AS last_resolved_at
         FROM (SELECT 1) one LEFT JOIN last ON true",
    )
    .bind(id)
    .bind(fingerprint)
    .bind(signature)
    .bind(threshold)
    .fetch_one(tx)
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
