use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::ConsumerOptions;
use crate::connection::Bus;
use crate::error::BusError;

/// A channel consuming one queue.
pub(super) struct Subscription {
    pub channel: Channel,
    pub consumer: Consumer,
    pub tag: String,
}

/// What the next read from a subscription produced.
pub(super) enum Next {
    Delivery(Box<lapin::message::Delivery>),
    /// The subscription is gone (broker cancel, channel closed): subscribe again.
    Lost,
    Cancelled,
}

impl Subscription {
    /// Subscribes, retrying with backoff until it works or `cancel` fires. A queue that
    /// vanished (deleted by an operator) is declared again.
    pub async fn open(
        bus: &Bus,
        opts: &ConsumerOptions,
        cancel: &CancellationToken,
    ) -> Option<Subscription> {
        let mut delay = Duration::from_millis(100);
        loop {
            match Self::try_open(bus, opts).await {
                Ok(sub) => return Some(sub),
                Err(e) => {
                    warn!(queue = %opts.queue, error = %e, "subscribe failed, retrying");
                    if bus.is_connected() {
                        // The likely cause is a missing queue; declaring it is idempotent.
                        let declared = if domain::names::queue_spec(&opts.queue).is_some() {
                            bus.declare_topology().await
                        } else {
                            bus.redeclare_queue(&opts.queue).await
                        };
                        if let Err(e) = declared {
                            warn!(queue = %opts.queue, error = %e, "re-declaring failed");
                        }
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = cancel.cancelled() => return None,
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn try_open(bus: &Bus, opts: &ConsumerOptions) -> Result<Subscription, BusError> {
        let channel = bus.channel().await?;
        channel
            .basic_qos(opts.prefetch, BasicQosOptions::default())
            .await?;
        let tag = format!("{}.{}", opts.tag, uuid::Uuid::new_v4().simple());
        let consumer = channel
            .basic_consume(
                bus.names().queue(&opts.queue).into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        info!(queue = %opts.queue, tag, prefetch = opts.prefetch, "consuming");
        Ok(Subscription {
            channel,
            consumer,
            tag,
        })
    }

    /// The next delivery; waits through a connection recovery.
    pub async fn next(&mut self, cancel: &CancellationToken) -> Next {
        loop {
            let item = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Next::Cancelled,
                item = self.consumer.next() => item,
            };
            match item {
                Some(Ok(d)) => return Next::Delivery(Box::new(d)),
                Some(Err(e)) => {
                    warn!(tag = %self.tag, error = %e, "consumer error, waiting for recovery");
                    let recovered = tokio::select! {
                        r = self.channel.wait_for_recovery(e) => r.is_ok(),
                        _ = cancel.cancelled() => return Next::Cancelled,
                    };
                    if !recovered {
                        return Next::Lost;
                    }
                    info!(tag = %self.tag, "consumer recovered");
                }
                None => {
                    warn!(tag = %self.tag, "consumer cancelled by the broker");
                    return Next::Lost;
                }
            }
        }
    }

    /// Stops deliveries (`basic.cancel`) but keeps the channel open, so that the handlers
    /// still running can ack what they finish.
    pub async fn stop_deliveries(&self) {
        if self.channel.status().connected()
            && let Err(e) = self
                .channel
                .basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default())
                .await
        {
            warn!(tag = %self.tag, error = %e, "basic.cancel failed");
        }
    }

    /// Closes the channel: deliveries prefetched but never handled (unacked) return to
    /// the queue. Call [`Subscription::stop_deliveries`] and drain the handlers first.
    pub async fn close(self) {
        if self.channel.status().connected() {
            let _ = self.channel.close(200, "consumer stopped".into()).await;
        }
    }
}

impl Bus {
    /// Declares an ad hoc queue again (without bindings, which only its creator knows).
    pub(crate) async fn redeclare_queue(&self, logical: &str) -> Result<(), BusError> {
        let ch = self.channel().await?;
        crate::topology::declare_queue(self, &ch, logical).await?;
        let _ = ch.close(200, "queue declared".into()).await;
        Ok(())
    }
}
