//! Decoding deliveries and settling the ones that failed: retry (put back on the queue with
//! one more attempt) or dead-letter (with the reason in a header).

use domain::Decode;
use domain::envelope::decode_envelope;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use tracing::{error, warn};

use super::{ConsumerOptions, HandlerError};
use crate::connection::Bus;
use crate::error::BusError;
use crate::message::{Message, Properties, attempts, header_map, headers};

/// The parts of a delivery needed to settle it after the handler ran.
pub(super) struct Raw {
    pub data: Vec<u8>,
    pub properties: lapin::BasicProperties,
    pub exchange: String,
    pub routing_key: String,
    pub acker: lapin::Acker,
    pub delivery_tag: u64,
    pub attempt: u32,
}

pub(super) fn split<T: Decode>(d: Delivery) -> (Raw, Result<Message<T>, String>) {
    let attempt = attempts(&d.properties);
    let raw = Raw {
        exchange: d.exchange.as_str().to_string(),
        routing_key: d.routing_key.as_str().to_string(),
        acker: d.acker,
        delivery_tag: d.delivery_tag,
        attempt,
        data: d.data,
        properties: d.properties,
    };
    let decoded = decode_envelope::<T>(&raw.data)
        .map(|envelope| Message {
            envelope,
            routing_key: raw.routing_key.clone(),
            exchange: raw.exchange.clone(),
            attempt,
            redelivered: d.redelivered,
            headers: header_map(&raw.properties),
            properties: Properties::of(&raw.properties),
            reply_to: raw
                .properties
                .reply_to()
                .as_ref()
                .map(|s| s.as_str().to_string()),
            correlation_id: raw
                .properties
                .correlation_id()
                .as_ref()
                .map(|s| s.as_str().to_string()),
        })
        .map_err(|e| e.to_string());
    (raw, decoded)
}

/// What became of a message whose handler failed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Settled {
    Retried,
    DeadLettered,
    /// Neither worked (broker trouble): the caller nacks it back onto the queue.
    Requeue,
    /// Already rejected to the broker's own dead-letter exchange: nothing left to do.
    Rejected,
}

/// Retries or dead-letters a failed message. It must be acked (or nacked) by the caller
/// afterwards: the copy on its way is confirmed before the original goes.
pub(super) async fn settle_failure(
    bus: &Bus,
    opts: &ConsumerOptions,
    raw: &Raw,
    err: &HandlerError,
) -> Settled {
    let queue = opts.queue.as_str();
    let attempt = raw.attempt;
    match err {
        HandlerError::Retry(reason) if attempt < opts.max_attempts => {
            warn!(
                queue,
                attempt,
                max_attempts = opts.max_attempts,
                reason,
                "handler failed, retrying"
            );
            if !opts.retry_delay.is_zero() {
                tokio::time::sleep(opts.retry_delay).await;
            }
            match republish(bus, raw, queue, attempt + 1).await {
                Ok(()) => Settled::Retried,
                Err(e) => {
                    error!(queue, error = %e, "could not re-queue a failed message");
                    Settled::Requeue
                }
            }
        }
        HandlerError::Retry(reason) => {
            warn!(
                queue,
                attempts = attempt,
                reason,
                "redelivery limit hit, dead-lettering"
            );
            dead_letter(
                bus,
                raw,
                queue,
                &format!("failed {attempt} times: {reason}"),
            )
            .await
        }
        HandlerError::Reject(reason) => {
            warn!(queue, reason, "message rejected, dead-lettering");
            dead_letter(bus, raw, queue, reason).await
        }
    }
}

pub(super) async fn dead_letter(bus: &Bus, raw: &Raw, queue: &str, reason: &str) -> Settled {
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
    props = props.with_headers(table);
    let full_queue = bus.names().queue(queue);
    match bus
        .publish_raw(
            &bus.names().dead_letters(),
            &full_queue,
            &raw.data,
            props,
            true,
        )
        .await
    {
        Ok(()) => Settled::DeadLettered,
        Err(e) => {
            error!(queue, error = %e, "could not dead-letter a message, rejecting it to the broker's dead-letter exchange");
            // The queue's own x-dead-letter-exchange takes it (without our reason header).
            let _ = raw
                .acker
                .nack(BasicNackOptions {
                    multiple: false,
                    requeue: false,
                })
                .await;
            Settled::Rejected
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
