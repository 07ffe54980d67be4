//! SQL of the notifier: the desired state of each Slack message, the channels' pacing, and
//! the queue the sender drains.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

use crate::slack::Content;

#[derive(Debug, Clone, FromRow)]
pub struct MessageRow {
    pub key: String,
    pub kind: String,
    pub channel: String,
    pub thread_key: Option<String>,
    pub after_key: Option<String>,
    pub state: Option<serde_json::Value>,
    pub text: String,
    pub blocks: serde_json::Value,
    pub ts: Option<String>,
}

impl MessageRow {
    /// The message whose thread this one's conversation lives in.
    pub fn thread_root(&self) -> String {
        self.thread_key.clone().unwrap_or_else(|| self.key.clone())
    }
}

pub struct NewMessage<'a> {
    pub key: &'a str,
    pub kind: &'a str,
    pub channel: &'a str,
    pub thread_key: Option<&'a str>,
    pub after_key: Option<&'a str>,
    pub state: Option<serde_json::Value>,
    pub content: &'a Content,
    /// Placeholders wait this long for the facts they lack.
    pub wait: Option<Duration>,
}

const COLUMNS: &str = "key, kind, channel, thread_key, after_key, state, text, blocks, ts";

pub async fn ensure_channel(tx: &mut PgConnection, channel: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO slack_channels (channel) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(channel)
        .execute(tx)
        .await?;
    Ok(())
}

/// Serialises decisions about one channel (bursts) between consumers.
pub async fn lock_channel(tx: &mut PgConnection, channel: &str) -> Result<(), sqlx::Error> {
    ensure_channel(&mut *tx, channel).await?;
    sqlx::query("SELECT 1 FROM slack_channels WHERE channel = $1 FOR UPDATE")
        .bind(channel)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn lock(tx: &mut PgConnection, key: &str) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM slack_messages WHERE key = $1 FOR UPDATE"
    ))
    .bind(key)
    .fetch_optional(tx)
    .await
}

/// Inserts a message unless one with its key exists; `true` when inserted.
pub async fn insert(tx: &mut PgConnection, m: NewMessage<'_>) -> Result<bool, sqlx::Error> {
    ensure_channel(&mut *tx, m.channel).await?;
    let wait_ms = m.wait.map(|d| d.as_millis() as i64).unwrap_or(0);
    let n = sqlx::query(
        "INSERT INTO slack_messages
            (key, kind, channel, thread_key, after_key, state, text, blocks, ready_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + $9 * interval '1 millisecond')
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(m.key)
    .bind(m.kind)
    .bind(m.channel)
    .bind(m.thread_key)
    .bind(m.after_key)
    .bind(m.state)
    .bind(&m.content.text)
    .bind(&m.content.blocks)
    .bind(wait_ms)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Stores the new state; when the rendered content changed, the message is due again
/// (an update if it was posted). The same content changes nothing visible.
pub async fn save(
    tx: &mut PgConnection,
    row: &MessageRow,
    state: Option<serde_json::Value>,
    content: &Content,
) -> Result<bool, sqlx::Error> {
    let changed = row.text != content.text || row.blocks != content.blocks;
    if changed {
        sqlx::query(
            "UPDATE slack_messages SET state = $2, text = $3, blocks = $4, version = version + 1,
                    dirty_seq = nextval('slack_messages_seq'), updated_at = now()
             WHERE key = $1",
        )
        .bind(&row.key)
        .bind(state)
        .bind(&content.text)
        .bind(&content.blocks)
        .execute(tx)
        .await?;
    } else if state != row.state {
        sqlx::query("UPDATE slack_messages SET state = $2 WHERE key = $1")
            .bind(&row.key)
            .bind(state)
            .execute(tx)
            .await?;
    }
    Ok(changed)
}

/// A placeholder learnt its facts: it may go now, to `channel`, with everything waiting on it.
pub async fn make_ready(
    tx: &mut PgConnection,
    key: &str,
    channel: &str,
) -> Result<(), sqlx::Error> {
    ensure_channel(&mut *tx, channel).await?;
    sqlx::query(
        "UPDATE slack_messages SET channel = $2,
                ready_at = CASE WHEN key = $1 THEN LEAST(ready_at, now()) ELSE ready_at END
         WHERE ts IS NULL AND (key = $1 OR thread_key = $1 OR after_key = $1)",
    )
    .bind(key)
    .bind(channel)
    .execute(tx)
    .await?;
    Ok(())
}

/// The burst of `channel` still taking incidents, if any.
pub async fn open_burst(
    tx: &mut PgConnection,
    channel: &str,
    window: Duration,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT key FROM slack_messages
         WHERE kind = 'burst' AND channel = $1
           AND updated_at > now() - $2 * interval '1 millisecond'
         ORDER BY updated_at DESC LIMIT 1",
    )
    .bind(channel)
    .bind(window.as_millis() as i64)
    .fetch_optional(tx)
    .await
}

/// Incidents that got a message of their own in `channel` within the window:
/// `(key, already posted)`.
pub async fn recent_standalone(
    tx: &mut PgConnection,
    channel: &str,
    window: Duration,
) -> Result<Vec<(String, bool)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT key, ts IS NOT NULL FROM slack_messages
         WHERE kind = 'incident' AND channel = $1 AND thread_key IS NULL
           AND ready_at <= now() AND created_at > now() - $2 * interval '1 millisecond'
         ORDER BY dirty_seq",
    )
    .bind(channel)
    .bind(window.as_millis() as i64)
    .fetch_all(tx)
    .await
}

pub async fn next_burst_key(tx: &mut PgConnection) -> Result<String, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT nextval('slack_messages_seq')")
        .fetch_one(tx)
        .await?;
    Ok(format!("burst:{n}"))
}

/// Moves an unposted incident message, and what waits in its thread, into `burst`'s thread.
pub async fn join_burst(tx: &mut PgConnection, burst: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE slack_messages SET thread_key = $1
         WHERE ts IS NULL AND (key = $2 OR thread_key = $2)",
    )
    .bind(burst)
    .bind(key)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn burst_members(
    tx: &mut PgConnection,
    burst: &str,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT state FROM slack_messages
         WHERE kind = 'incident' AND thread_key = $1 AND state IS NOT NULL
         ORDER BY created_at, key",
    )
    .bind(burst)
    .fetch_all(tx)
    .await
}

// ───────────────────────────── the sender's side ─────────────────────────────

/// Work in the channel that may go now.
#[derive(Debug, Clone, FromRow)]
pub struct Pending {
    pub key: String,
    pub kind: String,
    pub version: i64,
    pub text: String,
    pub blocks: serde_json::Value,
    pub ts: Option<String>,
    pub channel_id: Option<String>,
    pub thread_ts: Option<String>,
    pub thread_key: Option<String>,
}

/// Takes a channel with due work for `lease`, unless another sender has it.
pub async fn claim_channel(
    pool: &PgPool,
    me: &str,
    lease: Duration,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE slack_channels SET leased_by = $1,
                lease_until = now() + $2 * interval '1 millisecond'
         WHERE channel = (
             SELECT c.channel FROM slack_channels c
             WHERE c.next_send_at <= now()
               AND (c.lease_until IS NULL OR c.lease_until < now())
               AND EXISTS (SELECT 1 FROM slack_messages m
                           WHERE m.channel = c.channel AND m.status = 'active'
                             AND m.sent_version < m.version AND m.ready_at <= now())
             ORDER BY c.next_send_at
             LIMIT 1
             FOR UPDATE SKIP LOCKED)
         RETURNING channel",
    )
    .bind(me)
    .bind(lease.as_millis() as i64)
    .fetch_optional(pool)
    .await
}

/// The oldest change in `channel` whose thread parent (and predecessor) is already posted.
pub async fn next_pending(pool: &PgPool, channel: &str) -> Result<Option<Pending>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.key, m.kind, m.version, m.text, m.blocks, m.ts, m.channel_id,
                CASE WHEN t.status = 'active' THEN t.ts END AS thread_ts, m.thread_key
         FROM slack_messages m
         LEFT JOIN slack_messages t ON t.key = m.thread_key
         LEFT JOIN slack_messages a ON a.key = m.after_key
         WHERE m.channel = $1 AND m.status = 'active' AND m.sent_version < m.version
           AND m.ready_at <= now()
           AND (m.ts IS NOT NULL OR (
                (m.thread_key IS NULL OR t.key IS NULL OR t.ts IS NOT NULL OR t.status = 'failed')
            AND (m.after_key IS NULL OR a.key IS NULL OR a.ts IS NOT NULL OR a.status = 'failed')))
         ORDER BY m.dirty_seq
         LIMIT 1",
    )
    .bind(channel)
    .fetch_optional(pool)
    .await
}

pub async fn mark_posted(
    pool: &PgPool,
    p: &Pending,
    ts: &str,
    channel_id: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE slack_messages SET ts = $2, channel_id = $3, sent_version = GREATEST(sent_version, $4),
                attempts = 0, last_error = NULL
         WHERE key = $1",
    )
    .bind(&p.key)
    .bind(ts)
    .bind(channel_id)
    .bind(p.version)
    .execute(&mut *tx)
    .await?;
    if let Some(id) = p
        .key
        .strip_prefix("incident:")
        .and_then(|s| s.parse::<i64>().ok())
    {
        // Where the incident's conversation lives: its own message, or the burst's thread.
        let thread_ts = p.thread_ts.as_deref().unwrap_or(ts);
        sqlx::query(
            "INSERT INTO slack_threads (incident_id, channel, ts) VALUES ($1, $2, $3)
             ON CONFLICT (incident_id) DO UPDATE SET channel = $2, ts = $3, updated_at = now()",
        )
        .bind(id)
        .bind(channel_id)
        .bind(thread_ts)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

pub async fn mark_updated(pool: &PgPool, key: &str, version: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE slack_messages SET sent_version = GREATEST(sent_version, $2), attempts = 0,
                last_error = NULL
         WHERE key = $1",
    )
    .bind(key)
    .bind(version)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn mark_attempt(pool: &PgPool, key: &str, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE slack_messages SET attempts = attempts + 1, last_error = $2 WHERE key = $1",
    )
    .bind(key)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn mark_failed(pool: &PgPool, key: &str, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE slack_messages SET status = 'failed', attempts = attempts + 1, last_error = $2
         WHERE key = $1",
    )
    .bind(key)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives the channel back, next due after `wait`; `failed` counts consecutive failures.
pub async fn release_channel(
    pool: &PgPool,
    channel: &str,
    wait: Duration,
    failed: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE slack_channels SET leased_by = NULL, lease_until = NULL,
                next_send_at = now() + $2 * interval '1 millisecond',
                failures = CASE WHEN $3::text IS NULL THEN 0 ELSE failures + 1 END,
                last_error = $3
         WHERE channel = $1",
    )
    .bind(channel)
    .bind(wait.as_millis() as i64)
    .bind(failed)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn channel_failures(pool: &PgPool, channel: &str) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT failures FROM slack_channels WHERE channel = $1")
        .bind(channel)
        .fetch_one(pool)
        .await
}

/// When the earliest channel with work is due (to sleep until then).
pub async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT min(GREATEST(c.next_send_at, COALESCE(c.lease_until, c.next_send_at)))
         FROM slack_channels c
         WHERE EXISTS (SELECT 1 FROM slack_messages m
                       WHERE m.channel = c.channel AND m.status = 'active'
                         AND m.sent_version < m.version)",
    )
    .fetch_one(pool)
    .await
}

/// Messages waiting to be sent (a gauge for dashboards).
pub async fn backlog(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM slack_messages WHERE status = 'active' AND sent_version < version",
    )
    .fetch_one(pool)
    .await
}

/// Forgets sent messages and seen request ids past their use.
pub async fn cleanup(pool: &PgPool, retention_days: u32) -> Result<u64, sqlx::Error> {
    let a = sqlx::query(
        "DELETE FROM slack_messages
         WHERE updated_at < now() - $1 * interval '1 day'
           AND (sent_version >= version OR status = 'failed')",
    )
    .bind(retention_days as i64)
    .execute(pool)
    .await?
    .rows_affected();
    let b = sqlx::query("DELETE FROM slack_seen WHERE seen_at < now() - interval '1 hour'")
        .execute(pool)
        .await?
        .rows_affected();
    Ok(a + b)
}

/// A Slack message we did not post (a user's mention) that our replies thread under.
pub async fn anchor(pool: &PgPool, channel: &str, ts: &str) -> Result<String, sqlx::Error> {
    let key = format!("slack:{channel}:{ts}");
    let mut tx = pool.begin().await?;
    ensure_channel(&mut tx, channel).await?;
    sqlx::query(
        "INSERT INTO slack_messages (key, kind, channel, text, ts, channel_id, sent_version)
         VALUES ($1, 'post', $2, '', $3, $2, 1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(&key)
    .bind(channel)
    .bind(ts)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(key)
}

/// Queues a bot reply in the thread of `thread_key`, after `after_key` when given.
pub async fn queue_reply(
    pool: &PgPool,
    key: &str,
    channel: &str,
    thread_key: &str,
    after_key: Option<&str>,
    content: &Content,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    insert(
        &mut tx,
        NewMessage {
            key,
            kind: "reply",
            channel,
            thread_key: Some(thread_key),
            after_key,
            state: None,
            content,
            wait: None,
        },
    )
    .await?;
    tx.commit().await
}
