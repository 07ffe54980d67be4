//! Consumers: manual acks after the handler succeeded, bounded retries, dead-lettering, and
//! re-subscription after broker-side cancellation or connection recovery.

mod batch;
mod settle;
mod single;
mod subscription;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::connection::Bus;
use crate::message::Message;

/// Why a handler did not process a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (database down, lock timeout): the message is retried, then
    /// dead-lettered after `max_attempts`.
    #[error("{0}")]
    Retry(String),
    /// Will never work (invalid content): the message goes straight to the dead-letter queue.
    #[error("{0}")]
    Reject(String),
}

impl HandlerError {
    pub fn retry(reason: impl std::fmt::Display) -> Self {
        HandlerError::Retry(reason.to_string())
    }

    pub fn reject(reason: impl std::fmt::Display) -> Self {
        HandlerError::Reject(reason.to_string())
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
    pub retry_delay: Duration,
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
            retry_delay: Duration::from_millis(s.retry_delay_ms),
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

    pub fn retry_delay(mut self, d: Duration) -> Self {
        self.retry_delay = d;
        self
    }
}
