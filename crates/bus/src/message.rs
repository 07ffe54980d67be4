use std::collections::BTreeMap;

use domain::{Envelope, Payload};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use serde::Serialize;

/// Header names Runbooks sets besides the W3C trace context.
pub mod headers {
    pub const TRACEPARENT: &str = "traceparent";
    pub const TRACESTATE: &str = "tracestate";
    /// How many times this message has been handed to a handler (1 on first delivery).
    pub const ATTEMPTS: &str = "x-runbooks-attempts";
    /// Why a message was dead-lettered.
    pub const DEATH_REASON: &str = "x-runbooks-death-reason";
    pub const ORIGINAL_EXCHANGE: &str = "x-runbooks-original-exchange";
    pub const ORIGINAL_ROUTING_KEY: &str = "x-runbooks-original-routing-key";
    /// On a `command.*` request from a trusted service: the end user it acts for
    /// (`slack:U123`). Only believed when the AMQP `user_id` is a trusted RabbitMQ user.
    pub const ON_BEHALF_OF: &str = "x-runbooks-on-behalf-of";
    /// With [`ON_BEHALF_OF`]: the end user's groups (`slack-group:S0OPS,...`), which the
    /// policy may give roles to.
    pub const ON_BEHALF_OF_GROUPS: &str = "x-runbooks-on-behalf-of-groups";
    /// On a `command.*` request from a trusted service: the SHA-256 (hex) of the API token a
    /// person logged in with (the console). The server judges the request as that token's
    /// principal; the token itself never travels on the bus.
    pub const TOKEN_SHA256: &str = "x-runbooks-token-sha256";
}

/// A delivered message, decoded.
#[derive(Debug, Clone)]
pub struct Message<T> {
    pub envelope: Envelope<T>,
    pub routing_key: String,
    pub exchange: String,
    /// 1 on the first delivery to a handler, incremented on every retry.
    pub attempt: u32,
    /// Set by the broker when the message was delivered before without an ack.
    pub redelivered: bool,
    /// String-valued AMQP headers (trace context and others).
    pub headers: BTreeMap<String, String>,
    /// The AMQP properties as delivered.
    pub properties: Properties,
    /// Where a request wants its reply (RPC).
    pub reply_to: Option<String>,
    /// The AMQP correlation id (RPC).
    pub correlation_id: Option<String>,
}

/// The AMQP basic properties of a delivery, as plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pub message_id: Option<String>,
    pub kind: Option<String>,
    pub content_type: Option<String>,
    /// Delivery mode 2.
    pub persistent: bool,
    /// Seconds since the epoch.
    pub timestamp: Option<u64>,
    /// The AMQP `user_id`: RabbitMQ refuses a message whose `user_id` differs from the user
    /// its connection authenticated as, so a consumer can trust it.
    pub user_id: Option<String>,
    /// The AMQP per-message TTL in milliseconds, as text (RPC requests set their timeout).
    pub expiration: Option<String>,
}

impl Properties {
    pub(crate) fn of(p: &BasicProperties) -> Self {
        let s = |v: &Option<lapin::types::ShortString>| v.as_ref().map(|s| s.as_str().to_string());
        Properties {
            message_id: s(p.message_id()),
            kind: s(p.kind()),
            content_type: s(p.content_type()),
            persistent: *p.delivery_mode() == Some(2),
            timestamp: *p.timestamp(),
            user_id: s(p.user_id()),
            expiration: s(p.expiration()),
        }
    }
}

/// A message fetched as is, without decoding (dead-letter inspection).
#[derive(Debug, Clone)]
pub struct RawMessage {
    pub body: Vec<u8>,
    pub routing_key: String,
    pub properties: Properties,
    pub headers: BTreeMap<String, String>,
}

impl<T> Message<T> {
    pub fn payload(&self) -> &T {
        &self.envelope.payload
    }

    pub fn traceparent(&self) -> Option<&str> {
        self.headers.get(headers::TRACEPARENT).map(String::as_str)
    }

    /// When the sender stops waiting for this message, if it said: the envelope's time plus
    /// the AMQP expiration (RPC requests carry their timeout there).
    pub fn expires_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let ttl_ms: i64 = self.properties.expiration.as_deref()?.trim().parse().ok()?;
        self.envelope
            .occurred_at
            .checked_add_signed(chrono::TimeDelta::try_milliseconds(ttl_ms)?)
    }
}

/// Everything needed to publish one message; the outbox stores these fields.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    /// Logical exchange name (the namespace is applied at publish time).
    pub exchange: String,
    pub routing_key: String,
    pub message_id: String,
    pub kind: String,
    pub body: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    pub correlation_id: Option<String>,
    pub reply_to: Option<String>,
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

impl OutgoingMessage {
    pub fn from_envelope<P: Payload + Serialize>(env: &Envelope<P>) -> Self {
        OutgoingMessage {
            exchange: env.payload.exchange().to_string(),
            routing_key: env.payload.routing_key(),
            message_id: env.id.to_string(),
            kind: env.kind.clone(),
            body: env.to_json(),
            headers: BTreeMap::new(),
            correlation_id: env.correlation_id.clone(),
            reply_to: None,
            timestamp: env.occurred_at,
        }
    }

    /// Publish an envelope somewhere other than where its payload says.
    pub fn to<P: Serialize>(exchange: &str, routing_key: &str, env: &Envelope<P>) -> Self {
        OutgoingMessage {
            exchange: exchange.to_string(),
            routing_key: routing_key.to_string(),
            message_id: env.id.to_string(),
            kind: env.kind.clone(),
            body: env.to_json(),
            headers: BTreeMap::new(),
            correlation_id: env.correlation_id.clone(),
            reply_to: None,
            timestamp: env.occurred_at,
        }
    }

    pub(crate) fn properties(&self) -> BasicProperties {
        let mut props = BasicProperties::default()
            .with_message_id(self.message_id.as_str().into())
            .with_type(self.kind.as_str().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_timestamp(self.timestamp.timestamp().max(0) as u64)
            .with_headers(to_field_table(&self.headers));
        if let Some(c) = &self.correlation_id {
            props = props.with_correlation_id(c.as_str().into());
        }
        if let Some(r) = &self.reply_to {
            props = props.with_reply_to(r.as_str().into());
        }
        props
    }
}

pub(crate) fn to_field_table(map: &BTreeMap<String, String>) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in map {
        table.insert(
            ShortString::from(k.as_str()),
            AMQPValue::LongString(v.as_str().into()),
        );
    }
    table
}

/// String-valued headers of a delivery; other value types are rendered as text.
pub(crate) fn header_map(props: &BasicProperties) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(table) = props.headers() {
        for (k, v) in table.inner() {
            let text = match v {
                AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                AMQPValue::ShortString(s) => s.as_str().to_string(),
                AMQPValue::LongLongInt(i) => i.to_string(),
                AMQPValue::LongInt(i) => i.to_string(),
                AMQPValue::LongUInt(i) => i.to_string(),
                AMQPValue::ShortInt(i) => i.to_string(),
                AMQPValue::Boolean(b) => b.to_string(),
                _ => continue,
            };
            out.insert(k.as_str().to_string(), text);
        }
    }
    out
}

pub(crate) fn attempts(props: &BasicProperties) -> u32 {
    props
        .headers()
        .as_ref()
        .and_then(|t| t.inner().get(headers::ATTEMPTS))
        .and_then(|v| match v {
            AMQPValue::LongLongInt(i) => u32::try_from(*i).ok(),
            AMQPValue::LongInt(i) => u32::try_from(*i).ok(),
            AMQPValue::LongUInt(i) => Some(*i),
            AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?.parse().ok(),
            _ => None,
        })
        .unwrap_or(1)
}
