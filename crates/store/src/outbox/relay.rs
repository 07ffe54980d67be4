use std::time::Duration;

use bus::Bus;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use prometheus::{IntCounter, IntGauge};
use serde::Deserialize;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::to_message;
use crate::error::StoreError;

/// `[outbox]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OutboxSettings {
    /// Rows claimed (and published concurrently) per round.
    pub batch_size: i64,
    /// Fallback poll when no notification arrives (missed NOTIFY, backoff expiry).
    pub poll_interval_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Published rows are deleted after this long.
    pub retention_hours: u64,
    /// Inbox entries are deleted after this long (longer than any redelivery can take).
    pub inbox_retention_hours: u64,
    pub cleanup_interval_secs: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            batch_size: 200,
            poll_interval_ms: 1_000,
            backoff_base_ms: 1_000,
            backoff_max_ms: 60_000,
            retention_hours: 24,
            inbox_retention_hours: 24 * 7,
            cleanup_interval_secs: 300,
        }
    }
}

/// Publishes committed outbox rows. Any number of relays may run (one per replica): rows
/// are claimed with `FOR UPDATE SKIP LOCKED`, so each is published by one relay.
#[derive(Clone)]
pub struct OutboxRelay {
    pool: PgPool,
    bus: Bus,
    settings: OutboxSettings,
    metrics: Option<RelayMetrics>,
}

/// Gauges and counters the relay keeps current.
#[derive(Clone)]
pub struct RelayMetrics {
    pub pending: IntGauge,
    pub oldest_pending_secs: IntGauge,
    pub published: IntCounter,
    pub failed: IntCounter,
}

impl RelayMetrics {
    pub fn register(registry: &prometheus::Registry) -> Self {
        let pending =
            IntGauge::new("outbox_pending", "outbox rows waiting to be published").unwrap();
        let oldest = IntGauge::new(
            "outbox_oldest_pending_seconds",
            "age of the oldest unpublished outbox row",
        )
        .unwrap();
        let published = IntCounter::new("outbox_published_total", "outbox rows published").unwrap();
        let failed =
            IntCounter::new("outbox_publish_failures_total", "failed publish attempts").unwrap();
        for c in [
            Box::new(pending.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(oldest.clone()),
            Box::new(published.clone()),
            Box::new(failed.clone()),
        ] {
            registry
                .register(c)
                .expect("outbox metrics registered once");
        }
        RelayMetrics {
            pending,
            oldest_pending_secs: oldest,
            published,
            failed,
        }
    }
}

impl OutboxRelay {
    pub fn new(pool: PgPool, bus: Bus, settings: OutboxSettings) -> Self {
        OutboxRelay {
            pool,
            bus,
            settings,
            metrics: None,
        }
    }

    pub fn with_metrics(mut self, metrics: RelayMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Runs until `cancel` fires: wakes on `NOTIFY outbox_events`, polls as a fallback,
    /// drains full batches back to back, and cleans up old rows now and then.
    pub async fn run(self, cancel: CancellationToken) {
        let mut listener = self.listen().await;
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        let cleanup_every = Duration::from_secs(self.settings.cleanup_interval_secs.max(1));
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            // Drain: a full batch means more may be waiting.
            loop {
                match self.run_once().await {
                    Ok(n) if n as i64 >= self.settings.batch_size => continue,
                    Ok(_) => break,
                    Err(e) => {
                        warn!(error = %e, "outbox round failed");
                        break;
                    }
                }
            }
            self.observe().await;
            if last_cleanup.elapsed() >= cleanup_every {
                last_cleanup = tokio::time::Instant::now();
                if let Err(e) = self.cleanup().await {
                    warn!(error = %e, "outbox cleanup failed");
                }
            }
            let woke = async {
                match listener.as_mut() {
                    Some(l) => {
                        if let Err(e) = l.recv().await {
                            debug!(error = %e, "outbox listener interrupted");
                            tokio::time::sleep(poll).await;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = woke => {}
                _ = tokio::time::sleep(poll) => {
                    if listener.is_none() {
                        listener = self.listen().await;
                    }
                }
            }
        }
        // A last round so events of work finished during shutdown still leave.
        let _ = self.run_once().await;
        info!("outbox relay stopped");
    }

    async fn listen(&self) -> Option<PgListener> {
        let attempt = async {
            let mut l = PgListener::connect_with(&self.pool).await?;
            l.listen("outbox_events").await?;
            Ok::<_, sqlx::Error>(l)
        };
        match attempt.await {
            Ok(l) => Some(l),
            Err(e) => {
                warn!(error = %e, "cannot LISTEN for outbox events, polling only");
                None
            }
        }
    }

    /// Claims up to `batch_size` due rows, publishes them concurrently with confirms and
    /// records the outcome, all in one transaction so a crash releases the claim. Returns
    /// how many were published.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        // While the broker is away, leave rows untouched rather than burning attempts.
        if !self.bus.is_connected() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, event_id, event_type, exchange, routing_key, payload::text AS payload,
                    headers, attempts, created_at
             FROM outbox_events
             WHERE status = 'pending' AND next_attempt_at <= now()
             ORDER BY id
             LIMIT $1
             FOR UPDATE SKIP LOCKED",
        )
        .bind(self.settings.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut attempts = Vec::with_capacity(rows.len());
        let mut msgs = Vec::with_capacity(rows.len());
        for r in &rows {
            ids.push(r.try_get::<i64, _>("id")?);
            attempts.push(r.try_get::<i32, _>("attempts")?);
            msgs.push(to_message(
                r.try_get("event_id")?,
                r.try_get("event_type")?,
                r.try_get("exchange")?,
                r.try_get("routing_key")?,
                r.try_get("payload")?,
                r.try_get("headers")?,
                r.try_get::<DateTime<Utc>, _>("created_at")?,
            ));
        }
        let results = join_all(msgs.iter().map(|m| self.bus.publish_message(m))).await;

        let mut ok_ids = Vec::new();
        let (mut bad_ids, mut bad_delays, mut bad_errors) = (Vec::new(), Vec::new(), Vec::new());
        for ((id, tries), result) in ids.into_iter().zip(attempts).zip(results) {
            match result {
                Ok(()) => ok_ids.push(id),
                Err(e) => {
                    let delay = self.backoff_ms(tries + 1);
                    warn!(outbox_id = id, attempts = tries + 1, retry_in_ms = delay, error = %e, "outbox publish failed");
                    bad_ids.push(id);
                    bad_delays.push(delay as i64);
                    bad_errors.push(e.to_string());
                }
            }
        }
        if !ok_ids.is_empty() {
            sqlx::query(
                "UPDATE outbox_events SET status = 'published', published_at = now(),
                        attempts = attempts + 1, last_error = NULL
                 WHERE id = ANY($1)",
            )
            .bind(&ok_ids)
            .execute(&mut *tx)
            .await?;
        }
        if !bad_ids.is_empty() {
            sqlx::query(
                "UPDATE outbox_events o SET attempts = o.attempts + 1, last_error = f.err,
                        next_attempt_at = now() + f.delay_ms * interval '1 millisecond'
                 FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) AS f(id, delay_ms, err)
                 WHERE o.id = f.id",
            )
            .bind(&bad_ids)
            .bind(&bad_delays)
            .bind(&bad_errors)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if let Some(m) = &self.metrics {
            m.published.inc_by(ok_ids.len() as u64);
            m.failed.inc_by(bad_ids.len() as u64);
        }
        debug!(
            published = ok_ids.len(),
            failed = bad_ids.len(),
            "outbox round"
        );
        Ok(ok_ids.len())
    }

    fn backoff_ms(&self, attempts: i32) -> u64 {
        let exp = attempts.clamp(1, 20) as u32 - 1;
        self.settings
            .backoff_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.settings.backoff_max_ms)
    }

    async fn observe(&self) {
        let Some(m) = &self.metrics else { return };
        let row = sqlx::query(
            "SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::bigint AS age
             FROM outbox_events WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await;
        if let Ok(r) = row {
            m.pending.set(r.try_get::<i64, _>("n").unwrap_or(0));
            m.oldest_pending_secs
                .set(r.try_get::<i64, _>("age").unwrap_or(0));
        }
    }

    /// Deletes published rows and inbox entries past their retention, a chunk at a time
    /// so a large backlog never holds long locks.
    pub async fn cleanup(&self) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let n = sqlx::query(
                "DELETE FROM outbox_events WHERE id IN (
                     SELECT id FROM outbox_events
                     WHERE status = 'published' AND published_at < now() - $1 * interval '1 hour'
                     LIMIT 5000)",
            )
            .bind(self.settings.retention_hours as i64)
            .execute(&self.pool)
            .await?
            .rows_affected();
            removed += n;
            if n < 5000 {
                break;
            }
        }
        removed += crate::inbox::cleanup(&self.pool, self.settings.inbox_retention_hours).await?;
        if removed > 0 {
            info!(removed, "outbox and inbox cleaned up");
        }
        Ok(removed)
    }
}
