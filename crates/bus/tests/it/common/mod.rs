//! What the bus tests share: a timeout, an audit event to publish, and a consumer that
//! forwards what it receives.

use std::time::Duration;

use bus::{Bus, ConsumerOptions, HandlerError, Message};
use domain::events::AuditRecord;
use domain::{Channel, Envelope, Event};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const T: Duration = Duration::from_secs(10);

pub fn audit(verb: &str) -> Envelope<Event> {
    Envelope::new(
        "tests",
        Event::Audit(AuditRecord {
            verb: verb.into(),
            actor: "ana".into(),
            on_behalf_of: None,
            outcome: Default::default(),
            clause: None,
            channel: Channel::Api,
            target_type: "incident".into(),
            target_id: Some("1".into()),
            details: None,
            at: chrono::Utc::now(),
        }),
    )
}

/// A consumer on `queue` forwarding decoded messages to a channel.
pub fn forward<T: domain::Decode + Send + Sync + 'static>(
    bus: &Bus,
    opts: ConsumerOptions,
    cancel: &CancellationToken,
) -> mpsc::UnboundedReceiver<Message<T>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let bus = bus.clone();
    let cancel = cancel.clone();
    tokio::spawn(async move {
        bus.consume(
            opts,
            move |m: Message<T>| {
                let tx = tx.clone();
                async move { tx.send(m).map_err(|_| HandlerError::retry("receiver gone")) }
            },
            cancel,
        )
        .await
    });
    rx
}
