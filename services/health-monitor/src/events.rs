//! The event log: every message on `logs.events` (queue `health-monitor.events`, binding
//! `#`) lands in `system_events`, and `audit.*` records also in `audit_log`, in one
//! transaction, idempotent on the envelope id. Events of a type this build does not know
//! are stored as they are (a newer producer during a rolling upgrade); a known type with an
//! invalid payload is dead-lettered with the reason.

use bus::{HandlerError, Message};
use domain::envelope::{Decode, DecodeError, parse_payload};
use domain::events::AuditOutcome;
use domain::{Event, Severity};
use serde_json::value::RawValue;

use crate::core::Core;
use crate::error::MonitorError;
use crate::repo::events::{self, EventRow, NewEvent};

/// Longest event type accepted.
pub const MAX_TYPE_LEN: usize = 200;

/// A `logs.events` message: the decoded event when its type is known, and the payload as
/// sent (stored verbatim).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub event: Option<Event>,
    pub payload: serde_json::Value,
}

impl Decode for Incoming {
    fn decode(kind: &str, payload: &RawValue) -> Result<Self, DecodeError> {
        let value: serde_json::Value = parse_payload(kind, payload)?;
        match Event::decode(kind, payload) {
            Ok(event) => Ok(Incoming {
                event: Some(event),
                payload: value,
            }),
            Err(DecodeError::UnexpectedType(_)) => Ok(Incoming {
                event: None,
                payload: value,
            }),
            Err(e) => Err(e),
        }
    }
}

/// The severity an event is logged with.
pub fn severity(event: Option<&Event>) -> &'static str {
    let of = |s: Severity| match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warn",
        Severity::Low => "info",
    };
    match event {
        Some(Event::IncidentDetected(e)) => of(e.incident.severity),
        Some(Event::IncidentUpdated(e)) => of(e.incident.severity),
        Some(Event::ActionFailed(_)) => "error",
        Some(Event::ActionRejected(_)) => "warn",
        Some(Event::ServiceDown(_)) => "critical",
        Some(Event::Audit(a)) if a.outcome == AuditOutcome::Denied => "warn",
        _ => "info",
    }
}

pub async fn handle(core: &Core, msg: Message<Incoming>) -> Result<(), HandlerError> {
    let env = &msg.envelope;
    if env.kind.is_empty() || env.kind.len() > MAX_TYPE_LEN {
        return Err(HandlerError::reject(format!(
            "event type must be 1-{MAX_TYPE_LEN} bytes"
        )));
    }
    let new = NewEvent {
        event_id: env.id,
        event_type: env.kind.clone(),
        producer: env.producer.chars().take(200).collect(),
        severity: severity(env.payload.event.as_ref()),
        payload: env.payload.payload.clone(),
        occurred_at: env.occurred_at,
    };
    match store(core, &new, env.payload.event.as_ref()).await {
        Ok(_) => Ok(()),
        Err(e) => Err(e.into_handler_error()),
    }
}

/// Stores an event (and its audit record); `None` when it was already stored.
pub async fn store(
    core: &Core,
    new: &NewEvent,
    event: Option<&Event>,
) -> Result<Option<EventRow>, MonitorError> {
    let mut tx = core.pool.begin().await?;
    let row = events::insert(&mut tx, new).await?;
    if row.is_some()
        && let Some(Event::Audit(record)) = event
    {
        events::insert_audit(&mut tx, new.event_id, record).await?;
    }
    tx.commit().await?;
    let outcome = if row.is_some() { "stored" } else { "duplicate" };
    core.metrics.events.with_label_values(&[outcome]).inc();
    Ok(row)
}
