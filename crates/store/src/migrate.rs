use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tracing::info;

use crate::error::StoreError;

/// The migrations in the top-level `migrations/` folder, embedded in every binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Applies pending migrations. Replicas may run this at once: sqlx takes an advisory lock.
/// Migrations unknown to this binary (applied by a newer release) are tolerated so that a
/// rolling upgrade does not stop older replicas.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut migrator = Migrator {
        migrations: MIGRATOR.migrations.clone(),
        ..Migrator::DEFAULT
    };
    migrator.set_ignore_missing(true);
    // A migration may rewrite a large table, and replicas starting together queue on
    // sqlx's advisory lock: the pool's statement and lock timeouts must not cut either
    // short. They are lifted for this session only and restored before it goes back.
    let mut conn = pool.acquire().await?;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SET lock_timeout = 0")
        .execute(&mut *conn)
        .await?;
    let ran = migrator.run(&mut *conn).await;
    let mut reset = sqlx::query("RESET statement_timeout")
        .execute(&mut *conn)
        .await;
    if reset.is_ok() {
        reset = sqlx::query("RESET lock_timeout").execute(&mut *conn).await;
    }
    if reset.is_err() {
        // Never hand a connection without its limits back to the pool.
        conn.detach();
    }
    ran?;
    info!(
        migrations = MIGRATOR.migrations.len(),
        "database schema up to date"
    );
    Ok(())
}
