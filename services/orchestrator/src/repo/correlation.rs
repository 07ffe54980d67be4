//! One incident per failure: finding the open incident a detection belongs to (one of its
//! fingerprints, or the same Jenkins job and build) and joining further rules to it.

use chrono::{DateTime, Utc};
use domain::Severity;
use domain::commands::Incident;
use sqlx::PgConnection;

use super::incidents::incident;

/// What a group of detections is looked up by.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// The group's fingerprints: an open incident holding any of them is the one.
    pub fingerprints: &'a [String],
    /// A Jenkins job: its open incident of the same build, or one seen since `since`, is
    /// the same failure.
    pub job: Option<&'a str>,
    pub build: Option<i64>,
    pub since: DateTime<Utc>,
}

/// The open incident these detections belong to: the one holding one of their fingerprints
/// first, else the job's incident of the same build, else the job's most recently seen one
/// within the window. The caller holds the detection locks of the fingerprints and the job.
pub async fn find_open(
    tx: &mut PgConnection,
    f: Failure<'_>,
) -> Result<Option<Incident>, sqlx::Error> {
    sqlx::query(
        "SELECT * FROM incidents
         WHERE status <> 'resolved'
           AND (fingerprint = ANY($1) OR fingerprints && $1
                OR (source = 'jenkins' AND $2::text IS NOT NULL AND job_name = $2
                    AND (($3::int8 IS NOT NULL AND build_number = $3) OR last_seen_at >= $4)))
         ORDER BY (fingerprint = ANY($1) OR fingerprints && $1) DESC,
                  ($3::int8 IS NOT NULL AND build_number IS NOT DISTINCT FROM $3) DESC,
                  last_seen_at DESC, id DESC
         LIMIT 1",
    )
    .bind(f.fingerprints)
    .bind(f.job)
    .bind(f.build)
    .bind(f.since)
    .try_map(incident)
    .fetch_optional(tx)
    .await
}

/// Detections added to an open incident.
#[derive(Debug, Clone)]
pub struct Join<'a> {
    pub id: i64,
    pub occurrences: i64,
    pub last_seen_at: DateTime<Utc>,
    /// The worst of the incident's severity and the new rules'.
    pub severity: Severity,
    /// Rules and fingerprints to append (those it does not hold yet).
    pub rules: &'a [String],
    pub fingerprints: &'a [String],
}

/// Counts the detections on the incident, raises its severity and lists the new rules;
/// `None` when it was resolved in the meantime (by a person: resolutions take no detection
/// lock).
pub async fn join(tx: &mut PgConnection, j: &Join<'_>) -> Result<Option<Incident>, sqlx::Error> {
    sqlx::query(
        "UPDATE incidents SET occurrences = occurrences + $2,
                last_seen_at = GREATEST(last_seen_at, $3),
                severity = $4,
                rules = rules || ARRAY(SELECT r FROM unnest($5::text[]) r WHERE r <> ALL(rules)),
                fingerprints = fingerprints
                    || ARRAY(SELECT f FROM unnest($6::text[]) f WHERE f <> ALL(fingerprints))
         WHERE id = $1 AND status <> 'resolved'
         RETURNING *",
    )
    .bind(j.id)
    .bind(j.occurrences)
    .bind(j.last_seen_at)
    .bind(j.severity.as_str())
    .bind(j.rules)
    .bind(j.fingerprints)
    .try_map(incident)
    .fetch_optional(tx)
    .await
}
