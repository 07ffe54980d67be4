//! Matches of threshold rules, counted in PostgreSQL so that every replica sees the same
//! window.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

pub struct Hit<'a> {
    pub rule: &'a str,
    pub group_key: &'a str,
    pub seen_at: DateTime<Utc>,
}

/// Advisory-lock class of detection: the two-key form keeps these locks apart from any
/// single-key advisory lock another component takes.
const DETECTION_LOCK_CLASS: i32 = 0x5242_4454; // "RBDT"

/// Takes a transaction-scoped advisory lock per fingerprint, in one global order (sorted
/// keys) so that two batches never wait on each other in a cycle. A hash collision only
/// serialises two unrelated fingerprints.
pub async fn lock_fingerprints(
    tx: &mut PgConnection,
    fingerprints: &[&str],
) -> Result<(), sqlx::Error> {
    let mut keys: Vec<i32> = fingerprints.iter().map(|f| lock_key(f)).collect();
    if keys.is_empty() {
        return Ok(());
    }
    keys.sort_unstable();
    keys.dedup();
    // A set-returning function scan yields the array in order, so the locks are taken in it.
    sqlx::query("SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) AS k")
        .bind(DETECTION_LOCK_CLASS)
        .bind(&keys)
        .execute(tx)
        .await?;
    Ok(())
}

/// FNV-1a: stable across processes and versions (std's hasher is neither).
fn lock_key(fingerprint: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in fingerprint.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
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

/// Hits of `rule` for `group_key` in the window `(t - window_secs, t]`, where `t` is the
/// later of `until` and the group's latest hit: a concurrent batch whose logs are newer
/// than this one's (committed just before this one took the lock) is counted too. Hits
/// after `latest` (the allowed clock skew; ingest clamps newer logs, so only rows stored
/// before it did) never anchor the window: one of them would mute the group for good.
pub async fn count(
    tx: &mut PgConnection,
    rule: &str,
    group_key: &str,
    until: DateTime<Utc>,
    window_secs: u32,
    latest: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "WITH anchor AS (
             SELECT greatest($3, max(seen_at)) AS t FROM detection_hits
             WHERE rule = $1 AND group_key = $2 AND seen_at <= $5
         )
         SELECT count(*) FROM detection_hits, anchor
         WHERE rule = $1 AND group_key = $2
           AND seen_at > anchor.t - $4 * interval '1 second' AND seen_at <= anchor.t",
    )
    .bind(rule)
    .bind(group_key)
    .bind(until)
    .bind(f64::from(window_secs))
    .bind(latest)
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
