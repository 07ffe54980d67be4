use std::time::Duration;

use domain::{Envelope, Payload};
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel, Confirmation};
use serde::Serialize;
use tracing::{debug, warn};

use crate::connection::Bus;
use crate::error::BusError;
use crate::message::OutgoingMessage;
use crate::trace;

/// How often a publish is tried again after the channel failed under it.
const PUBLISH_TRIES: u32 = 3;

impl Bus {
    /// Publishes an envelope where its payload belongs, with the current trace context,
    /// and waits for the broker's confirm.
    pub async fn publish<P: Payload + Serialize>(&self, env: &Envelope<P>) -> Result<(), BusError> {
        let mut msg = OutgoingMessage::from_envelope(env);
        msg.headers = trace::current_headers();
        self.publish_message(&msg).await
    }

    /// Publishes a prepared message and waits for its confirm. A nack, a missing confirm or
    /// a channel that does not come back is an error for the caller; concurrent calls share
    /// the channel, so confirms are awaited in parallel rather than one publish at a time.
    pub async fn publish_message(&self, msg: &OutgoingMessage) -> Result<(), BusError> {
        let exchange = if msg.exchange.is_empty() {
            String::new()
        } else {
            self.names().exchange(&msg.exchange)
        };
        self.publish_raw(
            &exchange,
            &msg.routing_key,
            &msg.body,
            msg.properties(),
            false,
        )
        .await
    }

    /// `exchange` is the full (namespaced) name. With `mandatory`, a message no queue
    /// receives is an [`BusError::Unroutable`] error instead of being dropped silently.
    pub(crate) async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        props: BasicProperties,
        mandatory: bool,
    ) -> Result<(), BusError> {
        publish_on(
            &self.inner.publisher,
            exchange,
            routing_key,
            body,
            props,
            mandatory,
            self.settings().confirm_timeout(),
        )
        .await
    }
}

pub(crate) async fn publish_on(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    props: BasicProperties,
    mandatory: bool,
    confirm_timeout: Duration,
) -> Result<(), BusError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let result = tokio::time::timeout(confirm_timeout, async {
            channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    BasicPublishOptions {
                        mandatory,
                        immediate: false,
                    },
                    body,
                    props.clone(),
                )
                .await?
                .await
        })
        .await;
        match result {
            Err(_) => return Err(BusError::ConfirmTimeout(confirm_timeout)),
            Ok(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => {
                debug!(exchange, routing_key, "published");
                return Ok(());
            }
            Ok(Ok(Confirmation::Ack(Some(_)))) => {
                return Err(BusError::Unroutable {
                    exchange: exchange.to_string(),
                    routing_key: routing_key.to_string(),
                });
            }
            Ok(Ok(Confirmation::Nack(_))) => {
                return Err(BusError::Nacked {
                    exchange: exchange.to_string(),
                    routing_key: routing_key.to_string(),
                });
            }
            Ok(Err(e)) if tries < PUBLISH_TRIES && e.can_be_recovered() => {
                // The message may or may not have reached the broker; sending it again is
                // at-least-once, which every consumer tolerates.
                warn!(exchange, routing_key, error = %e, "publish failed, waiting for recovery");
                let wait =
                    tokio::time::timeout(confirm_timeout, channel.wait_for_recovery(e)).await;
                match wait {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => return Err(BusError::ConfirmTimeout(confirm_timeout)),
                }
            }
            Ok(Err(e)) => return Err(e.into()),
        }
    }
}
