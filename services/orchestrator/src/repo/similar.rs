//! Incidents like one another, for three readers: the memory `incident.detected` carries
//! (earlier incidents only), the similar incidents of a post-mortem, and the related
//! incidents MCP clients ask for (which also match on title words). One candidate query
//! ([`alike`]) decides what counts as alike — the same fingerprint, or a normalised error
//! text at least `incidents.similarity_threshold` similar (pg_trgm) — and each reader
//! ranks and projects its candidates.
//!
//! Parameters of every query: `$1` the subject's id, `$2` its fingerprint, `$3` its
//! normalised error text (empty: not matched on text), `$4` the threshold; the related
//! query adds `$5` (title words as a `tsquery`) and each listing ends with its limit.

use std::ops::Deref;

use chrono::{DateTime, Utc};
use domain::commands::{PastIncident, RelatedIncident};
use domain::postmortem::IncidentMemory;
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool};

use super::col;

/// What an incident is matched on.
#[derive(Debug, Clone, FromRow)]
pub struct Subject {
    pub id: i64,
    pub fingerprint: String,
    pub title: String,
    /// Its first log's normalised error text (empty: not matched on text).
    pub signature: String,
}

/// The subject of incident `id`, if it exists.
pub async fn subject(
    db: impl sqlx::PgExecutor<'_>,
    id: i64,
) -> Result<Option<Subject>, sqlx::Error> {
    sqlx::query_as("SELECT id, fingerprint, title, signature FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Which incidents are compared with the subject.
#[derive(Debug, Clone, Copy)]
enum Among {
    /// Any other incident, earlier or later.
    Others,
    /// Those opened before it.
    Earlier,
}

/// The candidates: incidents with the subject's fingerprint (unless both say why they failed
/// and the reasons differ: the same job failing for another reason is not the same failure),
/// or a similar error text (with
/// `titles`, also those whose title matches `$5`), each with `same_fingerprint` and the raw
/// `similarity` of its error text (0 without a text to compare). `%` lets the trigram index
/// pick the text candidates (pg_trgm's default limit is 0.3; the configured threshold is
/// never below it).
fn alike(among: Among, titles: bool) -> String {
    let id = match among {
        Among::Others => "i.id <> $1",
        Among::Earlier => "i.id < $1",
    };
    let title = if titles {
        "OR ($5::text IS NOT NULL AND to_tsvector('simple', i.title) @@ to_tsquery('simple', $5))"
    } else {
        ""
    };
    // `same_group`: the same job or the same service as the subject, whatever the rule.
    format!(
        "SELECT i.*, (i.fingerprint = $2) AS same_fingerprint,
                (COALESCE(i.job_name = (SELECT s.job_name FROM incidents s WHERE s.id = $1), false)
                 OR COALESCE(i.service = (SELECT s.service FROM incidents s WHERE s.id = $1), false))
                    AS same_group,
                CASE WHEN $3 = '' THEN 0 ELSE similarity(i.signature, $3) END::real AS similarity
         FROM incidents i
         WHERE {id}
           AND ((i.fingerprint = $2
                 AND ($3 = '' OR i.signature = '' OR similarity(i.signature, $3) >= $4))
                OR ($3 <> '' AND i.signature % $3 AND similarity(i.signature, $3) >= $4)
                {title})"
    )
}

/// What fixed incident `c`: the type of its last completed action that was not a dry run,
/// else its resolution method.
const FIXED_BY: &str = "COALESCE((SELECT x.action_type FROM action_executions x
                  WHERE x.incident_id = c.id AND x.status = 'completed'
                        AND NOT COALESCE(x.dry_run, false)
                  ORDER BY x.completed_at DESC NULLS LAST LIMIT 1),
                 c.resolution_method)";

/// The columns of [`PastIncident`] of a candidate row.
fn past(r: &PgRow) -> Result<PastIncident, sqlx::Error> {
    Ok(PastIncident {
        id: col(r, "id")?,
        title: col(r, "title")?,
        rule: col(r, "rule")?,
        status: col(r, "status")?,
        job_name: col(r, "job_name")?,
        build_number: col(r, "build_number")?,
        service: col(r, "service")?,
        detected_at: col(r, "detected_at")?,
        resolved_at: col(r, "resolved_at")?,
        resolved_by: col(r, "resolved_by")?,
        resolution_method: col(r, "resolution_method")?,
        mttr_seconds: col(r, "mttr_seconds")?,
    })
}

/// An earlier (or later) incident like this one, and how it ended (a post-mortem's facts).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SimilarIncident {
    #[serde(flatten)]
    pub incident: PastIncident,
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

impl<'r> FromRow<'r, PgRow> for SimilarIncident {
    fn from_row(r: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(SimilarIncident {
            incident: past(r)?,
            signature: col(r, "signature")?,
            same_fingerprint: col(r, "same_fingerprint")?,
            similarity: col(r, "similarity")?,
            fixed_by: col(r, "fixed_by")?,
        })
    }
}

/// A similar incident reads as the incident it stands for.
impl Deref for SimilarIncident {
    type Target = PastIncident;

    fn deref(&self) -> &PastIncident {
        &self.incident
    }
}

/// The columns of [`PastIncident`], from the candidates `c`.
const PAST: &str = "c.id, c.title, c.rule, c.status, c.job_name, c.build_number, c.service,
    c.detected_at, c.resolved_at, c.resolved_by, c.resolution_method, c.mttr_seconds";

/// Earlier incidents similar to the subject (a post-mortem says "seen before": never one
/// opened after it): the same failure first, then the same job or service, then by error-text
/// similarity, then the latest.
pub async fn similar(
    db: &mut PgConnection,
    s: &Subject,
    threshold: f32,
    limit: i64,
) -> Result<Vec<SimilarIncident>, sqlx::Error> {
    let sql = format!(
        "WITH c AS ({alike})
         SELECT {PAST}, c.signature, c.same_fingerprint, c.similarity, {FIXED_BY} AS fixed_by
         FROM c
         ORDER BY c.same_fingerprint DESC, c.same_group DESC, c.similarity DESC,
                  c.detected_at DESC, c.id DESC
         LIMIT $5",
        alike = alike(Among::Earlier, false)
    );
    sqlx::query_as(&sql)
        .bind(s.id)
        .bind(&s.fingerprint)
        .bind(&s.signature)
        .bind(threshold)
        .bind(limit)
        .fetch_all(db)
        .await
}

#[derive(FromRow)]
struct Memory {
    seen_before: i64,
    same_failure: i64,
    best_similarity: Option<f32>,
    last_incident_id: Option<i64>,
    last_fixed_by: Option<String>,
    last_mttr_seconds: Option<f64>,
    last_resolved_at: Option<DateTime<Utc>>,
}

/// What a new incident remembers: how many earlier incidents were like it, and the latest
/// resolved one among them; `None` when it never happened before.
pub async fn memory(
    tx: &mut PgConnection,
    s: &Subject,
    threshold: f32,
) -> Result<Option<IncidentMemory>, sqlx::Error> {
    let sql = format!(
        "WITH alike AS ({alike}), last AS (
             SELECT c.id, c.mttr_seconds, c.resolved_at, {FIXED_BY} AS fixed_by
             FROM alike c WHERE c.status = 'resolved'
             ORDER BY c.same_fingerprint DESC, c.same_group DESC, c.resolved_at DESC LIMIT 1
         )
         SELECT (SELECT count(*) FROM alike) AS seen_before,
                (SELECT count(*) FROM alike WHERE same_fingerprint) AS same_failure,
                (SELECT max(similarity) FROM alike WHERE $3 <> '') AS best_similarity,
                last.id AS last_incident_id, last.fixed_by AS last_fixed_by,
                last.mttr_seconds AS last_mttr_seconds, last.resolved_at AS last_resolved_at
         FROM (SELECT 1) one LEFT JOIN last ON true",
        alike = alike(Among::Earlier, false)
    );
    let m: Memory = sqlx::query_as(&sql)
        .bind(s.id)
        .bind(&s.fingerprint)
        .bind(&s.signature)
        .bind(threshold)
        .fetch_one(tx)
        .await?;
    Ok((m.seen_before > 0).then_some(IncidentMemory {
        seen_before: m.seen_before,
        last_incident_id: m.last_incident_id,
        last_fixed_by: m.last_fixed_by,
        last_mttr_seconds: m.last_mttr_seconds,
        last_resolved_at: m.last_resolved_at,
        same_failure: Some(m.same_failure),
        best_similarity: m
            .best_similarity
            .map(|b| (f64::from(b) * 100.0).round() / 100.0),
    }))
}

/// The error lines of a build stored so far, oldest first (at most 50): where the line that
/// says why a build failed is looked for when its first matched line says only that it did.
pub async fn build_error_lines(
    tx: &mut PgConnection,
    job: &str,
    build: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT message FROM logs_jenkins
         WHERE job_name = $1 AND build_number = $2 AND level IN ('error', 'fatal')
         ORDER BY timestamp, id LIMIT 50",
    )
    .bind(job)
    .bind(build)
    .fetch_all(tx)
    .await
}

/// A related incident of a candidate row, its actions not yet read.
fn related_row(r: PgRow) -> Result<RelatedIncident, sqlx::Error> {
    Ok(RelatedIncident {
        incident: past(&r)?,
        severity: col(&r, "severity")?,
        resolution_note: col(&r, "resolution_note")?,
        relation: col(&r, "relation")?,
        score: col(&r, "score")?,
        actions: Vec::new(),
    })
}

/// The words of a title worth matching on: lowercase letters and digits only (so the text
/// cannot carry `tsquery` syntax), at least 3 characters, at most 12 words.
pub fn title_words(title: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in title
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
    {
        if !words.contains(&w) {
            words.push(w);
        }
        if words.len() == 12 {
            break;
        }
    }
    words
}

/// Incidents related to the subject, best first: same fingerprint, then by error-text
/// similarity or title rank, then the most recent.
pub async fn related(
    pool: &PgPool,
    s: &Subject,
    threshold: f32,
    limit: i64,
) -> Result<Vec<RelatedIncident>, sqlx::Error> {
    let words = title_words(&s.title);
    // Alphanumeric words joined by `|`: any shared word matches.
    let query = (!words.is_empty()).then(|| words.join(" | "));
    let sql = format!(
        "WITH c AS ({alike})
         SELECT {PAST}, c.severity, c.resolution_note,
                CASE WHEN c.same_fingerprint THEN 'same_fingerprint'
                     WHEN $3 <> '' AND c.similarity >= $4 THEN 'similar_error'
                     ELSE 'similar_title' END AS relation,
                GREATEST(
                    CASE WHEN $3 <> '' AND c.similarity >= $4 THEN c.similarity ELSE 0 END,
                    COALESCE(ts_rank(to_tsvector('simple', c.title), to_tsquery('simple', $5)), 0)
                )::real AS score
         FROM c
         ORDER BY c.same_fingerprint DESC, score DESC, c.detected_at DESC
         LIMIT $6",
        alike = alike(Among::Others, true)
    );
    let mut rows = sqlx::query(&sql)
        .bind(s.id)
        .bind(&s.fingerprint)
        .bind(&s.signature)
        .bind(threshold)
        .bind(query)
        .bind(limit)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(related_row)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<i64> = rows.iter().map(|r| r.incident.id).collect();
    let actions: Vec<(i64, String)> = sqlx::query_as(
        "SELECT incident_id, action_type || ' ' || status FROM action_executions
         WHERE incident_id = ANY($1) ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    for (incident, what) in actions {
        if let Some(r) = rows.iter_mut().find(|r| r.incident.id == incident) {
            r.actions.push(what);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn title_words_are_plain_and_bounded() {
        assert_eq!(
            super::title_words("Build FAILED: deploy-prod #42 (timeout) & build"),
            ["build", "failed", "deploy", "prod", "timeout"]
        );
        assert!(super::title_words("a | b ! 42").is_empty());
        assert_eq!(super::title_words(&"word ".repeat(50)), ["word"]);
        let many: String = (0..40).map(|i| format!("w{i:03} ")).collect();
        assert_eq!(super::title_words(&many).len(), 12);
    }
}
