//! What the console reads from the monitor's own tables (`system_events`, `audit_log`):
//! the charts' series and the MCP calls grouped, so one chatty agent does not flood the
//! lists. Incidents and actions themselves are the orchestrator's and come over the bus.

use chrono::NaiveDate;
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::events::{AuditRow, EventRow};

/// The audit verb of an MCP call, and the event type it travels as.
pub const MCP_VERB: &str = "mcp.call";
pub const MCP_EVENT: &str = "audit.mcp.call";

/// Incidents detected per day and severity over the last `days` (from `incident.detected`).
pub async fn incidents_per_day(
    pool: &PgPool,
    days: i32,
) -> Result<Vec<(NaiveDate, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day,
                COALESCE(payload->'incident'->>'severity', 'unknown') AS severity,
                count(*)
         FROM system_events
         WHERE event_type = 'incident.detected'
           AND occurred_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                              - make_interval(days => $1 - 1)
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(days)
    .fetch_all(pool)
    .await
}

/// How actions ended over the last `days`: `completed`, `failed`, `rejected`.
pub async fn actions_by_outcome(
    pool: &PgPool,
    days: i32,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT substr(event_type, 8) AS outcome, count(*)
         FROM system_events
         WHERE event_type IN ('action.completed', 'action.failed', 'action.rejected')
           AND occurred_at >= now() - make_interval(days => $1)
         GROUP BY 1 ORDER BY 1",
    )
    .bind(days)
    .fetch_all(pool)
    .await
}

/// One line of the grouped MCP calls.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct McpGroup {
    pub principal: String,
    pub tool: String,
    pub calls: i64,
    pub refused: i64,
    pub last_at: chrono::DateTime<chrono::Utc>,
}

/// MCP calls of the last `hours`, counted per principal and tool, the busiest first.
pub async fn mcp_calls(pool: &PgPool, hours: i32) -> Result<Vec<McpGroup>, sqlx::Error> {
    sqlx::query_as(
        "SELECT COALESCE(on_behalf_of, actor) AS principal,
                COALESCE(target_id, target_type) AS tool,
                count(*) AS calls,
                count(*) FILTER (WHERE outcome = 'denied') AS refused,
                max(occurred_at) AS last_at
         FROM audit_log
         WHERE verb = $1 AND occurred_at >= now() - make_interval(hours => $2)
         GROUP BY 1, 2 ORDER BY calls DESC, principal, tool LIMIT 50",
    )
    .bind(MCP_VERB)
    .bind(hours)
    .fetch_all(pool)
    .await
}

/// The console's event filter: a type (exact, or a prefix ending in `*`) and whether MCP
/// calls are listed one by one (only when asked for by type).
#[derive(Debug, Clone, Default)]
pub struct ConsoleEvents {
    pub event_type: Option<String>,
    pub severity: Option<String>,
    pub limit: i64,
}

/// Newest first, MCP calls left out unless the type asks for them.
pub async fn events(pool: &PgPool, f: &ConsoleEvents) -> Result<Vec<EventRow>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM system_events WHERE true");
    match &f.event_type {
        // Callers allow only [A-Za-z0-9._-] before the `*`: no LIKE metacharacter.
        Some(t) => match t.strip_suffix('*') {
            Some(prefix) => q
                .push(" AND event_type LIKE ")
                .push_bind(format!("{prefix}%")),
            None => q.push(" AND event_type = ").push_bind(t.clone()),
        },
        None => q.push(" AND event_type <> ").push_bind(MCP_EVENT),
    };
    if let Some(s) = &f.severity {
        q.push(" AND severity = ").push_bind(s.clone());
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit);
    q.build_query_as().fetch_all(pool).await
}

/// The console's audit filter: principal (or whom it acted for), verb and outcome; MCP
/// calls left out unless the verb asks for them.
#[derive(Debug, Clone, Default)]
pub struct ConsoleAudit {
    pub actor: Option<String>,
    pub verb: Option<String>,
    pub outcome: Option<String>,
    pub limit: i64,
}

pub async fn audit(pool: &PgPool, f: &ConsoleAudit) -> Result<Vec<AuditRow>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM audit_log WHERE true");
    if let Some(a) = &f.actor {
        q.push(" AND (actor = ")
            .push_bind(a.clone())
            .push(" OR on_behalf_of = ")
            .push_bind(a.clone())
            .push(")");
    }
    match &f.verb {
        Some(v) => q.push(" AND verb = ").push_bind(v.clone()),
        None => q.push(" AND verb <> ").push_bind(MCP_VERB),
    };
    if let Some(o) = &f.outcome {
        q.push(" AND outcome = ").push_bind(o.clone());
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit);
    q.build_query_as().fetch_all(pool).await
}
