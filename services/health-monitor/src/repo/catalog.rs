//! `monitored_services` (one row per service, its up/down state) and `service_instances`
//! (one row per process that heartbeats).
//!
//! Every decision about a service is taken while holding its `monitored_services` row lock
//! ([`lock_service`]); statements after the lock see every instance change committed before
//! it (READ COMMITTED takes a snapshot per statement), so a heartbeat and a sweep on two
//! monitors serialise per service and a transition is decided once.

use chrono::{DateTime, Utc};
use domain::health::{Heartbeat, ServiceKind, ServiceStatus};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};

/// An instance is alive while it heartbeats within `$1` seconds (or two of its intervals).
/// Every query using it binds the down-after seconds as `$1`.
const ALIVE: &str = "(i.status IN ('up', 'degraded') AND i.last_heartbeat_at >= now() - make_interval(secs => GREATEST($1::float8, 2 * i.interval_secs)))";

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ServiceRow {
    pub service: String,
    pub kind: String,
    pub state: String,
    pub changed_at: DateTime<Utc>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    pub last_alert_at: Option<DateTime<Utc>>,
    pub last_check: Option<serde_json::Value>,
}

impl ServiceRow {
    pub fn kind(&self) -> ServiceKind {
        if self.kind == "external" {
            ServiceKind::External
        } else {
            ServiceKind::Runbooks
        }
    }
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct InstanceRow {
    pub service: String,
    pub instance_id: String,
    pub host: Option<String>,
    pub version: Option<String>,
    /// up, degraded, down or stopping, as last recorded.
    pub status: String,
    pub ready: bool,
    pub degraded: Vec<String>,
    pub checks: serde_json::Value,
    pub interval_secs: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    /// Heartbeating now (recorded up/degraded and not late).
    pub alive: bool,
}

/// Creates the service's row when missing (state `unknown`) and locks it until the end of
/// the transaction. Returns the row and whether it was just created.
pub async fn lock_service(
    tx: &mut PgConnection,
    service: &str,
    kind: ServiceKind,
) -> Result<(ServiceRow, bool), sqlx::Error> {
    let created = sqlx::query(
        "INSERT INTO monitored_services (service, kind, state) VALUES ($1, $2, 'unknown')
         ON CONFLICT (service) DO NOTHING",
    )
    .bind(service)
    .bind(kind.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let row = sqlx::query_as("SELECT * FROM monitored_services WHERE service = $1 FOR UPDATE")
        .bind(service)
        .fetch_one(&mut *tx)
        .await?;
    Ok((row, created))
}

/// Locks an existing service's row; `None` when it is not catalogued.
pub async fn lock_existing(
    tx: &mut PgConnection,
    service: &str,
) -> Result<Option<ServiceRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM monitored_services WHERE service = $1 FOR UPDATE")
        .bind(service)
        .fetch_optional(tx)
        .await
}

/// Sets the state (and `changed_at` when it differs); `alert` also records an alert time.
pub async fn set_state(
    tx: &mut PgConnection,
    service: &str,
    state: &str,
    alert: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE monitored_services
         SET changed_at = CASE WHEN state = $2 THEN changed_at ELSE now() END,
             state = $2,
             last_alert_at = CASE WHEN $3 THEN now() ELSE last_alert_at END
         WHERE service = $1",
    )
    .bind(service)
    .bind(state)
    .bind(alert)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn touch_seen(tx: &mut PgConnection, service: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE monitored_services SET last_seen_at = now() WHERE service = $1")
        .bind(service)
        .execute(tx)
        .await?;
    Ok(())
}

/// Records a heartbeat unless the instance already said goodbye or a newer heartbeat of it
/// was applied (several consumers may reorder them). Returns whether it was applied.
pub async fn upsert_instance(
    tx: &mut PgConnection,
    hb: &Heartbeat,
    sent_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let status = match hb.status {
        ServiceStatus::Up => "up",
        ServiceStatus::Degraded | ServiceStatus::Stopping => "degraded",
    };
    let checks = serde_json::to_value(&hb.checks).unwrap_or_default();
    let interval = hb.interval_secs.clamp(1, 3600) as i32;
    let applied = sqlx::query(
        "INSERT INTO service_instances AS i (service, instance_id, host, version, status, checks,
                interval_secs, started_at, ready, degraded, beat_sent_at, last_heartbeat_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
         ON CONFLICT (service, instance_id) DO UPDATE SET
             host = EXCLUDED.host, version = EXCLUDED.version, status = EXCLUDED.status,
             checks = EXCLUDED.checks, interval_secs = EXCLUDED.interval_secs,
             started_at = EXCLUDED.started_at, ready = EXCLUDED.ready,
             degraded = EXCLUDED.degraded, beat_sent_at = EXCLUDED.beat_sent_at,
             last_heartbeat_at = now()
         WHERE i.status <> 'stopping'
           AND (i.beat_sent_at IS NULL OR i.beat_sent_at <= EXCLUDED.beat_sent_at)",
    )
    .bind(&hb.service)
    .bind(&hb.instance_id)
    .bind(&hb.host)
    .bind(&hb.version)
    .bind(status)
    .bind(checks)
    .bind(interval)
    .bind(hb.started_at)
    .bind(hb.ready)
    .bind(&hb.degraded)
    .bind(sent_at)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(applied == 1)
}

/// A farewell: the instance becomes a `stopping` tombstone, which later (late) heartbeats
/// of it cannot revive.
pub async fn farewell(
    tx: &mut PgConnection,
    hb: &Heartbeat,
    sent_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO service_instances (service, instance_id, host, version, status,
                interval_secs, started_at, beat_sent_at, last_heartbeat_at)
         VALUES ($1, $2, $3, $4, 'stopping', $5, $6, $7, now())
         ON CONFLICT (service, instance_id) DO UPDATE SET
             status = 'stopping', beat_sent_at = EXCLUDED.beat_sent_at,
             last_heartbeat_at = now()",
    )
    .bind(&hb.service)
    .bind(&hb.instance_id)
    .bind(&hb.host)
    .bind(&hb.version)
    .bind(hb.interval_secs.clamp(1, 3600) as i32)
    .bind(hb.started_at)
    .bind(sent_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// What the instances of one service look like now.
#[derive(Debug, Clone, Default, FromRow)]
pub struct InstanceCounts {
    pub alive: i64,
    /// Recorded down, or late.
    pub dead: i64,
    /// The newest heartbeat of a dead instance.
    pub last_dead_heartbeat: Option<DateTime<Utc>>,
    /// The dead instance, when there is exactly one.
    pub dead_instance: Option<String>,
}

pub async fn counts(
    tx: &mut PgConnection,
    service: &str,
    down_after: i64,
) -> Result<InstanceCounts, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT count(*) FILTER (WHERE {ALIVE}) AS alive,
                count(*) FILTER (WHERE i.status <> 'stopping' AND NOT {ALIVE}) AS dead,
                max(i.last_heartbeat_at) FILTER (WHERE i.status <> 'stopping' AND NOT {ALIVE})
                    AS last_dead_heartbeat,
                CASE WHEN count(*) FILTER (WHERE i.status <> 'stopping' AND NOT {ALIVE}) = 1
                     THEN max(i.instance_id) FILTER (WHERE i.status <> 'stopping' AND NOT {ALIVE})
                END AS dead_instance
         FROM service_instances i WHERE i.service = $2"
    ))
    .bind(down_after as f64)
    .bind(service)
    .fetch_one(tx)
    .await
}

/// Marks instances that stopped heartbeating `down`. Idempotent; any monitor may run it.
pub async fn mark_silent(pool: &PgPool, down_after: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(&format!(
        "UPDATE service_instances AS i SET status = 'down'
         WHERE i.status IN ('up', 'degraded') AND NOT {ALIVE}"
    ))
    .bind(down_after as f64)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Runbooks services marked up that have no live instance left: the candidates for a
/// down (or stopped) transition, decided under their lock.
pub async fn silent_services(pool: &PgPool, down_after: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT m.service FROM monitored_services m
         WHERE m.kind = 'runbooks' AND m.state = 'up'
           AND NOT EXISTS (SELECT 1 FROM service_instances i WHERE i.service = m.service AND {ALIVE})"
    ))
    .bind(down_after as f64)
    .fetch_all(pool)
    .await
}

pub async fn services(pool: &PgPool) -> Result<Vec<ServiceRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM monitored_services ORDER BY kind DESC, service")
        .fetch_all(pool)
        .await
}

pub async fn service(pool: &PgPool, name: &str) -> Result<Option<ServiceRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM monitored_services WHERE service = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// Every instance except goodbye tombstones, with whether it is alive.
pub async fn instances(
    pool: &PgPool,
    down_after: i64,
    service: Option<&str>,
) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT i.service, i.instance_id, i.host, i.version, i.status, i.ready, i.degraded,
                i.checks, i.interval_secs, i.started_at, i.first_seen_at, i.last_heartbeat_at,
                {ALIVE} AS alive
         FROM service_instances i
         WHERE i.status <> 'stopping' AND ($2::text IS NULL OR i.service = $2)
         ORDER BY i.service, i.instance_id"
    ))
    .bind(down_after as f64)
    .bind(service)
    .fetch_all(pool)
    .await
}

/// Drops dead instances and goodbye tombstones older than `secs`, and stopped services
/// older than `stopped_hours`. Returns (instances, services) removed.
pub async fn forget(
    pool: &PgPool,
    secs: u64,
    stopped_hours: u64,
) -> Result<(u64, u64), sqlx::Error> {
    let instances = sqlx::query(
        "DELETE FROM service_instances
         WHERE status IN ('down', 'stopping')
           AND last_heartbeat_at < now() - make_interval(secs => $1::float8)",
    )
    .bind(secs as f64)
    .execute(pool)
    .await?
    .rows_affected();
    let services = sqlx::query(
        "DELETE FROM monitored_services m
         WHERE m.state = 'stopped' AND m.changed_at < now() - make_interval(hours => $1::int)
           AND NOT EXISTS (SELECT 1 FROM service_instances i
                           WHERE i.service = m.service AND i.status IN ('up', 'degraded'))",
    )
    .bind(stopped_hours.min(i32::MAX as u64) as i32)
    .execute(pool)
    .await?
    .rows_affected();
    Ok((instances, services))
}

/// Removes external targets that are no longer configured.
pub async fn forget_unconfigured_targets(
    pool: &PgPool,
    configured: &[String],
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM monitored_services WHERE kind = 'external' AND NOT (service = ANY($1))",
    )
    .bind(configured)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Records the result of a probe on the (locked) target row.
pub async fn record_probe_state(
    tx: &mut PgConnection,
    service: &str,
    ok: bool,
    last_check: &serde_json::Value,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE monitored_services
         SET consecutive_failures = CASE WHEN $2 THEN 0 ELSE consecutive_failures + 1 END,
             last_seen_at = CASE WHEN $2 THEN now() ELSE last_seen_at END,
             last_check = $3
         WHERE service = $1
         RETURNING consecutive_failures",
    )
    .bind(service)
    .bind(ok)
    .bind(last_check)
    .fetch_one(tx)
    .await
}
