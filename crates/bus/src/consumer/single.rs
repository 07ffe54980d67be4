use std::sync::Arc;

use domain::Decode;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use super::settle::{Settled, ack, dead_letter, requeue, settle_failure, split};
use super::subscription::{Next, Subscription};
use super::{ConsumerOptions, Handler};
use crate::connection::Bus;
use crate::error::BusError;
use crate::trace::link_span;

impl Bus {
    /// Consumes `opts.queue` one message at a time (up to `opts.concurrency` at once) until
    /// `cancel` fires, then stops taking messages and lets the ones in flight finish.
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
        let permits = Arc::new(Semaphore::new(opts.concurrency));
        let mut tasks = JoinSet::new();
        'subscribe: while let Some(mut sub) = Subscription::open(self, &opts, &cancel).await {
            loop {
                let permit = tokio::select! {
                    p = permits.clone().acquire_owned() => p.expect("semaphore never closes"),
                    _ = cancel.cancelled() => { sub.close().await; break 'subscribe; }
                };
                match sub.next(&cancel).await {
                    Next::Delivery(d) => {
                        let (bus, opts, handler) = (self.clone(), opts.clone(), handler.clone());
                        tasks.spawn(async move {
                            process::<T, H>(&bus, &opts, &*handler, *d).await;
                            drop(permit);
                        });
                        while tasks.try_join_next().is_some() {}
                    }
                    Next::Lost => continue 'subscribe,
                    Next::Cancelled => {
                        sub.close().await;
                        break 'subscribe;
                    }
                }
            }
        }
        let in_flight = tasks.len();
        if in_flight > 0 {
            info!(queue = %opts.queue, in_flight, "draining in-flight messages");
        }
        while tasks.join_next().await.is_some() {}
        info!(queue = %opts.queue, "consumer stopped");
        Ok(())
    }
}

async fn process<T: Decode, H: Handler<T>>(
    bus: &Bus,
    opts: &ConsumerOptions,
    handler: &H,
    delivery: lapin::message::Delivery,
) {
    let queue = opts.queue.as_str();
    let (raw, decoded) = split::<T>(delivery);
    let msg = match decoded {
        Ok(m) => m,
        Err(reason) => {
            warn!(queue, reason, "malformed message, dead-lettering");
            if dead_letter(bus, &raw, queue, &format!("malformed: {reason}")).await
                == Settled::DeadLettered
            {
                ack(&raw, false, queue).await;
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
        Ok(()) => ack(&raw, false, queue).await,
        Err(e) => match settle_failure(bus, opts, &raw, &e).await {
            Settled::Retried | Settled::DeadLettered => ack(&raw, false, queue).await,
            Settled::Requeue => requeue(&raw, queue).await,
            Settled::Rejected => {}
        },
    }
}
