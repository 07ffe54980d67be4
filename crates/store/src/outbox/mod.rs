//! The transactional outbox: an event is written in the same transaction as the change it
//! describes, and the [`OutboxRelay`] publishes it after commit. Nothing is lost when the
//! broker is down, and nothing is published for a rolled-back change.

mod relay;

use std::collections::BTreeMap;

use bus::OutgoingMessage;
use domain::{Envelope, Payload};
use serde::Serialize;
use sqlx::PgConnection;

use crate::error::StoreError;

pub use relay::{OutboxRelay, OutboxSettings, RelayMetrics};

/// Writes `env` to the outbox inside the caller's transaction, with the current trace
/// context so the trace continues on the other side.
pub async fn enqueue<P: Payload + Serialize>(
    tx: &mut PgConnection,
    producer: &str,
    env: &Envelope<P>,
) -> Result<(), StoreError> {
    let mut msg = OutgoingMessage::from_envelope(env);
    msg.headers = bus::trace::current_headers();
    enqueue_messages(tx, producer, std::slice::from_ref(&msg)).await
}

/// Writes several prepared messages with one statement (the ingest path emits many).
pub async fn enqueue_messages(
    tx: &mut PgConnection,
    producer: &str,
    msgs: &[OutgoingMessage],
) -> Result<(), StoreError> {
    if msgs.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(msgs.len());
    let mut kinds = Vec::with_capacity(msgs.len());
    let mut exchanges = Vec::with_capacity(msgs.len());
    let mut keys = Vec::with_capacity(msgs.len());
    let mut payloads = Vec::with_capacity(msgs.len());
    let mut headers = Vec::with_capacity(msgs.len());
    for m in msgs {
        let id: uuid::Uuid = m.message_id.parse().map_err(|_| StoreError::Database {
            kind: crate::DbErrorKind::InvalidData,
            source: sqlx::Error::Protocol(format!(
                "outbox message id `{}` is not a uuid",
                m.message_id
            )),
        })?;
        ids.push(id);
        kinds.push(m.kind.as_str());
        exchanges.push(m.exchange.as_str());
        keys.push(m.routing_key.as_str());
        // Bodies are envelopes we serialised ourselves: valid UTF-8 JSON.
        payloads.push(String::from_utf8_lossy(&m.body).into_owned());
        headers.push(serde_json::to_string(&m.headers).expect("string map serialises"));
    }
    sqlx::query(
        "INSERT INTO outbox_events (event_id, event_type, exchange, routing_key, payload, headers, producer)
         SELECT id, kind, ex, rk, p::jsonb, h::jsonb, $7
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
              AS t(id, kind, ex, rk, p, h)",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&exchanges)
    .bind(&keys)
    .bind(&payloads)
    .bind(&headers)
    .bind(producer)
    .execute(tx)
    .await?;
    Ok(())
}

/// A claimed outbox row turned back into a message.
pub(crate) fn to_message(
    event_id: uuid::Uuid,
    event_type: String,
    exchange: String,
    routing_key: String,
    payload: String,
    headers: serde_json::Value,
    created_at: chrono::DateTime<chrono::Utc>,
) -> OutgoingMessage {
    let headers: BTreeMap<String, String> = serde_json::from_value(headers).unwrap_or_default();
    let correlation_id = serde_json::from_str::<serde_json::Value>(&payload)
        .ok()
        .and_then(|v| v.get("correlation_id")?.as_str().map(str::to_string));
    OutgoingMessage {
        exchange,
        routing_key,
        message_id: event_id.to_string(),
        kind: event_type,
        body: payload.into_bytes(),
        headers,
        correlation_id,
        reply_to: None,
        timestamp: created_at,
    }
}
