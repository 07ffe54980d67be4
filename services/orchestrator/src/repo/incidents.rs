//! IncidentRepository: upserts by fingerprint, acknowledgements, resolutions with MTTR,
//! listings and the metrics summary.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::commands::{Incident, IncidentPage, IncidentQuery, Stats};
use domain::{ResolutionMethod, Severity, Source};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

use super::col;

/// An `incidents` row as the domain type.
pub(crate) fn incident(r: PgRow) -> Result<Incident, sqlx::Error> {
    Ok(Incident {
        id: col(&r, "id")?,
        fingerprint: col(&r, "fingerprint")?,
        rule: col(&r, "rule")?,
        rules: col(&r, "rules")?,
        title: col(&r, "title")?,
        severity: col(&r, "severity")?,
        status: col(&r, "status")?,
        source: col(&r, "source")?,
        group_key: col(&r, "group_key")?,
        job_name: col(&r, "job_name")?,
        build_number: col(&r, "build_number")?,
        service: col(&r, "service")?,
        path: col(&r, "path")?,
        runbook_url: col(&r, "runbook_url")?,
        details: col(&r, "details")?,
        first_log_id: col(&r, "first_log_id")?,
        occurrences: col(&r, "occurrences")?,
        detected_at: col(&r, "detected_at")?,
        last_seen_at: col(&r, "last_seen_at")?,
        last_notified_at: col(&r, "last_notified_at")?,
        acknowledged_by: col(&r, "acknowledged_by")?,
        acknowledged_at: col(&r, "acknowledged_at")?,
        resolved_by: col(&r, "resolved_by")?,
        resolved_at: col(&r, "resolved_at")?,
        resolution_method: col(&r, "resolution_method")?,
        resolution_note: col(&r, "resolution_note")?,
        mttr_seconds: col(&r, "mttr_seconds")?,
    })
}

/// An incident to open, or occurrences to add to the open one with its fingerprint.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub fingerprint: String,
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub source: Source,
    pub group_key: String,
    pub job_name: Option<String>,
    pub build_number: Option<i64>,
    pub service: Option<String>,
    pub path: Option<String>,
    pub runbook_url: Option<String>,
    pub details: serde_json::Value,
    pub first_log_id: i64,
    pub occurrences: i64,
    pub last_seen_at: DateTime<Utc>,
    /// The first log's normalised error text (see `postmortem::normalize`).
    pub signature: String,
    /// Every rule of the failure and their fingerprints, `rule` and `fingerprint` first.
    pub rules: Vec<String>,
    pub fingerprints: Vec<String>,
}

#[derive(Debug)]
pub struct Upserted {
    pub row: Incident,
    /// `true` when the statement opened a new incident, `false` when it counted occurrences.
    pub inserted: bool,
}

/// Opens the incident or adds occurrences to the open one; the partial unique index on open
/// fingerprints makes concurrent batches of several replicas agree.
pub async fn upsert(tx: &mut PgConnection, n: &NewIncident) -> Result<Upserted, sqlx::Error> {
    sqlx::query(
        "INSERT INTO incidents (fingerprint, rule, title, severity, source, group_key, job_name, build_number,
                                service, path, runbook_url, details, first_log_id, occurrences, last_seen_at,
                                signature, rules, fingerprints)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (fingerprint) WHERE status <> 'resolved'
         DO UPDATE SET occurrences = incidents.occurrences + EXCLUDED.occurrences,
                       last_seen_at = GREATEST(incidents.last_seen_at, EXCLUDED.last_seen_at)
         RETURNING *, (xmax = 0) AS inserted",
    )
    .bind(&n.fingerprint)
    .bind(&n.rule)
    .bind(&n.title)
    .bind(n.severity.as_str())
    .bind(n.source.as_str())
    .bind(&n.group_key)
    .bind(&n.job_name)
    .bind(n.build_number)
    .bind(&n.service)
    .bind(&n.path)
    .bind(&n.runbook_url)
    .bind(&n.details)
    .bind(n.first_log_id)
    .bind(n.occurrences)
    .bind(n.last_seen_at)
    .bind(&n.signature)
    .bind(&n.rules)
    .bind(&n.fingerprints)
    .try_map(|r: PgRow| {
        Ok(Upserted {
            inserted: col(&r, "inserted")?,
            row: incident(r)?,
        })
    })
    .fetch_one(tx)
    .await
}

/// The fingerprints among `fps` that have an open incident (as its opening fingerprint or
/// one joined to it).
pub async fn open_fingerprints(
    tx: &mut PgConnection,
    fps: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT f FROM incidents, unnest(fingerprints || fingerprint) AS f
         WHERE (fingerprint = ANY($1) OR fingerprints && $1) AND status <> 'resolved'
           AND f = ANY($1)",
    )
    .bind(fps)
    .fetch_all(tx)
    .await
}

/// Records that an `incident.updated` went out, if the last one is older than `interval`;
/// `true` when the caller should send one now.
pub async fn claim_update_notification(
    tx: &mut PgConnection,
    id: i64,
    interval_secs: u64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE incidents SET last_notified_at = now()
         WHERE id = $1 AND last_notified_at <= now() - $2 * interval '1 second'",
    )
    .bind(id)
    .bind(interval_secs as f64)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Links evidence logs to an incident, up to `cap` in all.
pub async fn link_logs(
    tx: &mut PgConnection,
    incident_id: i64,
    source: Source,
    log_ids: &[i64],
    cap: i64,
) -> Result<(), sqlx::Error> {
    if log_ids.is_empty() {
        return Ok(());
    }
    let col = match source {
        Source::Jenkins => "jenkins_log_id",
        Source::Api => "api_log_id",
    };
    let sql = format!(
        "INSERT INTO incident_logs (incident_id, {col})
         SELECT $1, x FROM UNNEST($2::int8[]) AS x
         LIMIT GREATEST($3 - (SELECT count(*) FROM incident_logs WHERE incident_id = $1), 0)
         ON CONFLICT DO NOTHING"
    );
    sqlx::query(&sql)
        .bind(incident_id)
        .bind(log_ids)
        .bind(cap)
        .execute(tx)
        .await?;
    Ok(())
}

/// Which open incidents a resolution applies to.
#[derive(Debug, Clone, Copy)]
pub enum Open<'a> {
    /// One incident.
    Id(i64),
    /// Those holding one of these fingerprints (recovery rules).
    Fingerprints(&'a [String]),
    /// Every open incident of a Jenkins job (the seed's resolve-by-job).
    Job(&'a str),
}

/// How and by whom incidents get resolved.
#[derive(Debug, Clone, Copy)]
pub struct Resolution<'a> {
    pub by: &'a str,
    pub method: ResolutionMethod,
    pub note: Option<&'a str>,
}

/// Resolves the open incidents `which` names, recording who, how and the MTTR; returns the
/// ones that changed (none when they were already resolved).
pub async fn resolve(
    tx: &mut PgConnection,
    which: Open<'_>,
    r: Resolution<'_>,
) -> Result<Vec<Incident>, sqlx::Error> {
    let condition = match which {
        Open::Id(_) => "id = $4",
        Open::Fingerprints(_) => "(fingerprint = ANY($4) OR fingerprints && $4)",
        Open::Job(_) => "job_name = $4",
    };
    let sql = format!(
        "UPDATE incidents SET status = 'resolved', resolved_at = now(), resolved_by = $1,
                resolution_method = $2, resolution_note = $3,
                mttr_seconds = GREATEST(EXTRACT(EPOCH FROM now() - detected_at), 0)::float8
         WHERE {condition} AND status <> 'resolved'
           AND ($5 OR NOT EXISTS (SELECT 1 FROM runbook_runs rr
                                  WHERE rr.incident_id = incidents.id AND rr.status = 'running'))
         RETURNING *"
    );
    // An incident with a runbook under way resolves through the run's verification (or
    // by a person), not through a recovery rule or a completed action.
    let bypass = r.method == ResolutionMethod::Manual || r.by.starts_with("runbook:");
    let q = sqlx::query(&sql)
        .bind(r.by)
        .bind(r.method.as_str())
        .bind(r.note);
    let q = match which {
        Open::Id(id) => q.bind(id),
        Open::Fingerprints(fps) => q.bind(fps),
        Open::Job(job) => q.bind(job),
    };
    let q = q.bind(bypass);
    q.try_map(incident).fetch_all(tx).await
}

/// Acknowledges an open incident; `None` when it is not open.
pub async fn acknowledge(
    tx: &mut PgConnection,
    id: i64,
    by: &str,
) -> Result<Option<Incident>, sqlx::Error> {
    sqlx::query(
        "UPDATE incidents SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = now()
         WHERE id = $1 AND status = 'open' RETURNING *",
    )
    .bind(id)
    .bind(by)
    .try_map(incident)
    .fetch_optional(tx)
    .await
}

pub async fn get(db: impl sqlx::PgExecutor<'_>, id: i64) -> Result<Option<Incident>, sqlx::Error> {
    sqlx::query("SELECT * FROM incidents WHERE id = $1")
        .bind(id)
        .try_map(incident)
        .fetch_optional(db)
        .await
}

/// One page of incidents matching `q`, the newest first, and how many match in all.
pub async fn list(pool: &PgPool, q: &IncidentQuery) -> Result<IncidentPage, sqlx::Error> {
    fn words<T: ToString>(v: &Option<Vec<T>>) -> Option<Vec<String>> {
        v.as_ref().map(|v| v.iter().map(T::to_string).collect())
    }
    let (statuses, severities) = (words(&q.statuses), words(&q.severities));
    let filters = |qb: &mut QueryBuilder<Postgres>| {
        qb.push(" WHERE true");
        if let Some(s) = &statuses {
            qb.push(" AND status = ANY(").push_bind(s.clone()).push(")");
        }
        if let Some(s) = &severities {
            qb.push(" AND severity = ANY(")
                .push_bind(s.clone())
                .push(")");
        }
        if let Some(since) = q.since {
            qb.push(" AND detected_at >= ").push_bind(since);
        }
        if let Some(job) = &q.job {
            qb.push(" AND job_name = ").push_bind(job.clone());
        }
        if let Some(rule) = &q.rule {
            qb.push(" AND rule = ").push_bind(rule.clone());
        }
    };
    let mut count: QueryBuilder<Postgres> = QueryBuilder::new("SELECT count(*) FROM incidents");
    filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM incidents");
    filters(&mut qb);
    qb.push(" ORDER BY detected_at DESC, id DESC LIMIT ")
        .push_bind(q.limit)
        .push(" OFFSET ")
        .push_bind(q.offset);
    let items = qb.build().try_map(incident).fetch_all(pool).await?;
    Ok(IncidentPage {
        items,
        total,
        limit: q.limit,
        offset: q.offset,
    })
}

pub async fn stats(pool: &PgPool, since: Option<DateTime<Utc>>) -> Result<Stats, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT severity, status, count(*) FROM incidents
         WHERE $1::timestamptz IS NULL OR detected_at >= $1 GROUP BY 1, 2",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let mut by_severity = BTreeMap::new();
    let mut by_status = BTreeMap::new();
    let mut total = 0;
    for (sev, st, n) in rows {
        *by_severity.entry(sev).or_insert(0) += n;
        *by_status.entry(st).or_insert(0) += n;
        total += n;
    }
    let (resolved, p50, p90, mean, auto): (i64, Option<f64>, Option<f64>, Option<f64>, i64) = sqlx::query_as(
        "SELECT count(*),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY mttr_seconds),
                percentile_cont(0.9) WITHIN GROUP (ORDER BY mttr_seconds),
                avg(mttr_seconds),
                count(*) FILTER (WHERE resolution_method IN ('auto_recovered', 'automated_action'))
         FROM incidents WHERE status = 'resolved' AND ($1::timestamptz IS NULL OR detected_at >= $1)",
    )
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(Stats {
        total,
        by_severity,
        by_status,
        resolved,
        mttr_p50_seconds: p50,
        mttr_p90_seconds: p90,
        mttr_mean_seconds: mean,
        auto_resolved_ratio: (resolved > 0).then(|| auto as f64 / resolved as f64),
        since,
    })
}
