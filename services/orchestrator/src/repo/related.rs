//! Related incidents: earlier (or later) incidents with the same fingerprint, incidents whose
//! normalised error text is similar (pg_trgm, as post-mortems match them), and incidents
//! whose titles share words with this one's, each with how it was resolved.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};

use crate::error::ServiceError;

/// One related incident and how it ended.
#[derive(Debug, Clone, FromRow, Serialize, schemars::JsonSchema)]
pub struct RelatedIncident {
    pub id: i64,
    pub title: String,
    pub rule: String,
    pub severity: String,
    pub status: String,
    pub job_name: Option<String>,
    pub build_number: Option<i64>,
    pub service: Option<String>,
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    /// `manual`, `auto_recovered` or `automated_action`.
    pub resolution_method: Option<String>,
    pub resolution_note: Option<String>,
    pub mttr_seconds: Option<f64>,
    /// `same_fingerprint` (same rule and group: the same failure again), `similar_error`
    /// (the normalised error text is at least `incidents.similarity_threshold` similar) or
    /// `similar_title`.
    pub relation: String,
    /// Error-text similarity (0 to 1) or, failing that, title rank (0 for same-fingerprint
    /// matches that share nothing else).
    pub score: f32,
    /// Actions taken on it, e.g. `restart completed`, oldest first.
    #[sqlx(default)]
    pub actions: Vec<String>,
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

/// What an incident is matched on.
pub struct Subject<'a> {
    pub id: i64,
    pub fingerprint: &'a str,
    pub title: &'a str,
    /// Its normalised error text (empty: not matched on text).
    pub signature: &'a str,
    pub threshold: f32,
}

/// Incidents related to `s`, best first: same fingerprint, then by error-text similarity or
/// title rank, then the most recent.
pub async fn related(
    pool: &PgPool,
    s: &Subject<'_>,
    limit: i64,
) -> Result<Vec<RelatedIncident>, ServiceError> {
    let (id, fingerprint, title) = (s.id, s.fingerprint, s.title);
    let words = title_words(title);
    // Alphanumeric words joined by `|`: any shared word matches.
    let query = (!words.is_empty()).then(|| words.join(" | "));
    let mut rows: Vec<RelatedIncident> = sqlx::query_as(
        "SELECT i.id, i.title, i.rule, i.severity, i.status, i.job_name, i.build_number, i.service,
                i.detected_at, i.resolved_at, i.resolved_by, i.resolution_method,
                i.resolution_note, i.mttr_seconds,
                CASE WHEN i.fingerprint = $2 THEN 'same_fingerprint'
                     WHEN $5 <> '' AND similarity(i.signature, $5) >= $6 THEN 'similar_error'
                     ELSE 'similar_title' END AS relation,
                GREATEST(
                    CASE WHEN $5 <> '' AND similarity(i.signature, $5) >= $6
                         THEN similarity(i.signature, $5) ELSE 0 END,
                    COALESCE(ts_rank(to_tsvector('simple', i.title), to_tsquery('simple', $3)), 0)
                )::real AS score
         FROM incidents i
         WHERE i.id <> $1
           AND (i.fingerprint = $2
                OR ($3::text IS NOT NULL AND to_tsvector('simple', i.title) @@ to_tsquery('simple', $3))
                OR ($5 <> '' AND i.signature % $5 AND similarity(i.signature, $5) >= $6))
         ORDER BY (i.fingerprint = $2) DESC, score DESC, i.detected_at DESC
         LIMIT $4",
    )
    .bind(id)
    .bind(fingerprint)
    .bind(query)
    .bind(limit)
    .bind(s.signature)
    .bind(s.threshold)
    .fetch_all(pool)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let actions: Vec<(i64, String)> = sqlx::query_as(
        "SELECT incident_id, action_type || ' ' || status FROM action_executions
         WHERE incident_id = ANY($1) ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    for (incident, what) in actions {
        if let Some(r) = rows.iter_mut().find(|r| r.id == incident) {
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
