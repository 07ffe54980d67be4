//! Operations only MCP offers (for now), in the service layer's style: authorize, then the
//! repository or the bus.

use std::time::Duration;

use domain::commands::key;

use crate::auth::{Actor, Op};
use crate::core::Core;
use crate::error::ServiceError;
use crate::repo::related::{self, RelatedIncident};

impl Core {
    /// Incidents with the same fingerprint, a similar error text or a similar title, best first.
    pub async fn related_incidents(
        &self,
        actor: &Actor,
        id: i64,
        limit: i64,
    ) -> Result<Vec<RelatedIncident>, ServiceError> {
        self.authorize(actor, Op::Read, "incident", Some(id.to_string()))
            .await?;
        let incident = crate::repo::incidents::get(&self.pool, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("incident {id} not found")))?;
        let subject = related::Subject {
            id,
            fingerprint: &incident.fingerprint,
            title: &incident.title,
            signature: &incident.signature,
            threshold: self.settings.incidents.similarity_threshold,
        };
        related::related(&self.pool, &subject, limit).await
    }
}

/// Asks the health monitor (`command.health.status`) for its report.
pub async fn service_health(
    core: &Core,
    bus: &bus::Bus,
    actor: &Actor,
    service: Option<&str>,
    timeout: Duration,
) -> Result<serde_json::Value, ServiceError> {
    core.authorize(actor, Op::Read, "health", None).await?;
    if let Some(s) = service
        && (s.trim().is_empty() || s.chars().count() > 128 || s.chars().any(char::is_control))
    {
        return Err(ServiceError::Invalid {
            field: "service".into(),
            message: "service must be 1..=128 characters without control characters".into(),
        });
    }
    let payload = match service {
        Some(s) => serde_json::json!({"service": s.trim()}),
        None => serde_json::json!({}),
    };
    let reply = bus
        .request_with_timeout(key::HEALTH_STATUS, payload, timeout)
        .await
        .map_err(|e| match e {
            bus::BusError::RpcTimeout { .. } | bus::BusError::Unroutable { .. } => {
                ServiceError::Unavailable(format!(
                    "the health monitor did not answer within {} ms; it may not be running",
                    timeout.as_millis()
                ))
            }
            other => {
                tracing::warn!(error = %other, "health status request failed");
                ServiceError::Unavailable(
                    "the request could not reach the health monitor (broker unavailable)".into(),
                )
            }
        })?;
    reply.into_result().map_err(|e| match e.code {
        domain::commands::ErrorCode::NotFound => ServiceError::NotFound(e.message),
        domain::commands::ErrorCode::BadRequest => ServiceError::BadRequest(e.message),
        _ => ServiceError::Unavailable(format!("the health monitor answered: {}", e.message)),
    })
}
