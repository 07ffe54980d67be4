//! `listener_checkpoints`: one row per source holding the checkpoint, the LastSentStore and
//! the lease that makes one replica its holder. Every write of the checkpoint is fenced by
//! the lease's token.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Row};

/// What the holder of a source starts from.
#[derive(Debug, Clone)]
pub struct Lease {
    /// Taken anew at every acquisition; the checkpoint only moves for the current one.
    pub token: i64,
    pub checkpoint: Option<DateTime<Utc>>,
    pub sent_ids: Value,
}

/// A checkpoint as stored.
#[derive(Debug, Clone)]
pub struct CheckpointRow {
    pub source: String,
    pub checkpoint: Option<DateTime<Utc>>,
    pub cursor: Value,
    pub sent_ids: Value,
    pub holder: Option<String>,
    pub token: i64,
    pub lease_until: Option<DateTime<Utc>>,
}

/// The checkpoint a holder writes.
pub struct Save<'a> {
    pub source: &'a str,
    pub token: i64,
    pub checkpoint: DateTime<Utc>,
    pub cursor: &'a Value,
    pub sent_ids: &'a Value,
}

#[derive(Clone)]
pub struct CheckpointRepo {
    pool: PgPool,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl CheckpointRepo {
    pub fn new(pool: PgPool) -> Self {
        CheckpointRepo { pool }
    }

    /// Takes the source when nobody holds it or its lease has run out (the database clock
    /// decides); `None` while another replica holds it.
    pub async fn acquire(
        &self,
        source: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO listener_checkpoints (source, holder, lease_until, token)
             VALUES ($1, $2, now() + make_interval(secs => $3), 1)
             ON CONFLICT (source) DO UPDATE
                SET holder = EXCLUDED.holder,
                    lease_until = EXCLUDED.lease_until,
                    token = listener_checkpoints.token + 1
              WHERE listener_checkpoints.lease_until IS NULL
                 OR listener_checkpoints.lease_until < now()
             RETURNING token, last_timestamp, sent_ids",
        )
        .bind(source)
        .bind(holder)
        .bind(secs(ttl))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Lease {
            token: r.get("token"),
            checkpoint: r.get("last_timestamp"),
            sent_ids: r.get("sent_ids"),
        }))
    }

    /// Extends the lease; `false` when it was taken over meanwhile.
    pub async fn renew(
        &self,
        source: &str,
        token: i64,
        ttl: Duration,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE listener_checkpoints SET lease_until = now() + make_interval(secs => $3)
              WHERE source = $1 AND token = $2 AND lease_until IS NOT NULL",
        )
        .bind(source)
        .bind(token)
        .bind(secs(ttl))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes the checkpoint (never backwards) and extends the lease, only while `token`
    /// is current; `false` means this replica was deposed and must stop.
    pub async fn save(&self, s: &Save<'_>, ttl: Duration) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE listener_checkpoints
                SET last_timestamp = GREATEST(last_timestamp, $3),
                    cursor = $4, sent_ids = $5, updated_at = now(),
                    lease_until = now() + make_interval(secs => $6)
              WHERE source = $1 AND token = $2 AND lease_until IS NOT NULL",
        )
        .bind(s.source)
        .bind(s.token)
        .bind(s.checkpoint)
        .bind(s.cursor)
        .bind(s.sent_ids)
        .bind(secs(ttl))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the source up at shutdown so a standby takes it at once.
    pub async fn release(&self, source: &str, token: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE listener_checkpoints SET holder = NULL, lease_until = NULL
              WHERE source = $1 AND token = $2",
        )
        .bind(source)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn load(&self, source: &str) -> Result<Option<CheckpointRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT source, last_timestamp, cursor, sent_ids, holder, token, lease_until
               FROM listener_checkpoints WHERE source = $1",
        )
        .bind(source)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| CheckpointRow {
            source: r.get("source"),
            checkpoint: r.get("last_timestamp"),
            cursor: r.get("cursor"),
            sent_ids: r.get("sent_ids"),
            holder: r.get("holder"),
            token: r.get("token"),
            lease_until: r.get("lease_until"),
        }))
    }
}
