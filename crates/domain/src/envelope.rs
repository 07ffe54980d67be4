//! The envelope every message travels in:
//! `{id (UUIDv7), type, version, occurred_at, producer, correlation_id?, payload}`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::value::RawValue;
use uuid::Uuid;

/// Current envelope version. Consumers accept this version and older ones.
pub const ENVELOPE_VERSION: u16 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Envelope<P> {
    /// UUIDv7: sortable by creation time, also the AMQP `message_id`.
    pub id: Uuid,
    /// The message type, e.g. `incident.detected` or `log.jenkins`.
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u16,
    pub occurred_at: DateTime<Utc>,
    /// The service (or external producer) that created the message.
    pub producer: String,
    /// Ties together the messages of one conversation (a request and its reply, an incident
    /// and the actions it triggered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub payload: P,
}

/// A typed payload: it knows its message type and where it is published.
pub trait Payload: Serialize {
    /// The message type written in the envelope's `type`.
    fn kind(&self) -> String;
    /// The routing key it is published with.
    fn routing_key(&self) -> String {
        self.kind()
    }
    /// The logical exchange (before any namespace prefix).
    fn exchange(&self) -> &'static str;
}

impl<P> Envelope<P> {
    /// A new envelope with a fresh UUIDv7 and the current time.
    pub fn with_kind(kind: impl Into<String>, producer: impl Into<String>, payload: P) -> Self {
        Envelope {
            id: Uuid::now_v7(),
            kind: kind.into(),
            version: ENVELOPE_VERSION,
            occurred_at: Utc::now(),
            producer: producer.into(),
            correlation_id: None,
            payload,
        }
    }

    pub fn correlated(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> Envelope<Q> {
        Envelope {
            id: self.id,
            kind: self.kind,
            version: self.version,
            occurred_at: self.occurred_at,
            producer: self.producer,
            correlation_id: self.correlation_id,
            payload: f(self.payload),
        }
    }
}

impl<P: Payload> Envelope<P> {
    pub fn new(producer: impl Into<String>, payload: P) -> Self {
        Envelope::with_kind(payload.kind(), producer, payload)
    }
}

impl<P: Serialize> Envelope<P> {
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising our own types to a Vec cannot fail: no maps with non-string keys.
        serde_json::to_vec(self).expect("envelope serialises")
    }
}

/// Why a message body could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("body is not a valid envelope: {0}")]
    Envelope(String),
    #[error("envelope version {0} is newer than supported ({ENVELOPE_VERSION})")]
    Version(u16),
    #[error("unexpected message type `{0}`")]
    UnexpectedType(String),
    #[error("invalid `{kind}` payload: {reason}")]
    Payload { kind: String, reason: String },
}

/// Decodes a payload given the envelope's type. Implemented by every payload the bus can
/// deliver, by [`crate::Event`] and [`crate::LogRecord`] (which dispatch on the type) and by
/// `serde_json::Value` (which accepts anything).
pub trait Decode: Sized {
    fn decode(kind: &str, payload: &RawValue) -> Result<Self, DecodeError>;
}

impl Decode for serde_json::Value {
    fn decode(kind: &str, payload: &RawValue) -> Result<Self, DecodeError> {
        parse_payload(kind, payload)
    }
}

/// Parses a payload of a known type, turning serde's error into a [`DecodeError`].
pub fn parse_payload<T: DeserializeOwned>(
    kind: &str,
    payload: &RawValue,
) -> Result<T, DecodeError> {
    serde_json::from_str(payload.get()).map_err(|e| DecodeError::Payload {
        kind: kind.to_string(),
        reason: e.to_string(),
    })
}

/// Parses a whole message body into an envelope of `T`.
pub fn decode_envelope<T: Decode>(body: &[u8]) -> Result<Envelope<T>, DecodeError> {
    let raw: Envelope<Box<RawValue>> =
        serde_json::from_slice(body).map_err(|e| DecodeError::Envelope(e.to_string()))?;
    if raw.version > ENVELOPE_VERSION {
        return Err(DecodeError::Version(raw.version));
    }
    let payload = T::decode(&raw.kind, &raw.payload)?;
    Ok(raw.map(|_| payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip_keeps_every_field() {
        let env =
            Envelope::with_kind("x.y", "tests", serde_json::json!({"a": 1})).correlated("c-1");
        let back: Envelope<serde_json::Value> = decode_envelope(&env.to_json()).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.id.get_version_num(), 7);
    }

    #[test]
    fn garbage_and_future_versions_are_rejected() {
        assert!(matches!(
            decode_envelope::<serde_json::Value>(b"not json"),
            Err(DecodeError::Envelope(_))
        ));
        let mut env = Envelope::with_kind("x", "t", serde_json::json!({}));
        env.version = ENVELOPE_VERSION + 1;
        assert_eq!(
            decode_envelope::<serde_json::Value>(&env.to_json()),
            Err(DecodeError::Version(ENVELOPE_VERSION + 1))
        );
    }

    #[test]
    fn wire_names_follow_the_design() {
        let env = Envelope::with_kind("k", "p", 1u8);
        let v: serde_json::Value = serde_json::from_slice(&env.to_json()).unwrap();
        for key in [
            "id",
            "type",
            "version",
            "occurred_at",
            "producer",
            "payload",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert!(v.get("correlation_id").is_none());
    }
}
