//! Storing a batch of logs and detecting incidents in one transaction. The bus consumer
//! (`orchestrator.logs`) and the direct HTTP ingest both come through here.

use std::time::Instant;

use bus::{Batch, BatchOutcome, HandlerError};
use chrono::{DateTime, Utc};
use domain::{LogRecord, Source};
use serde::Serialize;
use uuid::Uuid;

use super::LogService;
use super::detect::{self, Stored};
use crate::error::ServiceError;
use crate::repo::logs::{self, NewLog};
use crate::settings::SERVICE;

/// One record to store; `message_id` is the envelope's id when it came over the bus.
pub struct Incoming<'a> {
    pub record: &'a LogRecord,
    pub message_id: Option<Uuid>,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct IngestReport {
    /// New rows.
    pub stored: usize,
    /// Records already stored (same source id): skipped, no new events.
    pub duplicates: usize,
    pub incidents_opened: usize,
    pub incidents_updated: usize,
    pub incidents_resolved: usize,
    pub actions_requested: usize,
}

impl LogService {
    /// Stores `items`, skipping source ids already stored, and runs detection on the new rows;
    /// the logs, incidents, actions and outbox events commit together or not at all.
    pub async fn ingest(
        &self,
        items: &[Incoming<'_>],
        path: &'static str,
    ) -> Result<IngestReport, ServiceError> {
        if items.is_empty() {
            return Ok(IngestReport::default());
        }
        let started = Instant::now();
        // PostgreSQL text cannot hold NUL: such logs are stored with U+FFFD in its place.
        // A log dated too far ahead would anchor threshold windows, `last_seen_at` and the
        // newest-first search in the future: it is stored at the time of ingestion instead.
        let latest =
            Utc::now() + chrono::Duration::seconds(self.incidents.max_future_skew_secs as i64);
        let cleaned: Vec<Option<LogRecord>> = items
            .iter()
            .map(|it| {
                let clean = it.record.without_nul();
                let r = clean.as_ref().unwrap_or(it.record);
                clamp_future(r, latest).or(clean)
            })
            .collect();
        let clamped = cleaned
            .iter()
            .flatten()
            .filter(|r| original_timestamp(r).is_some())
            .count();
        if clamped > 0 {
            tracing::warn!(
                clamped,
                max_future_skew_secs = self.incidents.max_future_skew_secs,
                "logs dated in the future stored at the time of ingestion"
            );
        }
        let items: Vec<Incoming<'_>> = items
            .iter()
            .zip(&cleaned)
            .map(|(it, clean)| Incoming {
                record: clean.as_ref().unwrap_or(it.record),
                message_id: it.message_id,
            })
            .collect();
        let items = &items[..];
        // A record without an id of its own is identified by its envelope (a redelivery
        // repeats it) or, over HTTP, by a fresh id (send `source_id` to make retries safe).
        let news: Vec<NewLog<'_>> = items
            .iter()
            .enumerate()
            .map(|(index, it)| NewLog {
                index,
                source_id: it
                    .record
                    .source_id()
                    .map(str::to_string)
                    .unwrap_or_else(|| it.message_id.unwrap_or_else(Uuid::now_v7).to_string()),
                message_id: it.message_id,
                record: it.record,
            })
            .collect();
        let jenkins: Vec<_> = news
            .iter()
            .filter_map(|n| match n.record {
                LogRecord::Jenkins(l) => Some((n, l)),
                LogRecord::Api(_) => None,
            })
            .collect();
        let api: Vec<_> = news
            .iter()
            .filter_map(|n| match n.record {
                LogRecord::Api(l) => Some((n, l)),
                LogRecord::Jenkins(_) => None,
            })
            .collect();

        let mut tx = self.base.pool.begin().await?;
        let mut new_rows = logs::insert_jenkins(&mut tx, &jenkins).await?;
        new_rows.extend(logs::insert_api(&mut tx, &api).await?);
        new_rows.sort_unstable();
        let stored: Vec<Stored<'_>> = new_rows
            .iter()
            .map(|&(index, id)| Stored {
                id,
                record: items[index].record,
            })
            .collect();
        let rules = self.rules.current();
        let policy = self.policy.current();
        let found = detect::detect(&mut tx, &rules, &policy, &stored, &self.incidents).await?;
        store::outbox::enqueue_messages(&mut tx, SERVICE, &found.events).await?;
        tx.commit().await?;

        let m = &self.base.metrics;
        // Count first: one label lookup per (source, level) rather than per log.
        let mut per_label = std::collections::HashMap::new();
        for s in &stored {
            *per_label
                .entry((s.record.source(), s.record.level()))
                .or_insert(0u64) += 1;
        }
        for ((source, level), n) in per_label {
            m.logs_ingested
                .with_label_values(&[source.as_str(), level.as_str()])
                .inc_by(n);
        }
        let duplicates = items.len() - stored.len();
        if duplicates > 0 {
            let jenkins_dups = jenkins.len()
                - stored
                    .iter()
                    .filter(|s| s.record.source() == Source::Jenkins)
                    .count();
            m.logs_duplicate
                .with_label_values(&["jenkins"])
                .inc_by(jenkins_dups as u64);
            m.logs_duplicate
                .with_label_values(&["api"])
                .inc_by((duplicates - jenkins_dups) as u64);
        }
        for (rule, severity) in &found.opened {
            m.incidents_opened
                .with_label_values(&[rule, severity])
                .inc();
        }
        for _ in &found.resolved {
            m.incidents_resolved
                .with_label_values(&["auto_recovered"])
                .inc();
        }
        m.actions_requested
            .with_label_values(&["auto", "rule"])
            .inc_by(found.actions as u64);
        for source in &found.too_old {
            m.logs_too_old.with_label_values(&[source.as_str()]).inc();
        }
        m.actions_skipped_old
            .inc_by(found.actions_skipped_old as u64);
        m.batch_size
            .with_label_values(&[path])
            .observe(items.len() as f64);
        m.batch_seconds
            .with_label_values(&[path])
            .observe(started.elapsed().as_secs_f64());
        Ok(IngestReport {
            stored: stored.len(),
            duplicates,
            incidents_opened: found.opened.len(),
            incidents_updated: found.updated,
            incidents_resolved: found.resolved.len(),
            actions_requested: found.actions,
        })
    }

    /// The `orchestrator.logs` batch handler: invalid records are dead-lettered alone, the
    /// rest is stored in one transaction. A database rejection fails the batch, which the bus
    /// retries and then splits until the offending record stands alone.
    pub async fn ingest_batch(
        &self,
        batch: Batch<LogRecord>,
    ) -> Result<BatchOutcome, HandlerError> {
        let mut outcome = BatchOutcome::done();
        let mut items = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            match m.payload().validate() {
                Ok(()) => items.push(Incoming {
                    record: m.payload(),
                    message_id: Some(m.envelope.id),
                }),
                Err(e) => outcome.reject(i, format!("invalid log record: {e}")),
            }
        }
        self.ingest(&items, "bus").await?;
        Ok(outcome)
    }
}

/// Key in a log's details that keeps the timestamp it was sent with when that was later than
/// the allowed skew and the log was stored at the time of ingestion.
pub const ORIGINAL_TIMESTAMP: &str = "original_timestamp";

/// `record` dated `now` (its original timestamp kept in its details) when its timestamp is
/// after `latest`; `None` when it is not.
fn clamp_future(record: &LogRecord, latest: DateTime<Utc>) -> Option<LogRecord> {
    if record.timestamp() <= latest {
        return None;
    }
    let mut r = record.clone();
    let now = Utc::now();
    let (timestamp, details) = match &mut r {
        LogRecord::Jenkins(l) => (&mut l.timestamp, &mut l.details),
        LogRecord::Api(l) => (&mut l.timestamp, &mut l.details),
    };
    let original = timestamp.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    *timestamp = now;
    let d = details.get_or_insert_with(|| serde_json::json!({}));
    if let Some(map) = d.as_object_mut() {
        map.insert(ORIGINAL_TIMESTAMP.into(), original.into());
    }
    Some(r)
}

fn original_timestamp(r: &LogRecord) -> Option<&str> {
    let d = match r {
        LogRecord::Jenkins(l) => l.details.as_ref(),
        LogRecord::Api(l) => l.details.as_ref(),
    };
    d?.get(ORIGINAL_TIMESTAMP)?.as_str()
}
