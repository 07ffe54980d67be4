//! `health_checks` (one row per uptime sample or probe) and `health_checks_hourly` (older
//! checks summed per hour). A check is up when its status is `up` or `degraded`; `stopping`
//! rows never count.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

/// One sample or probe result to store.
#[derive(Debug, Clone)]
pub struct NewCheck {
    pub service: String,
    pub instance_id: Option<String>,
    /// up, degraded or down.
    pub status: &'static str,
    pub latency_ms: Option<i64>,
    pub details: serde_json::Value,
}

pub async fn insert(tx: &mut PgConnection, c: &NewCheck) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO health_checks (service, instance_id, status, latency_ms, details)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&c.service)
    .bind(&c.instance_id)
    .bind(c.status)
    .bind(c.latency_ms)
    .bind(&c.details)
    .execute(tx)
    .await?;
    Ok(())
}

/// Several samples in one statement (the leader's periodic round).
pub async fn insert_many(pool: &PgPool, checks: &[NewCheck]) -> Result<(), sqlx::Error> {
    if checks.is_empty() {
        return Ok(());
    }
    let services: Vec<&str> = checks.iter().map(|c| c.service.as_str()).collect();
    let statuses: Vec<&str> = checks.iter().map(|c| c.status).collect();
    let details: Vec<&serde_json::Value> = checks.iter().map(|c| &c.details).collect();
    sqlx::query(
        "INSERT INTO health_checks (service, status, details)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::jsonb[])",
    )
    .bind(&services)
    .bind(&statuses)
    .bind(&details)
    .execute(pool)
    .await?;
    Ok(())
}

/// Up and total checks of one service over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub up: i64,
    pub total: i64,
}

impl Counts {
    /// Percentage of checks up, `None` without checks.
    pub fn percent(self) -> Option<f64> {
        (self.total > 0).then(|| {
            let p = self.up as f64 * 100.0 / self.total as f64;
            (p * 1000.0).round() / 1000.0
        })
    }
}

/// A service's counts over 1 h, 24 h and 7 days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowCounts {
    pub h1: Counts,
    pub h24: Counts,
    pub d7: Counts,
}

#[derive(FromRow)]
struct WindowRow {
    service: String,
    up_1h: i64,
    total_1h: i64,
    up_24h: i64,
    total_24h: i64,
    up_7d: i64,
    total_7d: i64,
}

/// Every service's counts: single checks for the recent past, hourly sums before them (they
/// never overlap: compaction moves checks from one table to the other).
pub async fn windows(pool: &PgPool) -> Result<HashMap<String, WindowCounts>, sqlx::Error> {
    let rows: Vec<WindowRow> = sqlx::query_as(
        "WITH raw AS (
             SELECT service,
                    count(*) FILTER (WHERE checked_at >= now() - interval '1 hour' AND status IN ('up', 'degraded')) AS up_1h,
                    count(*) FILTER (WHERE checked_at >= now() - interval '1 hour' AND status <> 'stopping') AS total_1h,
                    count(*) FILTER (WHERE checked_at >= now() - interval '24 hours' AND status IN ('up', 'degraded')) AS up_24h,
                    count(*) FILTER (WHERE checked_at >= now() - interval '24 hours' AND status <> 'stopping') AS total_24h,
                    count(*) FILTER (WHERE status IN ('up', 'degraded')) AS up_7d,
                    count(*) FILTER (WHERE status <> 'stopping') AS total_7d
             FROM health_checks
             WHERE checked_at >= now() - interval '7 days'
             GROUP BY service
         ), hourly AS (
             SELECT service,
                    sum(up_count) FILTER (WHERE hour >= now() - interval '1 hour')::bigint AS up_1h,
                    sum(total_count) FILTER (WHERE hour >= now() - interval '1 hour')::bigint AS total_1h,
                    sum(up_count) FILTER (WHERE hour >= now() - interval '24 hours')::bigint AS up_24h,
                    sum(total_count) FILTER (WHERE hour >= now() - interval '24 hours')::bigint AS total_24h,
                    sum(up_count)::bigint AS up_7d,
                    sum(total_count)::bigint AS total_7d
             FROM health_checks_hourly
             WHERE hour >= now() - interval '7 days'
             GROUP BY service
         )
         SELECT coalesce(r.service, h.service) AS service,
                coalesce(r.up_1h, 0) + coalesce(h.up_1h, 0) AS up_1h,
                coalesce(r.total_1h, 0) + coalesce(h.total_1h, 0) AS total_1h,
                coalesce(r.up_24h, 0) + coalesce(h.up_24h, 0) AS up_24h,
                coalesce(r.total_24h, 0) + coalesce(h.total_24h, 0) AS total_24h,
                coalesce(r.up_7d, 0) + coalesce(h.up_7d, 0) AS up_7d,
                coalesce(r.total_7d, 0) + coalesce(h.total_7d, 0) AS total_7d
         FROM raw r FULL OUTER JOIN hourly h ON r.service = h.service",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let c = |up, total| Counts { up, total };
            (
                r.service,
                WindowCounts {
                    h1: c(r.up_1h, r.total_1h),
                    h24: c(r.up_24h, r.total_24h),
                    d7: c(r.up_7d, r.total_7d),
                },
            )
        })
        .collect())
}

/// Moves checks older than `raw_hours` (from the start of that hour) into hourly sums and
/// deletes sums older than `history_days`. Returns (checks compacted, sums deleted).
pub async fn compact(
    pool: &PgPool,
    raw_hours: u64,
    history_days: u64,
) -> Result<(u64, u64), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let cutoff: DateTime<Utc> =
        sqlx::query_scalar("SELECT date_trunc('hour', now() - make_interval(hours => $1::int))")
            .bind(raw_hours.min(100_000) as i32)
            .fetch_one(&mut *tx)
            .await?;
    let moved: i64 = sqlx::query_scalar(
        "WITH moved AS (
             DELETE FROM health_checks WHERE checked_at < $1
             RETURNING service, checked_at, status
         ), summed AS (
             INSERT INTO health_checks_hourly AS h (service, hour, up_count, total_count)
             SELECT service, date_trunc('hour', checked_at),
                    count(*) FILTER (WHERE status IN ('up', 'degraded')),
                    count(*) FILTER (WHERE status <> 'stopping')
             FROM moved
             GROUP BY 1, 2
             HAVING count(*) FILTER (WHERE status <> 'stopping') > 0
             ON CONFLICT (service, hour) DO UPDATE
                 SET up_count = h.up_count + EXCLUDED.up_count,
                     total_count = h.total_count + EXCLUDED.total_count
         )
         SELECT count(*) FROM moved",
    )
    .bind(cutoff)
    .fetch_one(&mut *tx)
    .await?;
    let dropped = sqlx::query(
        "DELETE FROM health_checks_hourly WHERE hour < now() - make_interval(days => $1::int)",
    )
    .bind(history_days.min(100_000) as i32)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((moved as u64, dropped))
}
