//! Matches of threshold rules, counted in PostgreSQL so that every replica sees the same
//! window.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

pub struct Hit<'a> {
    pub rule: &'a str,
    pub group_key: &'a str,
    pub seen_at: DateTime<Utc>,
}

pub async fn insert(tx: &mut PgConnection, hits: &[Hit<'_>]) -> Result<(), sqlx::Error> {
    if hits.is_empty() {
        return Ok(());
    }
    let rules: Vec<&str> = hits.iter().map(|h| h.rule).collect();
    let keys: Vec<&str> = hits.iter().map(|h| h.group_key).collect();
    let at: Vec<DateTime<Utc>> = hits.iter().map(|h| h.seen_at).collect();
    sqlx::query(
        "INSERT INTO detection_hits (rule, group_key, seen_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[])",
    )
    .bind(&rules)
    .bind(&keys)
    .bind(&at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Hits of `rule` for `group_key` in the window `(until - window_secs, until]`.
pub async fn count(
    tx: &mut PgConnection,
    rule: &str,
    group_key: &str,
    until: DateTime<Utc>,
    window_secs: u32,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM detection_hits
         WHERE rule = $1 AND group_key = $2 AND seen_at > $3 - $4 * interval '1 second' AND seen_at <= $3",
    )
    .bind(rule)
    .bind(group_key)
    .bind(until)
    .bind(f64::from(window_secs))
    .fetch_one(tx)
    .await
}

pub async fn delete_older_than(pool: &PgPool, hours: u32) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM detection_hits WHERE seen_at < now() - $1 * interval '1 hour'")
            .bind(f64::from(hours))
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
