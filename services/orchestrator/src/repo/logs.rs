//! LogsRepository: batched inserts (one statement per source, duplicates skipped on the
//! source id) and searches.

use domain::commands::{LogPage, LogQuery, StoredLog};
use domain::{ApiLog, JenkinsLog, LogRecord, Source};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::col;

/// A record about to be stored: its position in the batch and its dedup key.
pub struct NewLog<'a> {
    pub index: usize,
    pub source_id: String,
    pub message_id: Option<Uuid>,
    pub record: &'a LogRecord,
}

fn details(d: &Option<serde_json::Value>) -> String {
    d.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "{}".into())
}

/// Inserts the Jenkins records; returns `(batch index, row id)` of the rows that were new.
pub async fn insert_jenkins(
    tx: &mut PgConnection,
    rows: &[(&NewLog<'_>, &JenkinsLog)],
) -> Result<Vec<(usize, i64)>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let n = rows.len();
    let (mut sid, mut mid, mut ts, mut lvl, mut msg, mut job, mut build, mut det) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (new, l) in rows {
        sid.push(new.source_id.as_str());
        mid.push(new.message_id);
        ts.push(l.timestamp);
        lvl.push(l.level.as_str());
        msg.push(l.message.as_str());
        job.push(l.job_name.as_deref());
        build.push(l.build_number);
        det.push(details(&l.details));
    }
    let returned: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO logs_jenkins (source_id, message_id, timestamp, level, message, job_name, build_number, details)
         SELECT s, m, t, l, g, j, b, d::jsonb
         FROM UNNEST($1::text[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::text[])
              AS u(s, m, t, l, g, j, b, d)
         ON CONFLICT (source_id) DO NOTHING
         RETURNING id, source_id",
    )
    .bind(&sid)
    .bind(&mid)
    .bind(&ts)
    .bind(&lvl)
    .bind(&msg)
    .bind(&job)
    .bind(&build)
    .bind(&det)
    .fetch_all(tx)
    .await?;
    Ok(match_indexes(rows.iter().map(|(n, _)| *n), returned))
}

/// Inserts the API records; returns `(batch index, row id)` of the rows that were new.
pub async fn insert_api(
    tx: &mut PgConnection,
    rows: &[(&NewLog<'_>, &ApiLog)],
) -> Result<Vec<(usize, i64)>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let n = rows.len();
    let mut sid = Vec::with_capacity(n);
    let mut mid = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    let mut lvl = Vec::with_capacity(n);
    let mut method = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut path = Vec::with_capacity(n);
    let mut latency = Vec::with_capacity(n);
    let mut service = Vec::with_capacity(n);
    let mut msg = Vec::with_capacity(n);
    let mut det = Vec::with_capacity(n);
    for (new, l) in rows {
        sid.push(new.source_id.as_str());
        mid.push(new.message_id);
        ts.push(l.timestamp);
        lvl.push(l.level.as_str());
        method.push(l.http_method.as_deref());
        status.push(i32::from(l.http_status));
        path.push(l.path.as_deref());
        latency.push(l.latency_ms);
        service.push(l.service.as_deref());
        msg.push(l.message.as_str());
        det.push(details(&l.details));
    }
    let returned: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO logs_api (source_id, message_id, timestamp, level, http_method, http_status, path, latency_ms, service, message, details)
         SELECT s, m, t, l, hm, hs, p, lat, svc, g, d::jsonb
         FROM UNNEST($1::text[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::int4[], $7::text[],
                     $8::float8[], $9::text[], $10::text[], $11::text[])
              AS u(s, m, t, l, hm, hs, p, lat, svc, g, d)
         ON CONFLICT (source_id) DO NOTHING
         RETURNING id, source_id",
    )
    .bind(&sid)
    .bind(&mid)
    .bind(&ts)
    .bind(&lvl)
    .bind(&method)
    .bind(&status)
    .bind(&path)
    .bind(&latency)
    .bind(&service)
    .bind(&msg)
    .bind(&det)
    .fetch_all(tx)
    .await?;
    Ok(match_indexes(rows.iter().map(|(n, _)| *n), returned))
}

/// Pairs returned `(id, source_id)` with batch positions. A source id repeated inside one
/// batch was stored once: the first position gets it.
fn match_indexes<'a>(
    rows: impl Iterator<Item = &'a NewLog<'a>>,
    returned: Vec<(i64, String)>,
) -> Vec<(usize, i64)>
where
{
    let mut by_source: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for new in rows {
        by_source.entry(new.source_id.as_str()).or_insert(new.index);
    }
    let mut out: Vec<(usize, i64)> = returned
        .iter()
        .filter_map(|(id, sid)| by_source.get(sid.as_str()).map(|&i| (i, *id)))
        .collect();
    out.sort_unstable();
    out
}

/// A row of [`JENKINS_COLS`] or [`API_COLS`] as the domain type.
fn stored_log(r: PgRow) -> Result<StoredLog, sqlx::Error> {
    Ok(StoredLog {
        id: col(&r, "id")?,
        source: col(&r, "source")?,
        source_id: col(&r, "source_id")?,
        timestamp: col(&r, "timestamp")?,
        level: col(&r, "level")?,
        message: col(&r, "message")?,
        job_name: col(&r, "job_name")?,
        build_number: col(&r, "build_number")?,
        http_method: col(&r, "http_method")?,
        http_status: col(&r, "http_status")?,
        path: col(&r, "path")?,
        latency_ms: col(&r, "latency_ms")?,
        service: col(&r, "service")?,
        details: col(&r, "details")?,
    })
}

const JENKINS_COLS: &str = "id, 'jenkins' AS source, source_id, timestamp, level, message, job_name, build_number,
     NULL::text AS http_method, NULL::int4 AS http_status, NULL::text AS path, NULL::float8 AS latency_ms,
     NULL::text AS service, details FROM logs_jenkins";
const API_COLS: &str = "id, 'api' AS source, source_id, timestamp, level, message, NULL::text AS job_name,
     NULL::int8 AS build_number, http_method, http_status, path, latency_ms, service, details FROM logs_api";

/// One page of logs matching `f`, the newest first, and how many match in all.
pub async fn search(pool: &PgPool, f: &LogQuery) -> Result<LogPage, sqlx::Error> {
    let mut parts = Vec::new();
    if f.source != Some(Source::Api) && f.service.is_none() {
        parts.push((JENKINS_COLS, true));
    }
    if f.source != Some(Source::Jenkins) && f.job.is_none() {
        parts.push((API_COLS, false));
    }
    let mut page = LogPage {
        items: Vec::new(),
        total: 0,
        limit: f.limit,
        offset: f.offset,
    };
    if parts.is_empty() {
        return Ok(page);
    }
    // Each table's newest `offset + limit` rows are enough to cut the page from.
    let depth = f.offset + f.limit;
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM (");
    for (i, (cols, jenkins)) in parts.iter().enumerate() {
        if i > 0 {
            qb.push(" UNION ALL ");
        }
        qb.push("(SELECT ").push(*cols);
        filters(&mut qb, f, *jenkins);
        qb.push(" ORDER BY timestamp DESC LIMIT ")
            .push_bind(depth)
            .push(")");
    }
    qb.push(") logs ORDER BY timestamp DESC, id DESC LIMIT ")
        .push_bind(f.limit)
        .push(" OFFSET ")
        .push_bind(f.offset);
    page.items = qb.build().try_map(stored_log).fetch_all(pool).await?;
    for (cols, jenkins) in &parts {
        let table = cols.rsplit(' ').next().unwrap_or_default();
        let mut count: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT count(*) FROM {table}"));
        filters(&mut count, f, *jenkins);
        let n: i64 = count.build_query_scalar().fetch_one(pool).await?;
        page.total += n;
    }
    Ok(page)
}

/// The `WHERE` of a search on one table.
fn filters(qb: &mut QueryBuilder<'_, Postgres>, f: &LogQuery, jenkins: bool) {
    qb.push(" WHERE true");
    if let Some(levels) = &f.levels {
        qb.push(" AND level = ANY(")
            .push_bind(levels.clone())
            .push(")");
    }
    if let Some(j) = &f.job
        && jenkins
    {
        qb.push(" AND job_name = ").push_bind(j.clone());
    }
    if let Some(s) = &f.service
        && !jenkins
    {
        qb.push(" AND service = ").push_bind(s.clone());
    }
    if let Some(q) = &f.q {
        qb.push(" AND message ILIKE ")
            .push_bind(format!("%{}%", escape_like(q)));
    }
    if let Some(since) = f.since {
        qb.push(" AND timestamp >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        qb.push(" AND timestamp < ").push_bind(until);
    }
}

/// The logs linked to an incident, oldest first.
pub async fn for_incident(pool: &PgPool, incident_id: i64) -> Result<Vec<StoredLog>, sqlx::Error> {
    let sql = format!(
        "SELECT * FROM (
            (SELECT {JENKINS_COLS} WHERE id IN (SELECT jenkins_log_id FROM incident_logs WHERE incident_id = $1))
            UNION ALL
            (SELECT {API_COLS} WHERE id IN (SELECT api_log_id FROM incident_logs WHERE incident_id = $1))
         ) logs ORDER BY timestamp, id"
    );
    sqlx::query(&sql)
        .bind(incident_id)
        .try_map(stored_log)
        .fetch_all(pool)
        .await
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Deletes logs older than `days` that no incident references, in chunks. Returns the
/// number deleted per source.
pub async fn delete_older_than(pool: &PgPool, days: u32) -> Result<(u64, u64), sqlx::Error> {
    let mut totals = (0, 0);
    for (table, col, total) in [
        ("logs_jenkins", "jenkins_log_id", &mut totals.0),
        ("logs_api", "api_log_id", &mut totals.1),
    ] {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (
                 SELECT l.id FROM {table} l
                 WHERE l.timestamp < now() - $1 * interval '1 day'
                   AND NOT EXISTS (SELECT 1 FROM incident_logs il WHERE il.{col} = l.id)
                   AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.first_log_id = l.id AND i.source = $2)
                 LIMIT 5000)"
        );
        let source = if table == "logs_jenkins" {
            "jenkins"
        } else {
            "api"
        };
        loop {
            let n = sqlx::query(&sql.clone())
                .bind(days as i32)
                .bind(source)
                .execute(pool)
                .await?
                .rows_affected();
            *total += n;
            if n < 5000 {
                break;
            }
        }
    }
    Ok(totals)
}
