//! Consumers: manual acks after the handler succeeded, bounded retries with jittered
//! exponential backoff, dead-lettering, pausing while the infrastructure is unavailable, and
//! re-subscription after broker-side cancellation or connection recovery.
//!
//! Shutdown happens in this order: stop taking deliveries (`basic.cancel`), let the
//! handlers in flight finish and ack, then close the channel, which hands the deliveries
//! prefetched but never started back to the queue.

mod batch;
mod pause;
mod settle;
mod single;
mod subscription;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::connection::Bus;
use crate::message::Message;

/// Why a handler did not process a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Failed in a way that may not happen again (deadlock, serialization failure, a bug
    /// hit by this message): the message is retried after a jittered backoff, then
    /// dead-lettered after `max_attempts`.
    #[error("{0}")]
    Retry(String),
    /// Will never work (invalid content): the message goes straight to the dead-letter queue.
    #[error("{0}")]
    Reject(String),
    /// The infrastructure the handler needs is unavailable (database unreachable, not
    /// accepting writes, pool exhausted, broker refusing publishes). Nothing is wrong with
    /// the message: the consumer pauses, runs it again after a backoff until it works, and
    /// no attempt is counted. At shutdown the message goes back to its queue.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl HandlerError {
    pub fn retry(reason: impl std::fmt::Display) -> Self {
        HandlerError::Retry(reason.to_string())
    }

    pub fn reject(reason: impl std::fmt::Display) -> Self {
        HandlerError::Reject(reason.to_string())
    }

    pub fn unavailable(reason: impl std::fmt::Display) -> Self {
        HandlerError::Unavailable(reason.to_string())
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, HandlerError::Unavailable(_))
    }
}

/// Processes one message. Implemented for `Fn(Message<T>) -> impl Future` closures.
pub trait Handler<T>: Send + Sync + 'static {
    fn handle(&self, msg: Message<T>) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

impl<T, F, Fut> Handler<T> for F
where
    F: Fn(Message<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(&self, msg: Message<T>) -> impl Future<Output = Result<(), HandlerError>> + Send {
        self(msg)
    }
}

/// A batch handed to a [`BatchHandler`]; the messages are shared because a failed batch is
/// split and handed over again in halves.
pub type Batch<T> = Vec<Arc<Message<T>>>;

/// What a batch handler did with a batch it processed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Messages (index in the batch, reason) that will never be processed: they are
    /// dead-lettered alone while the rest of the batch is acked.
    pub rejected: Vec<(usize, String)>,
}

impl BatchOutcome {
    pub fn done() -> Self {
        BatchOutcome::default()
    }

    pub fn reject(&mut self, index: usize, reason: impl Into<String>) {
        self.rejected.push((index, reason.into()));
    }
}

/// Processes a batch atomically: `Ok` means the effects of every message not listed in
/// [`BatchOutcome::rejected`] are durable. `Err` means none are.
pub trait BatchHandler<T>: Send + Sync + 'static {
    fn handle(
        &self,
        batch: Batch<T>,
    ) -> impl Future<Output = Result<BatchOutcome, HandlerError>> + Send;
}

impl<T, F, Fut> BatchHandler<T> for F
where
    F: Fn(Batch<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<BatchOutcome, HandlerError>> + Send,
{
    fn handle(
        &self,
        batch: Batch<T>,
    ) -> impl Future<Output = Result<BatchOutcome, HandlerError>> + Send {
        self(batch)
    }
}

/// How a consumer runs. [`ConsumerOptions::new`] takes the defaults from the bus settings.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Logical queue name (the namespace is applied).
    pub queue: String,
    pub prefetch: u16,
    /// Messages handled at once (single-message consumers).
    pub concurrency: usize,
    /// Largest batch (batch consumers).
    pub batch_size: usize,
    /// How long a batch waits to fill up after its first message.
    pub batch_wait: Duration,
    pub max_attempts: u32,
    /// Delays before a retry (full jitter) and between the probes of a paused consumer.
    pub backoff: Backoff,
    /// Consumer tag prefix, shown in the broker's consumer list.
    pub tag: String,
}

impl ConsumerOptions {
    pub fn new(bus: &Bus, queue: &str) -> Self {
        let s = bus.settings();
        ConsumerOptions {
            queue: queue.to_string(),
            prefetch: s.prefetch,
            concurrency: 1,
            batch_size: 500,
            batch_wait: Duration::from_millis(20),
            max_attempts: s.max_attempts.max(1),
            backoff: s.backoff(),
            tag: queue.to_string(),
        }
    }

    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    pub fn prefetch(mut self, n: u16) -> Self {
        self.prefetch = n;
        self
    }

    pub fn batch(mut self, size: usize, wait: Duration) -> Self {
        self.batch_size = size.max(1);
        self.batch_wait = wait;
        self
    }

    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The same ceiling for every retry and probe.
    pub fn retry_delay(mut self, d: Duration) -> Self {
        self.backoff = Backoff::fixed(d);
        self
    }

    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }
}
