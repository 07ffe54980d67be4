//! MCP HTTP sessions shared by replicas: the client's `initialize` parameters by session id.

use sqlx::PgPool;

/// The stored state of a session, marking it used; `None` when unknown.
pub async fn load(pool: &PgPool, id: &str) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE mcp_sessions SET used_at = now() WHERE session_id = $1 RETURNING state",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Records a new session (again: the latest `initialize` wins).
pub async fn store(pool: &PgPool, id: &str, state: &serde_json::Value) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mcp_sessions (session_id, state) VALUES ($1, $2)
         ON CONFLICT (session_id) DO UPDATE SET state = EXCLUDED.state, used_at = now()",
    )
    .bind(id)
    .bind(state)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete(pool: &PgPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mcp_sessions WHERE session_id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets sessions unused for `days`; returns how many.
pub async fn prune(pool: &PgPool, days: u32) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM mcp_sessions WHERE used_at < now() - $1 * interval '1 day'")
            .bind(days as i32)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
