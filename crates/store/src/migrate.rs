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
    migrator.run(pool).await?;
    info!(
        migrations = MIGRATOR.migrations.len(),
        "database schema up to date"
    );
    Ok(())
}
