//! The leader lease: one monitor at a time runs the work that must happen once (probes,
//! uptime samples, compaction). A holder renews it; anyone takes it once it expired.

use sqlx::PgPool;

pub const LEADER: &str = "leader";

/// Takes or renews the lease for `secs`; `true` when `holder` has it afterwards.
pub async fn acquire(pool: &PgPool, holder: &str, secs: u64) -> Result<bool, sqlx::Error> {
    let got: Option<String> = sqlx::query_scalar(
        "INSERT INTO health_leases (name, holder, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3::float8))
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE health_leases.holder = EXCLUDED.holder OR health_leases.expires_at < now()
         RETURNING holder",
    )
    .bind(LEADER)
    .bind(holder)
    .bind(secs as f64)
    .fetch_optional(pool)
    .await?;
    Ok(got.is_some())
}

/// Gives the lease up (clean shutdown), so another monitor takes over at once.
pub async fn release(pool: &PgPool, holder: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM health_leases WHERE name = $1 AND holder = $2")
        .bind(LEADER)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn holder(pool: &PgPool) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT holder FROM health_leases WHERE name = $1 AND expires_at >= now()")
        .bind(LEADER)
        .fetch_optional(pool)
        .await
}
