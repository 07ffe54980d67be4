use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use tracing::{info, warn};

use crate::error::StoreError;
use crate::settings::DatabaseSettings;

/// Opens the pool, creating the database first when allowed and missing, and retrying
/// while the server is unreachable (for up to `connect_timeout_secs`).
pub async fn connect(settings: &DatabaseSettings) -> Result<PgPool, StoreError> {
    let url = settings.redacted_url();
    let options = PgConnectOptions::from_str(&settings.url)
        .map_err(|e| StoreError::Connect {
            url: url.clone(),
            reason: e.to_string(),
        })?
        // Server-side limits on every pooled connection: one stuck statement or a session
        // idling inside a transaction (holding a lock every replica needs) is ended by the
        // server instead of stalling the others. Values are in milliseconds.
        .options(settings.session_options());
    let started = Instant::now();
    let limit = Duration::from_secs(settings.connect_timeout_secs);
    let mut delay = Duration::from_millis(200);
    loop {
        match try_connect(settings, options.clone()).await {
            Ok(pool) => {
                info!(url, "connected to the database");
                return Ok(pool);
            }
            Err(e @ StoreError::CreateDatabase { .. }) => return Err(e),
            Err(e) if started.elapsed() >= limit => {
                return Err(StoreError::Connect {
                    url,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                warn!(url, error = %e, retry_in_ms = delay.as_millis() as u64, "database unreachable");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn try_connect(
    settings: &DatabaseSettings,
    options: PgConnectOptions,
) -> Result<PgPool, StoreError> {
    if settings.create_if_missing {
        create_database_if_missing(&options).await?;
    }
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
        .connect_with(options)
        .await?)
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), StoreError> {
    let name = options.get_database().unwrap_or("postgres").to_string();
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let created = sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .await;
        match created {
            Ok(_) => info!(database = %name, "database created"),
            // Another replica created it between our check and our CREATE.
            Err(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("42P04" | "23505")) => {}
            Err(e) => {
                return Err(StoreError::CreateDatabase {
                    name,
                    reason: e.to_string(),
                });
            }
        }
    }
    let _ = admin.close().await;
    Ok(())
}
