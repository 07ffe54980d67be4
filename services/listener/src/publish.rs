//! Log records onto the `logs` exchange with publisher confirms, many at a time: every
//! message of a batch is sent before any confirm is awaited, so the broker confirms them
//! in bulk instead of one round trip each.

use bus::{Bus, BusError, OutgoingMessage};
use domain::{Envelope, LogRecord};
use futures_util::future::join_all;

use crate::settings::SERVICE;

/// The message for one record: type `log.jenkins`/`log.api`, routing key
/// `logs.<source>.<level>`, the current trace context.
pub fn message(
    record: LogRecord,
    trace: &std::collections::BTreeMap<String, String>,
) -> OutgoingMessage {
    let env = Envelope::new(SERVICE, record);
    let mut msg = OutgoingMessage::from_envelope(&env);
    msg.headers = trace.clone();
    msg
}

/// Publishes every message and returns each one's outcome, in order.
pub async fn publish_all(bus: &Bus, messages: &[OutgoingMessage]) -> Vec<Result<(), BusError>> {
    join_all(messages.iter().map(|m| bus.publish_message(m))).await
}

/// Records to messages sharing the caller's trace, published; the outcome of each.
pub async fn publish_records(bus: &Bus, records: Vec<LogRecord>) -> Vec<Result<(), BusError>> {
    let trace = bus::trace::current_headers();
    let messages: Vec<OutgoingMessage> = records.into_iter().map(|r| message(r, &trace)).collect();
    publish_all(bus, &messages).await
}
