//! Building the events the orchestrator writes to its outbox.

use bus::OutgoingMessage;
use chrono::Utc;
use domain::commands::Incident;
use domain::events::{AUDIT_DENIED, AuditOutcome, AuditRecord, IncidentResolved};
use domain::{Envelope, Event, ResolutionMethod};

use crate::settings::SERVICE;

/// An event ready for `store::outbox::enqueue_messages`, carrying the current trace.
pub fn message(event: impl Into<Event>) -> OutgoingMessage {
    let env = Envelope::new(SERVICE, event.into());
    let mut msg = OutgoingMessage::from_envelope(&env);
    msg.headers = bus::trace::current_headers();
    msg
}

pub use crate::auth::Actor;

/// `incident.resolved` for a row a resolution returned (by a person, a recovery rule or an
/// action's completion: the row says who and how).
pub fn incident_resolved(row: &Incident, action_id: Option<i64>) -> OutgoingMessage {
    message(IncidentResolved {
        incident: row.summary(),
        resolved_by: row.resolved_by.clone().unwrap_or_default(),
        resolved_at: row.resolved_at.unwrap_or_else(Utc::now),
        resolution_method: row.resolution_method().unwrap_or(ResolutionMethod::Manual),
        mttr_seconds: row.mttr_seconds.unwrap_or_default(),
        action_id,
    })
}

/// `audit.<verb>` for a change made by a person, a rule or an agent, with the clause that
/// allowed it.
pub fn audit(
    actor: &Actor,
    verb: &str,
    target_type: &str,
    target_id: impl ToString,
    details: Option<serde_json::Value>,
) -> OutgoingMessage {
    audit_with(
        actor,
        verb,
        target_type,
        Some(target_id.to_string()),
        details,
        None,
    )
}

/// [`audit`] naming the policy clause (or role rule) that allowed the change.
pub fn audit_with(
    actor: &Actor,
    verb: &str,
    target_type: &str,
    target_id: Option<String>,
    details: Option<serde_json::Value>,
    clause: Option<&str>,
) -> OutgoingMessage {
    message(AuditRecord {
        verb: verb.to_string(),
        actor: actor.authenticated().to_string(),
        on_behalf_of: actor.on_behalf_of().map(str::to_string),
        outcome: AuditOutcome::Allowed,
        clause: clause.map(str::to_string),
        channel: actor.channel,
        target_type: target_type.to_string(),
        target_id,
        details,
        at: chrono::Utc::now(),
    })
}

/// `audit.denied`: a refused attempt, with what was tried and why.
pub fn audit_denied(
    actor: &Actor,
    attempted: &str,
    target_type: &str,
    target_id: Option<String>,
    denial: &crate::auth::Denial,
) -> OutgoingMessage {
    message(AuditRecord {
        verb: AUDIT_DENIED.to_string(),
        actor: actor.authenticated().to_string(),
        on_behalf_of: actor.on_behalf_of().map(str::to_string),
        outcome: AuditOutcome::Denied,
        clause: Some(denial.clause.clone()),
        channel: actor.channel,
        target_type: target_type.to_string(),
        target_id,
        details: Some(serde_json::json!({
            "attempted": attempted,
            "reason": denial.message,
            "missing_role": denial.missing_role,
            "roles": actor.roles.to_string(),
        })),
        at: chrono::Utc::now(),
    })
}
