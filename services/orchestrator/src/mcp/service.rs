//! Operations only MCP offers (for now), in the service layer's style: authorize, then the
//! bus.

use std::time::Duration;

use domain::commands::{Command, ErrorCode};
use domain::health::{HealthStatusReport, HealthStatusRequest};

use crate::auth::{Actor, Op};
use crate::error::ServiceError;
use crate::services::Services;

/// Asks the health monitor (`command.health.status`) for its report.
pub async fn service_health(
    s: &Services,
    bus: &bus::Bus,
    actor: &Actor,
    req: &HealthStatusRequest,
    timeout: Duration,
) -> Result<HealthStatusReport, ServiceError> {
    s.authz.authorize(actor, Op::Read, "health", None).await?;
    let asked = HealthStatusRequest {
        service: req.check()?.map(str::to_string),
    };
    let payload = serde_json::to_value(&asked).unwrap_or_default();
    let reply = bus
        .request_with_timeout(HealthStatusRequest::KEY, payload, timeout)
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
    let data = reply.into_result().map_err(|e| match e.code {
        ErrorCode::NotFound => ServiceError::NotFound(e.message),
        ErrorCode::BadRequest => ServiceError::BadRequest(e.message),
        _ => ServiceError::Unavailable(format!("the health monitor answered: {}", e.message)),
    })?;
    serde_json::from_value(data).map_err(|e| {
        ServiceError::Unavailable(format!(
            "the health monitor's answer was not understood: {e}"
        ))
    })
}
