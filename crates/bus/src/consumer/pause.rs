//! Pausing a consumer while the infrastructure its handler needs is unavailable: no new
//! delivery is handed out, the message that met the outage is run again after a backoff
//! (the probe), and the consumer resumes as soon as one run gets through.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics::BusMetrics;

/// The pause state of one consumer, shared by its in-flight handlers.
pub(super) struct Pause {
    queue: String,
    metrics: BusMetrics,
    /// Handlers currently waiting for the infrastructure.
    waiting: AtomicUsize,
    resumed: Notify,
}

impl Pause {
    pub fn new(queue: &str, metrics: BusMetrics) -> Arc<Pause> {
        Arc::new(Pause {
            queue: queue.to_string(),
            metrics,
            waiting: AtomicUsize::new(0),
            resumed: Notify::new(),
        })
    }

    /// Records one run that found the infrastructure unavailable.
    pub fn count_unavailable(&self) {
        self.metrics
            .unavailable
            .with_label_values(&[&self.queue])
            .inc();
    }

    /// Pauses the consumer until the returned guard drops.
    pub fn enter(self: &Arc<Self>, reason: &str) -> Paused {
        if self.waiting.fetch_add(1, Ordering::SeqCst) == 0 {
            warn!(queue = %self.queue, reason, "infrastructure unavailable, consumer paused");
            self.metrics.pauses.with_label_values(&[&self.queue]).inc();
            self.metrics.paused.with_label_values(&[&self.queue]).inc();
        }
        Paused(self.clone())
    }

    pub fn is_paused(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Waits until no handler waits for the infrastructure; `false` when `cancel` fired
    /// first.
    pub async fn wait_resumed(&self, cancel: &CancellationToken) -> bool {
        loop {
            let resumed = self.resumed.notified();
            tokio::pin!(resumed);
            resumed.as_mut().enable();
            if !self.is_paused() {
                return true;
            }
            tokio::select! {
                _ = resumed => {}
                _ = cancel.cancelled() => return false,
            }
        }
    }
}

/// While held, the consumer is paused.
pub(super) struct Paused(Arc<Pause>);

impl Drop for Paused {
    fn drop(&mut self) {
        if self.0.waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            info!(queue = %self.0.queue, "infrastructure answers again, consumer resumed");
            self.0
                .metrics
                .paused
                .with_label_values(&[&self.0.queue])
                .dec();
            self.0.resumed.notify_waiters();
        }
    }
}

/// Sleeps `delay`; `false` when `cancel` fired first.
pub(super) async fn nap(delay: Duration, cancel: &CancellationToken) -> bool {
    if cancel.is_cancelled() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = cancel.cancelled() => false,
    }
}
