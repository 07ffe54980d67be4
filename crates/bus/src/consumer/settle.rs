//! Decoding deliveries and settling the ones that failed: retry (put back on the queue with
//! one more attempt, after a jittered backoff) or dead-letter (with the reason in a header).
//! A broker that refuses these publishes is unavailable infrastructure: the consumer pauses
//! and tries again, and at shutdown the message goes back to its queue as it was.

use std::future::Future;
use std::sync::Arc;

use domain::Decode;
use domain::envelope::decode_envelope;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use super::pause::{Pause, Paused, nap};
use super::{ConsumerOptions, HandlerError};
use crate::connection::Bus;
use crate::error::BusError;
use crate::message::{Message, Properties, attempts, header_map, headers};

/// The parts of a delivery needed to hand it to a handler (again) and settle it.
pub(super) struct Raw {
    pub data: Vec<u8>,
    pub properties: lapin::BasicProperties,
    pub exchange: String,
    pub routing_key: String,
    pub acker: lapin::Acker,
    pub delivery_tag: u64,
    pub attempt: u32,
    pub redelivered: bool,
}

impl Raw {
    pub fn new(d: Delivery) -> Raw {
        Raw {
            attempt: attempts(&d.properties),
            exchange: d.exchange.as_str().to_string(),
            routing_key: d.routing_key.as_str().to_string(),
            acker: d.acker,
            delivery_tag: d.delivery_tag,
            redelivered: d.redelivered,
            data: d.data,
            properties: d.properties,
        }
    }

    /// Decodes the envelope; a paused consumer decodes again for every probe rather than
    /// requiring handlers' payloads to be `Clone`.
    pub fn decode<T: Decode>(&self) -> Result<Message<T>, String> {
        decode_envelope::<T>(&self.data)
            .map(|envelope| Message {
                envelope,
                routing_key: self.routing_key.clone(),
                exchange: self.exchange.clone(),
                attempt: self.attempt,
                redelivered: self.redelivered,
                headers: header_map(&self.properties),
                properties: Properties::of(&self.properties),
                reply_to: self
                    .properties
                    .reply_to()
                    .as_ref()
                    .map(|s| s.as_str().to_string()),
                correlation_id: self
                    .properties
                    .correlation_id()
                    .as_ref()
                    .map(|s| s.as_str().to_string()),
            })
            .map_err(|e| e.to_string())
    }
}

/// What settling a message needs from its consumer.
pub(super) struct Ctx<'a> {
    pub bus: &'a Bus,
    pub opts: &'a ConsumerOptions,
    pub pause: &'a Arc<Pause>,
    pub cancel: &'a CancellationToken,
}

impl Ctx<'_> {
    pub fn queue(&self) -> &str {
        &self.opts.queue
    }
}

/// What became of a message whose handler failed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Settled {
    /// Its retry or its dead letter is confirmed by the broker: ack the original.
    Done,
    /// The service stops while the broker refuses: nack it back onto its queue, unchanged.
    Requeue,
}

/// Retries or dead-letters a message whose handler failed with `Retry` or `Reject` (an
/// `Unavailable` is the caller's to handle: it never ends up here but is requeued). The
/// original must be acked by the caller afterwards: the copy on its way is confirmed
/// before the original goes.
pub(super) async fn settle_failure(ctx: &Ctx<'_>, raw: &Raw, err: &HandlerError) -> Settled {
    let queue = ctx.queue();
    let attempt = raw.attempt;
    let max_attempts = ctx.opts.max_attempts;
    match err {
        HandlerError::Retry(reason) if attempt < max_attempts => {
            let delay = ctx.opts.backoff.full_jitter(attempt);
            warn!(
                queue,
                attempt,
                max_attempts,
                reason,
                retry_in_ms = delay.as_millis() as u64,
                "handler failed, retrying"
            );
            // At shutdown the retry leaves at once: the delay only spreads retries out.
            nap(delay, ctx.cancel).await;
            let settled = until_published(ctx, "re-queue a failed message", || {
                republish(ctx.bus, raw, queue, attempt + 1)
            })
            .await;
            if settled == Settled::Done {
                ctx.bus
                    .inner
                    .metrics
                    .retried
                    .with_label_values(&[queue])
                    .inc();
            }
            settled
        }
        HandlerError::Retry(reason) => {
            warn!(
                queue,
                attempts = attempt,
                reason,
                "redelivery limit hit, dead-lettering"
            );
            dead_letter(ctx, raw, &format!("failed {attempt} times: {reason}")).await
        }
        HandlerError::Reject(reason) => {
            warn!(queue, reason, "message rejected, dead-lettering");
            dead_letter(ctx, raw, reason).await
        }
        HandlerError::Unavailable(_) => Settled::Requeue,
    }
}

/// Publishes `raw` to its queue's dead-letter queue with `reason` in a header.
pub(super) async fn dead_letter(ctx: &Ctx<'_>, raw: &Raw, reason: &str) -> Settled {
    let bus = ctx.bus;
    let queue = ctx.queue();
    let mut props = raw.properties.clone();
    let mut table = props.headers().clone().unwrap_or_default();
    let text = |s: &str| AMQPValue::LongString(LongString::from(s));
    table.insert(headers::DEATH_REASON.into(), text(&truncate(reason, 1000)));
    table.insert(headers::ORIGINAL_EXCHANGE.into(), text(&raw.exchange));
    table.insert(headers::ORIGINAL_ROUTING_KEY.into(), text(&raw.routing_key));
    table.insert(
        headers::ATTEMPTS.into(),
        AMQPValue::LongLongInt(raw.attempt.into()),
    );
    // Request queues expire requests nobody answered in time into nowhere (see
    // `topology`); their real dead letters travel under a key of their own.
    props = props.with_headers(table);
    let key = crate::names::dead_letter_key(bus.names(), queue);
    let exchange = bus.names().dead_letters();
    let settled = until_published(ctx, "dead-letter a message", || {
        bus.publish_raw(&exchange, &key, &raw.data, props.clone(), true)
    })
    .await;
    if settled == Settled::Done {
        bus.inner
            .metrics
            .dead_lettered
            .with_label_values(&[queue])
            .inc();
    }
    settled
}

/// Runs `publish` until the broker confirms it. A refusal (nack, no confirm, channel
/// down) pauses the consumer and is tried again after a backoff; `Requeue` when the
/// service stops first.
async fn until_published<F, Fut>(ctx: &Ctx<'_>, what: &str, mut publish: F) -> Settled
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), BusError>>,
{
    let queue = ctx.queue();
    let mut paused: Option<Paused> = None;
    let mut step = 0;
    loop {
        let err = match publish().await {
            Ok(()) => return Settled::Done,
            Err(e) => e,
        };
        ctx.pause.count_unavailable();
        if matches!(err, BusError::Unroutable { .. }) && ctx.bus.is_connected() {
            // Someone deleted the queue or its dead-letter queue: declare them again.
            if let Err(e) = ctx.bus.redeclare_queue(queue).await {
                warn!(queue, error = %e, "re-declaring failed");
            }
        }
        let reason = format!("cannot {what}: {err}");
        error!(queue, error = %err, "the broker refused a publish, pausing");
        paused.get_or_insert_with(|| ctx.pause.enter(&reason));
        step += 1;
        if !nap(ctx.opts.backoff.probe(step), ctx.cancel).await {
            return Settled::Requeue;
        }
    }
}

async fn republish(bus: &Bus, raw: &Raw, queue: &str, attempt: u32) -> Result<(), BusError> {
    let mut table: FieldTable = raw.properties.headers().clone().unwrap_or_default();
    table.insert(
        headers::ATTEMPTS.into(),
        AMQPValue::LongLongInt(attempt.into()),
    );
    let props = raw.properties.clone().with_headers(table);
    // The default exchange routes straight to this queue: other subscribers of the original
    // exchange must not see the retry.
    bus.publish_raw("", &bus.names().queue(queue), &raw.data, props, true)
        .await
}

/// Acks one delivery; a failed ack means the broker will redeliver, which idempotent
/// consumers absorb.
pub(super) async fn ack(raw: &Raw, multiple: bool, queue: &str) {
    match raw.acker.ack(BasicAckOptions { multiple }).await {
        Ok(true) => {}
        Ok(false) => warn!(
            queue,
            "ack skipped on a recovered channel, the message will be redelivered"
        ),
        Err(e) => warn!(queue, error = %e, "ack failed, the message will be redelivered"),
    }
}

pub(super) async fn requeue(raw: &Raw, queue: &str) {
    if let Err(e) = raw
        .acker
        .nack(BasicNackOptions {
            multiple: false,
            requeue: true,
        })
        .await
    {
        warn!(queue, error = %e, "nack failed, the message will be redelivered");
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
