//! Building the events the orchestrator writes to its outbox.

use bus::OutgoingMessage;
use domain::events::AuditRecord;
use domain::{Channel, Envelope, Event};

use crate::settings::SERVICE;

/// An event ready for `store::outbox::enqueue_messages`, carrying the current trace.
pub fn message(event: impl Into<Event>) -> OutgoingMessage {
    let env = Envelope::new(SERVICE, event.into());
    let mut msg = OutgoingMessage::from_envelope(&env);
    msg.headers = bus::trace::current_headers();
    msg
}

/// Who did something, and through which door.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub channel: Channel,
}

impl Actor {
    pub fn new(name: impl Into<String>, channel: Channel) -> Self {
        Actor {
            name: name.into(),
            channel,
        }
    }

    pub fn rule(rule: &str) -> Self {
        Actor::new(format!("rule:{rule}"), Channel::Rule)
    }
}

/// `audit.<verb>` for a change made by a person or an agent.
pub fn audit(
    actor: &Actor,
    verb: &str,
    target_type: &str,
    target_id: impl ToString,
    details: Option<serde_json::Value>,
) -> OutgoingMessage {
    message(AuditRecord {
        verb: verb.to_string(),
        actor: actor.name.clone(),
        on_behalf_of: None,
        outcome: Default::default(),
        clause: None,
        channel: actor.channel,
        target_type: target_type.to_string(),
        target_id: Some(target_id.to_string()),
        details,
        at: chrono::Utc::now(),
    })
}
