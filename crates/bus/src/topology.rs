//! Declares the design's exchanges and queues (idempotently) and, for tests, deletes them.

use domain::names::{QUEUES, exchange};
use lapin::ExchangeKind;
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use tracing::info;

use crate::connection::Bus;
use crate::error::BusError;
use crate::settings::QueueType;

/// Declares every exchange, queue, binding and dead-letter queue. Safe to run from every
/// replica at every start: re-declaring with the same arguments changes nothing.
pub async fn declare(bus: &Bus) -> Result<(), BusError> {
    let names = bus.names();
    let ch = bus.channel().await?;
    for ex in exchange::ALL {
        ch.exchange_declare(
            names.exchange(ex).into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    }
    for q in QUEUES {
        declare_queue(bus, &ch, q.name).await?;
        for (ex, key) in q.bindings {
            ch.queue_bind(
                names.queue(q.name).into(),
                names.exchange(ex).into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
    }
    let _ = ch.close(200, "topology declared".into()).await;
    info!(namespace = %bus.settings().namespace, queues = QUEUES.len(), "topology declared");
    Ok(())
}

/// The arguments that make a queue classic or quorum (with its delivery limit).
fn kind_args(bus: &Bus) -> FieldTable {
    let mut args = FieldTable::default();
    if bus.settings().queue_type == QueueType::Quorum {
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(i64::from(bus.settings().delivery_limit.max(1))),
        );
    }
    args
}

/// Declares one durable queue (design or ad hoc) with its dead-letter routing and `.dlq`.
pub(crate) async fn declare_queue(
    bus: &Bus,
    ch: &lapin::Channel,
    logical: &str,
) -> Result<(), BusError> {
    let names = bus.names();
    let queue = names.queue(logical);
    let dlq = names.dlq(logical);
    let mut args = kind_args(bus);
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(names.dead_letters().as_str().into()),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(queue.as_str().into()),
    );
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await?;
    let mut dlq_args = FieldTable::default();
    if bus.settings().queue_type == QueueType::Quorum {
        dlq_args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
    }
    ch.queue_declare(
        dlq.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        dlq_args,
    )
    .await?;
    let key = crate::names::dead_letter_key(names, logical);
    ch.queue_bind(
        dlq.as_str().into(),
        names.dead_letters().as_str().into(),
        key.as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    if key != queue {
        // A request queue: what the broker dead-letters under the queue's name are requests
        // that expired unanswered, and they must reach no queue. Earlier releases bound
        // that key; unbinding a binding that does not exist is a no-op.
        ch.queue_unbind(
            dlq.as_str().into(),
            names.dead_letters().as_str().into(),
            queue.as_str().into(),
            FieldTable::default(),
        )
        .await?;
    }
    Ok(())
}

impl Bus {
    /// Declares every exchange and queue of the design (idempotent).
    pub async fn declare_topology(&self) -> Result<(), BusError> {
        declare(self).await
    }

    /// Declares an extra durable queue (with its `.dlq`) bound to `exchange` with `keys`;
    /// tests and tools use it to listen to an exchange like a service would.
    pub async fn declare_queue(
        &self,
        logical: &str,
        exchange: &str,
        keys: &[&str],
    ) -> Result<(), BusError> {
        let ch = self.channel().await?;
        declare_queue(self, &ch, logical).await?;
        for key in keys {
            ch.queue_bind(
                self.names().queue(logical).into(),
                self.names().exchange(exchange).into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        let _ = ch.close(200, "queue declared".into()).await;
        Ok(())
    }

    /// Takes one message off a queue without decoding it (for dead-letter inspection and
    /// tools), acknowledging it. `None` when the queue is empty.
    pub async fn fetch(
        &self,
        logical: &str,
    ) -> Result<Option<crate::message::RawMessage>, BusError> {
        let ch = self.channel().await?;
        let got = ch
            .basic_get(
                self.names().queue(logical).into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await?;
        let _ = ch.close(200, "fetched".into()).await;
        Ok(got.map(|m| {
            let d = m.delivery;
            crate::message::RawMessage {
                routing_key: d.routing_key.as_str().to_string(),
                properties: crate::message::Properties::of(&d.properties),
                headers: crate::message::header_map(&d.properties),
                body: d.data,
            }
        }))
    }

    /// Number of ready messages in a queue (`logical` name).
    pub async fn queue_depth(&self, logical: &str) -> Result<u32, BusError> {
        let ch = self.channel().await?;
        let q = ch
            .queue_declare(
                self.names().queue(logical).into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        let _ = ch.close(200, "depth read".into()).await;
        Ok(q.message_count())
    }
}

/// Deletes the design's exchanges and queues under this bus's namespace, plus `extra`
/// queues (logical names, with their `.dlq`). Meant for test namespaces.
pub async fn delete(bus: &Bus, extra: &[String]) -> Result<(), BusError> {
    let names = bus.names();
    let ch = bus.channel().await?;
    let queues = QUEUES
        .iter()
        .map(|q| q.name.to_string())
        .chain(extra.iter().cloned());
    for q in queues {
        for name in [names.queue(&q), names.dlq(&q)] {
            ch.queue_delete(name.into(), QueueDeleteOptions::default())
                .await?;
        }
    }
    for ex in exchange::ALL {
        ch.exchange_delete(names.exchange(ex).into(), ExchangeDeleteOptions::default())
            .await?;
    }
    let _ = ch.close(200, "topology deleted".into()).await;
    Ok(())
}
