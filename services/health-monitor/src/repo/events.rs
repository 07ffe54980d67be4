//! `system_events` (every event, from the bus or `POST /events`), `audit_log` (the `audit.*`
//! ones) and the monotonic counters behind `runbooks_events_total` / `runbooks_audits_total`.
//! Both inserts are idempotent on the envelope id.

use chrono::{DateTime, Utc};
use domain::events::AuditRecord;
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub producer: String,
    pub severity: String,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub event_id: Uuid,
    pub verb: String,
    pub actor: String,
    pub on_behalf_of: Option<String>,
    pub channel: String,
    pub outcome: String,
    pub clause: Option<String>,
    pub target_type: String,
    pub target_id: Option<String>,
    pub details: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub producer: String,
    pub severity: &'static str,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

async fn bump(tx: &mut PgConnection, counter: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO health_counters (name, value) VALUES ($1, 1)
         ON CONFLICT (name) DO UPDATE SET value = health_counters.value + 1",
    )
    .bind(counter)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores the event unless its id is known; returns the new row, `None` for a duplicate.
pub async fn insert(tx: &mut PgConnection, e: &NewEvent) -> Result<Option<EventRow>, sqlx::Error> {
    let row: Option<EventRow> = sqlx::query_as(
        "INSERT INTO system_events (event_id, event_type, producer, severity, payload, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (event_id) DO NOTHING
         RETURNING *",
    )
    .bind(e.event_id)
    .bind(&e.event_type)
    .bind(&e.producer)
    .bind(e.severity)
    .bind(&e.payload)
    .bind(e.occurred_at)
    .fetch_optional(&mut *tx)
    .await?;
    if row.is_some() {
        bump(tx, "events").await?;
    }
    Ok(row)
}

/// Stores an audit record unless its id is known; returns whether it was new.
pub async fn insert_audit(
    tx: &mut PgConnection,
    event_id: Uuid,
    a: &AuditRecord,
) -> Result<bool, sqlx::Error> {
    let outcome = match a.outcome {
        domain::events::AuditOutcome::Allowed => "allowed",
        domain::events::AuditOutcome::Denied => "denied",
    };
    let inserted = sqlx::query(
        "INSERT INTO audit_log (event_id, verb, actor, on_behalf_of, channel, outcome, clause,
                                target_type, target_id, details, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(&a.verb)
    .bind(&a.actor)
    .bind(&a.on_behalf_of)
    .bind(a.channel.as_str())
    .bind(outcome)
    .bind(&a.clause)
    .bind(&a.target_type)
    .bind(&a.target_id)
    .bind(a.details.clone().unwrap_or_else(|| serde_json::json!({})))
    .bind(a.at)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        bump(tx, "audits").await?;
    }
    Ok(inserted)
}

pub async fn by_event_id(pool: &PgPool, id: Uuid) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM system_events WHERE event_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// `type` is an exact type or a prefix ending in `*` (`audit.*`).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    /// Only rows with a smaller id (the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub async fn list(pool: &PgPool, f: &EventFilter) -> Result<Vec<EventRow>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM system_events WHERE true");
    if let Some(t) = &f.event_type {
        match t.strip_suffix('*') {
            // Callers allow only [A-Za-z0-9._-] before the `*`: no LIKE metacharacter.
            Some(prefix) => q
                .push(" AND event_type LIKE ")
                .push_bind(format!("{prefix}%")),
            None => q.push(" AND event_type = ").push_bind(t.clone()),
        };
    }
    if let Some(s) = f.since {
        q.push(" AND occurred_at >= ").push_bind(s);
    }
    if let Some(b) = f.before {
        q.push(" AND id < ").push_bind(b);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit);
    q.build_query_as().fetch_all(pool).await
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Matches the principal or the user it acted for.
    pub actor: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub before: Option<i64>,
    pub limit: i64,
}

pub async fn list_audit(pool: &PgPool, f: &AuditFilter) -> Result<Vec<AuditRow>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM audit_log WHERE true");
    if let Some(a) = &f.actor {
        q.push(" AND (actor = ")
            .push_bind(a.clone())
            .push(" OR on_behalf_of = ")
            .push_bind(a.clone())
            .push(")");
    }
    if let Some(o) = &f.outcome {
        q.push(" AND outcome = ").push_bind(o.clone());
    }
    if let Some(s) = f.since {
        q.push(" AND occurred_at >= ").push_bind(s);
    }
    if let Some(b) = f.before {
        q.push(" AND id < ").push_bind(b);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit);
    q.build_query_as().fetch_all(pool).await
}

/// (events, audits) ever stored.
pub async fn totals(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, value FROM health_counters WHERE name IN ('events', 'audits')",
    )
    .fetch_all(pool)
    .await?;
    let get = |n: &str| rows.iter().find(|(k, _)| k == n).map_or(0, |(_, v)| *v);
    Ok((get("events"), get("audits")))
}
