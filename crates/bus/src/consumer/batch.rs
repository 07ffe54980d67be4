use std::ops::Range;
use std::sync::Arc;

use domain::Decode;
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use super::pause::{Pause, Paused, nap};
use super::settle::{Ctx, Raw, Settled, ack, dead_letter, requeue, settle_failure};
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
    ///
    /// A batch failing with [`HandlerError::Unavailable`] is neither split nor counted: the
    /// consumer pauses and runs the same batch again after a backoff until it gets through.
    /// At shutdown a paused batch goes back to the queue.
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
        let pause = Pause::new(&opts.queue, self.inner.metrics.clone());
        let ctx = Ctx {
            bus: self,
            opts: &opts,
            pause: &pause,
            cancel: &cancel,
        };
        'subscribe: while let Some(mut sub) = Subscription::open(self, &opts, &cancel).await {
            loop {
                let first = match sub.next(&cancel).await {
                    Next::Delivery(d) => *d,
                    Next::Lost => continue 'subscribe,
                    Next::Cancelled => {
                        // Batches run inline: none is in flight here. Deliveries prefetched
                        // for the next batch return to the queue with the channel.
                        sub.stop_deliveries().await;
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
                process_batch::<T, H>(&ctx, &handler, deliveries).await;
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
    ctx: &Ctx<'_>,
    handler: &H,
    deliveries: Vec<lapin::message::Delivery>,
) {
    let queue = ctx.queue();
    let size = deliveries.len();
    let mut good: Vec<(Raw, Arc<Message<T>>)> = Vec::with_capacity(size);
    let mut last: Option<Raw> = None;
    for d in deliveries {
        let raw = Raw::new(d);
        match raw.decode::<T>() {
            Ok(m) => good.push((raw, Arc::new(m))),
            Err(reason) => {
                warn!(queue, reason, "malformed message, dead-lettering");
                match dead_letter(ctx, &raw, &format!("malformed: {reason}")).await {
                    Settled::Done => keep_highest(&mut last, raw),
                    Settled::Requeue => requeue(&raw, queue).await,
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
    let mut paused: Option<Paused> = None;
    let mut probes = 0;
    let mut stack: Vec<(Range<usize>, bool)> = vec![(0..good.len(), false)];
    while let Some((range, retried)) = stack.pop() {
        if range.is_empty() {
            continue;
        }
        let batch: Batch<T> = good[range.clone()].iter().map(|(_, m)| m.clone()).collect();
        let result = handler.handle(batch).instrument(span.clone()).await;
        match result {
            Ok(outcome) => {
                // Whatever was unavailable answers again.
                paused = None;
                probes = 0;
                for (i, reason) in outcome.rejected {
                    let Some(pos) = range.clone().nth(i) else {
                        continue;
                    };
                    let raw = &good[pos].0;
                    warn!(
                        queue,
                        reason, "message rejected by the batch handler, dead-lettering"
                    );
                    if dead_letter(ctx, raw, &reason).await == Settled::Requeue {
                        requeue(raw, queue).await;
                        nacked[pos] = true;
                    }
                }
            }
            Err(HandlerError::Unavailable(reason)) => {
                ctx.pause.count_unavailable();
                paused.get_or_insert_with(|| ctx.pause.enter(&reason));
                probes += 1;
                let delay = ctx.opts.backoff.probe(probes);
                warn!(
                    queue,
                    reason,
                    size = range.len(),
                    retry_in_ms = delay.as_millis() as u64,
                    "infrastructure unavailable, the batch waits (no attempt counted)"
                );
                if nap(delay, ctx.cancel).await {
                    stack.push((range, retried));
                } else {
                    // Shutdown: everything not yet handled goes back to the queue as it came.
                    let pending: Vec<usize> = std::iter::once(range)
                        .chain(stack.drain(..).map(|(r, _)| r))
                        .flatten()
                        .collect();
                    for pos in pending {
                        requeue(&good[pos].0, queue).await;
                        nacked[pos] = true;
                    }
                }
            }
            Err(e) if range.len() == 1 => {
                let raw = &good[range.start].0;
                if settle_failure(ctx, raw, &e).await == Settled::Requeue {
                    requeue(raw, queue).await;
                    nacked[range.start] = true;
                }
            }
            Err(HandlerError::Retry(reason)) if !retried && range.len() == good.len() => {
                debug!(
                    queue,
                    reason,
                    size = range.len(),
                    "batch failed, retrying it once"
                );
                nap(ctx.opts.backoff.full_jitter(1), ctx.cancel).await;
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
    drop(paused);

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
