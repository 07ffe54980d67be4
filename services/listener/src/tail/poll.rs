//! One poll: read (checkpoint − overlap, now − lag] page by page, publish each page while the
//! next is fetched, and move the checkpoint in page order over what the broker confirmed
//! (an ordered finalizer: a page counts only once every page before it is confirmed).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::BusError;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Tailer;
use super::last_sent::LastSentStore;
use super::mapping::map_hit;
use crate::es::query::{PageRequest, search_body};
use crate::es::{EsError, Hit};
use crate::publish;
use crate::repo::{Lease, Save};

#[derive(Debug, thiserror::Error)]
pub(super) enum PollError {
    #[error(transparent)]
    Es(#[from] EsError),
    #[error("publish not confirmed: {0}")]
    Publish(String),
    #[error("checkpoint not written: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the lease was taken over")]
    Fenced,
    #[error("stopping")]
    Stopped,
}

/// A holder's view of its source.
pub(super) struct TailState {
    pub token: i64,
    /// Everything up to here was confirmed.
    pub checkpoint: Option<DateTime<Utc>>,
    cursor: Value,
    sent: LastSentStore,
    dirty: bool,
    last_save: Instant,
    /// Until when the lease is surely ours; moved by renewals and checkpoint writes.
    valid_until: Arc<Mutex<Instant>>,
}

impl TailState {
    pub fn new(lease: &Lease, capacity: usize, valid_until: Arc<Mutex<Instant>>) -> Self {
        TailState {
            token: lease.token,
            checkpoint: lease.checkpoint,
            cursor: json!({}),
            sent: LastSentStore::from_json(&lease.sent_ids, capacity),
            dirty: false,
            last_save: Instant::now(),
            valid_until,
        }
    }

    /// Moves the checkpoint forward (never back: the overlap re-reads older documents).
    fn advance(&mut self, to: DateTime<Utc>, overlap: chrono::Duration) {
        if self.checkpoint.is_none_or(|c| to > c) {
            self.checkpoint = Some(to);
            self.dirty = true;
            self.sent.evict_before((to - overlap).timestamp_millis());
        }
    }
}

/// A page on its way to the broker.
struct Batch {
    /// Published documents (source id, timestamp in ms), in publish order.
    published: Vec<(String, i64)>,
    confirms: JoinHandle<Vec<Result<(), BusError>>>,
    /// The last document of the page, published or skipped: where the page ends.
    last_ts: Option<DateTime<Utc>>,
    last: Value,
}

impl Tailer {
    pub(super) async fn poll(
        &self,
        st: &mut TailState,
        active: &CancellationToken,
    ) -> Result<(), PollError> {
        let spec = &self.spec;
        let now = Utc::now();
        let to = now - spec.lag();
        let from = match st.checkpoint {
            Some(c) => c - spec.overlap(),
            None => now - spec.lookback(),
        };
        if to <= from {
            return Ok(());
        }
        let opened = tokio::select! {
            r = self.ctx.es.open_pit(&spec.index) => r,
            _ = active.cancelled() => return Err(PollError::Stopped),
        };
        let pit = match opened {
            Ok(pit) => pit,
            // A concrete index that does not exist yet holds no documents.
            Err(e) if e.is_index_missing() => {
                st.advance(to, spec.overlap());
                return self.save(st).await;
            }
            Err(e) => return Err(e.into()),
        };
        let outcome = self.read(st, active, from, to, pit.clone()).await;
        if let Some(id) = pit {
            let es = self.ctx.es.clone();
            tokio::spawn(async move { es.close_pit(&id).await });
        }
        let saved = self.save(st).await;
        outcome.and(saved)
    }

    async fn read(
        &self,
        st: &mut TailState,
        active: &CancellationToken,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut pit: Option<String>,
    ) -> Result<(), PollError> {
        let spec = &self.spec;
        let trace = bus::trace::current_headers();
        let mut inflight: VecDeque<Batch> = VecDeque::new();
        let mut unconfirmed = 0usize;
        let mut after: Option<Vec<Value>> = None;
        let mut outcome = Ok(());
        let mut broken = false;
        loop {
            if active.is_cancelled() {
                outcome = Err(PollError::Stopped);
                break;
            }
            // Pages already confirmed move the checkpoint now; a full window waits.
            while inflight.front().is_some_and(|b| b.confirms.is_finished())
                || (unconfirmed >= self.ctx.tail.publish_window && !inflight.is_empty())
            {
                if let Err(e) = self
                    .finalize(&mut inflight, &mut unconfirmed, st, &mut broken)
                    .await
                {
                    outcome = Err(e);
                    break;
                }
            }
            if outcome.is_err() {
                break;
            }
            let body = search_body(
                spec,
                &PageRequest {
                    from,
                    to,
                    pit: pit.as_deref().map(|p| (p, self.ctx.es.keep_alive())),
                    search_after: after.as_deref(),
                },
            );
            // A slow Elasticsearch must not hold up a shutdown: nothing of this page is
            // published yet, so dropping the request loses nothing.
            let search = self.ctx.es.search(&spec.index, pit.is_some(), body);
            let result = tokio::select! {
                r = search => r,
                _ = active.cancelled() => {
                    outcome = Err(PollError::Stopped);
                    break;
                }
            };
            let page = match result {
                Ok(p) => p,
                Err(e) if e.is_index_missing() => break,
                Err(e) => {
                    outcome = Err(e.into());
                    break;
                }
            };
            if page.pit_id.is_some() {
                pit = page.pit_id;
            }
            let n = page.hits.len();
            self.ctx
                .metrics
                .documents_read
                .with_label_values(&[self.source.as_str()])
                .inc_by(n as u64);
            let Some(last) = page.hits.last() else {
                break;
            };
            after = Some(last.sort.clone());
            let batch = self.prepare(page.hits, st, &trace);
            unconfirmed += batch.published.len();
            inflight.push_back(batch);
            if n < spec.page_size {
                break;
            }
        }
        // Confirms of what was sent are worth recording even when stopping or failing.
        while !inflight.is_empty() {
            if let Err(e) = self
                .finalize(&mut inflight, &mut unconfirmed, st, &mut broken)
                .await
                && outcome.is_ok()
            {
                outcome = Err(e);
            }
        }
        if outcome.is_ok() {
            // Everything visible up to `to` is confirmed.
            st.advance(to, spec.overlap());
        }
        outcome
    }

    /// Maps a page, skips what was already confirmed, and starts publishing the rest.
    fn prepare(&self, hits: Vec<Hit>, st: &TailState, trace: &BTreeMap<String, String>) -> Batch {
        let source = self.source.as_str();
        let mut published = Vec::with_capacity(hits.len());
        let mut messages = Vec::with_capacity(hits.len());
        let (mut duplicates, mut invalid) = (0u64, 0u64);
        let mut last_ts = None;
        let mut first_invalid = None;
        for hit in &hits {
            let id = format!("{}/{}", hit.index, hit.id);
            if st.sent.contains(&id) {
                duplicates += 1;
                last_ts = super::mapping::parse_hit_ts(&self.spec.fields, hit).or(last_ts);
                continue;
            }
            match map_hit(self.source, &self.spec.fields, hit) {
                Ok(m) => {
                    last_ts = Some(m.ts);
                    published.push((id, m.ts.timestamp_millis()));
                    messages.push(publish::message(m.record, trace));
                }
                Err(reason) => {
                    invalid += 1;
                    last_ts = super::mapping::parse_hit_ts(&self.spec.fields, hit).or(last_ts);
                    first_invalid.get_or_insert((id, reason));
                }
            }
        }
        let skipped = &self.ctx.metrics.skipped;
        skipped
            .with_label_values(&[source, "duplicate"])
            .inc_by(duplicates);
        skipped
            .with_label_values(&[source, "invalid"])
            .inc_by(invalid);
        if let Some((id, reason)) = first_invalid {
            warn!(source, invalid, first = %id, reason = %reason, "documents skipped: not a valid log record");
        }
        if duplicates > 0 {
            debug!(source, duplicates, "already published, skipped");
        }
        let last = hits.last().map_or(
            Value::Null,
            |h| json!({"id": format!("{}/{}", h.index, h.id), "sort": h.sort}),
        );
        let bus = self.ctx.bus.clone();
        let confirms = tokio::spawn(async move { publish::publish_all(&bus, &messages).await });
        Batch {
            published,
            confirms,
            last_ts,
            last,
        }
    }

    /// Awaits the oldest page's confirms: records them, and moves the checkpoint to its end
    /// unless a page before failed.
    async fn finalize(
        &self,
        inflight: &mut VecDeque<Batch>,
        unconfirmed: &mut usize,
        st: &mut TailState,
        broken: &mut bool,
    ) -> Result<(), PollError> {
        let Some(batch) = inflight.pop_front() else {
            return Ok(());
        };
        *unconfirmed -= batch.published.len();
        let source = self.source.as_str();
        let results = match batch.confirms.await {
            Ok(r) => r,
            Err(e) => {
                *broken = true;
                return Err(PollError::Publish(e.to_string()));
            }
        };
        let mut failure = None;
        let mut confirmed = 0u64;
        for ((id, ts), result) in batch.published.iter().zip(results) {
            match result {
                Ok(()) => {
                    confirmed += 1;
                    st.sent.insert(id, *ts);
                }
                Err(e) => {
                    failure.get_or_insert(e.to_string());
                }
            }
        }
        let m = &self.ctx.metrics;
        m.published
            .with_label_values(&[source, "elasticsearch"])
            .inc_by(confirmed);
        if let Some(reason) = failure {
            let lost = batch.published.len() as u64 - confirmed;
            m.publish_failures.with_label_values(&[source]).inc_by(lost);
            *broken = true;
            return Err(PollError::Publish(reason));
        }
        // New ids must reach the stored LastSentStore even when the checkpoint stays on a
        // timestamp many documents share.
        st.dirty |= confirmed > 0;
        if !*broken {
            if let Some(ts) = batch.last_ts {
                st.advance(ts, self.spec.overlap());
            }
            st.cursor = batch.last;
            if st.last_save.elapsed() >= Duration::from_millis(self.ctx.tail.checkpoint_interval_ms)
            {
                self.save(st).await?;
            }
        }
        Ok(())
    }

    /// `listener_checkpoint_lag_seconds`: how far behind now the checkpoint is (it keeps
    /// growing while Elasticsearch is away).
    pub(super) fn record_lag(&self, st: &TailState) {
        if let Some(cp) = st.checkpoint {
            self.ctx
                .metrics
                .checkpoint_lag
                .with_label_values(&[self.source.as_str()])
                .set((Utc::now() - cp).as_seconds_f64().max(0.0));
        }
    }

    /// Writes the checkpoint and the LastSentStore, fenced by the lease's token.
    pub(super) async fn save(&self, st: &mut TailState) -> Result<(), PollError> {
        let Some(cp) = st.checkpoint else {
            return Ok(());
        };
        let source = self.source.as_str();
        self.record_lag(st);
        if !st.dirty {
            return Ok(());
        }
        let sent = st
            .sent
            .to_json((cp - self.spec.overlap()).timestamp_millis());
        let asked = Instant::now();
        let saved = self
            .ctx
            .repo
            .save(
                &Save {
                    source,
                    token: st.token,
                    checkpoint: cp,
                    cursor: &st.cursor,
                    sent_ids: &sent,
                },
                self.ctx.tail.lease(),
            )
            .await?;
        if !saved {
            return Err(PollError::Fenced);
        }
        *st.valid_until.lock().unwrap_or_else(|e| e.into_inner()) = asked + self.ctx.tail.lease();
        st.dirty = false;
        st.last_save = Instant::now();
        Ok(())
    }
}
