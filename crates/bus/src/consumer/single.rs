use std::sync::Arc;

use domain::Decode;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use super::pause::{Pause, Paused, nap};
use super::settle::{Ctx, Raw, Settled, ack, dead_letter, requeue, settle_failure};
use super::subscription::{Next, Subscription};
use super::{ConsumerOptions, Handler, HandlerError};
use crate::connection::Bus;
use crate::error::BusError;
use crate::trace::link_span;

impl Bus {
    /// Consumes `opts.queue` one message at a time (up to `opts.concurrency` at once) until
    /// `cancel` fires. Then it stops taking deliveries, lets the handlers in flight finish
    /// and ack on the still-open channel, and only then closes the channel, which returns
    /// the deliveries prefetched but never started to the queue.
    ///
    /// A handler answering [`HandlerError::Unavailable`] pauses the consumer: no new
    /// delivery is started, and that message is run again after a backoff until it gets
    /// through, without counting an attempt.
    pub async fn consume<T, H>(
        &self,
        opts: ConsumerOptions,
        handler: H,
        cancel: CancellationToken,
    ) -> Result<(), BusError>
    where
        T: Decode + Send + Sync + 'static,
        H: Handler<T>,
    {
        let handler = Arc::new(handler);
        let opts = Arc::new(opts);
        let pause = Pause::new(&opts.queue, self.inner.metrics.clone());
        let permits = Arc::new(Semaphore::new(opts.concurrency));
        let mut tasks = JoinSet::new();
        let mut last: Option<Subscription> = None;
        'subscribe: while let Some(mut sub) = Subscription::open(self, &opts, &cancel).await {
            loop {
                let permit = tokio::select! {
                    p = permits.clone().acquire_owned() => p.expect("semaphore never closes"),
                    _ = cancel.cancelled() => { last = Some(sub); break 'subscribe; }
                };
                if !pause.wait_resumed(&cancel).await {
                    last = Some(sub);
                    break 'subscribe;
                }
                match sub.next(&cancel).await {
                    Next::Delivery(d) => {
                        // The pause may have begun while this delivery was awaited: hold it
                        // unstarted until the infrastructure answers again.
                        if !pause.wait_resumed(&cancel).await {
                            requeue(&Raw::new(*d), &opts.queue).await;
                            last = Some(sub);
                            break 'subscribe;
                        }
                        let (bus, opts, handler, pause, cancel) = (
                            self.clone(),
                            opts.clone(),
                            handler.clone(),
                            pause.clone(),
                            cancel.clone(),
                        );
                        tasks.spawn(async move {
                            let ctx = Ctx {
                                bus: &bus,
                                opts: &opts,
                                pause: &pause,
                                cancel: &cancel,
                            };
                            process::<T, H>(&ctx, &*handler, Raw::new(*d)).await;
                            drop(permit);
                        });
                        while tasks.try_join_next().is_some() {}
                    }
                    Next::Lost => continue 'subscribe,
                    Next::Cancelled => {
                        last = Some(sub);
                        break 'subscribe;
                    }
                }
            }
        }
        if let Some(sub) = &last {
            sub.stop_deliveries().await;
        }
        let in_flight = tasks.len();
        if in_flight > 0 {
            info!(queue = %opts.queue, in_flight, "draining in-flight messages");
        }
        while tasks.join_next().await.is_some() {}
        if let Some(sub) = last {
            sub.close().await;
        }
        info!(queue = %opts.queue, "consumer stopped");
        Ok(())
    }
}

async fn process<T: Decode, H: Handler<T>>(ctx: &Ctx<'_>, handler: &H, raw: Raw) {
    let queue = ctx.queue();
    let mut paused: Option<Paused> = None;
    let mut probes = 0;
    loop {
        let msg = match raw.decode::<T>() {
            Ok(m) => m,
            Err(reason) => {
                warn!(queue, reason, "malformed message, dead-lettering");
                match dead_letter(ctx, &raw, &format!("malformed: {reason}")).await {
                    Settled::Done => ack(&raw, false, queue).await,
                    Settled::Requeue => requeue(&raw, queue).await,
                }
                return;
            }
        };
        let span = info_span!(
            "handle",
            queue,
            message_type = %msg.envelope.kind,
            message_id = %msg.envelope.id,
            attempt = msg.attempt
        );
        link_span(&span, &msg.headers);
        match handler.handle(msg).instrument(span).await {
            Ok(()) => {
                ack(&raw, false, queue).await;
                return;
            }
            Err(HandlerError::Unavailable(reason)) => {
                ctx.pause.count_unavailable();
                paused.get_or_insert_with(|| ctx.pause.enter(&reason));
                probes += 1;
                let delay = ctx.opts.backoff.probe(probes);
                warn!(
                    queue,
                    reason,
                    retry_in_ms = delay.as_millis() as u64,
                    "infrastructure unavailable, the message waits (no attempt counted)"
                );
                if !nap(delay, ctx.cancel).await {
                    // Shutdown: back to the queue as it came, for this or another replica.
                    requeue(&raw, queue).await;
                    return;
                }
            }
            Err(e) => {
                match settle_failure(ctx, &raw, &e).await {
                    Settled::Done => ack(&raw, false, queue).await,
                    Settled::Requeue => requeue(&raw, queue).await,
                }
                return;
            }
        }
    }
}
