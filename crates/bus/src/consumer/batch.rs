use std::ops::Range;
use std::sync::Arc;

use domain::Decode;
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use super::settle::{Raw, Settled, ack, dead_letter, requeue, settle_failure, split};
use super::subscription::{Next, Subscription};
use super::{Batch, BatchHandler, ConsumerOptions, HandlerError};
use crate::connection::Bus;
use crate::error::BusError;
use crate::message::Message;
use crate::trace::link_span;

impl Bus {
    /// Consumes `opts.queue` in batches of up to `opts.batch_size` messages, waiting at most
    /// `opts.batch_wait` for a batch to fill. A batch whose handler fails is retried once and
    /// then split in halves until the failing messages stand alone; those are retried or
    /// dead-lettered one by one while the rest of the batch is kept. Each batch ends with a
    /// single multiple-ack.
    pub async fn consume_batches<T, H>(
        &self,
        opts: ConsumerOptions,
        handler: H,
        cancel: CancellationToken,
    ) -> Result<(), BusError>
    where
        T: Decode + Send + Sync + 'static,
        H: BatchHandler<T>,
    {
        // Prefetch below the batch size would cap every batch at the prefetch.
        let mut opts = opts;
        opts.prefetch = opts
            .prefetch
            .max(opts.batch_size.min(u16::MAX as usize) as u16);
        'subscribe: while let Some(mut sub) = Subscription::open(self, &opts, &cancel).await {
            loop {
                let first = match sub.next(&cancel).await {
                    Next::Delivery(d) => *d,
                    Next::Lost => continue 'subscribe,
                    Next::Cancelled => {
                        sub.close().await;
                        break 'subscribe;
                    }
                };
                let mut deliveries = vec![first];
                let deadline = Instant::now() + opts.batch_wait;
                let mut lost = false;
                // Never-cancelled token: a batch that started is finished before shutdown.
                let keep = CancellationToken::new();
                while deliveries.len() < opts.batch_size {
                    match timeout_at(deadline, sub.next(&keep)).await {
                        Ok(Next::Delivery(d)) => deliveries.push(*d),
                        Ok(Next::Lost) => {
                            lost = true;
                            break;
                        }
                        Ok(Next::Cancelled) | Err(_) => break,
                    }
                }
                process_batch::<T, H>(self, &opts, &handler, deliveries).await;
                if lost {
                    continue 'subscribe;
                }
            }
        }
        info!(queue = %opts.queue, "batch consumer stopped");
        Ok(())
    }
}

async fn process_batch<T: Decode, H: BatchHandler<T>>(
    bus: &Bus,
    opts: &ConsumerOptions,
    handler: &H,
    deliveries: Vec<lapin::message::Delivery>,
) {
    let queue = opts.queue.as_str();
    let size = deliveries.len();
    let mut good: Vec<(Raw, Arc<Message<T>>)> = Vec::with_capacity(size);
    let mut last: Option<Raw> = None;
    for d in deliveries {
        let (raw, decoded) = split::<T>(d);
        match decoded {
            Ok(m) => good.push((raw, Arc::new(m))),
            Err(reason) => {
                warn!(queue, reason, "malformed message, dead-lettering");
                if dead_letter(bus, &raw, queue, &format!("malformed: {reason}")).await
                    == Settled::DeadLettered
                {
                    keep_highest(&mut last, raw);
                }
            }
        }
    }

    // Messages nacked one by one are no longer outstanding and must stay out of the final
    // multiple-ack's highest tag.
    let mut nacked = vec![false; good.len()];
    let span = info_span!("handle_batch", queue, size = good.len());
    // A span has one parent: the batch continues the first message's trace, so a lone log
    // (the usual case at low rates) keeps its trace from producer to notification.
    if let Some((_, first)) = good.first() {
        link_span(&span, &first.headers);
    }
    let mut stack: Vec<(Range<usize>, bool)> = vec![(0..good.len(), false)];
    while let Some((range, retried)) = stack.pop() {
        if range.is_empty() {
            continue;
        }
        let batch: Batch<T> = good[range.clone()].iter().map(|(_, m)| m.clone()).collect();
        let result = handler.handle(batch).instrument(span.clone()).await;
        match result {
            Ok(outcome) => {
                for (i, reason) in outcome.rejected {
                    let Some(pos) = range.clone().nth(i) else {
                        continue;
                    };
                    let raw = &good[pos].0;
                    warn!(
                        queue,
                        reason, "message rejected by the batch handler, dead-lettering"
                    );
                    if dead_letter(bus, raw, queue, &reason).await == Settled::Rejected {
                        nacked[pos] = true;
                    }
                }
            }
            Err(e) if range.len() == 1 => {
                let raw = &good[range.start].0;
                match settle_failure(bus, opts, raw, &e).await {
                    Settled::Retried | Settled::DeadLettered => {}
                    Settled::Requeue => {
                        requeue(raw, queue).await;
                        nacked[range.start] = true;
                    }
                    Settled::Rejected => nacked[range.start] = true,
                }
            }
            Err(HandlerError::Retry(reason)) if !retried && range.len() == good.len() => {
                debug!(
                    queue,
                    reason,
                    size = range.len(),
                    "batch failed, retrying it once"
                );
                if !opts.retry_delay.is_zero() {
                    tokio::time::sleep(opts.retry_delay).await;
                }
                stack.push((range, true));
            }
            Err(e) => {
                debug!(queue, reason = %e, size = range.len(), "batch failed, splitting it");
                let mid = range.start + range.len() / 2;
                stack.push((mid..range.end, true));
                stack.push((range.start..mid, true));
            }
        }
    }

    for ((raw, _), nacked) in good.into_iter().zip(nacked) {
        if !nacked {
            keep_highest(&mut last, raw);
        }
    }
    if let Some(raw) = last {
        ack(&raw, true, queue).await;
    }
}

fn keep_highest(last: &mut Option<Raw>, raw: Raw) {
    if last
        .as_ref()
        .is_none_or(|l| raw.delivery_tag > l.delivery_tag)
    {
        *last = Some(raw);
    }
}
