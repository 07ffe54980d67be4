//! The catalog over HTTP: `GET /api/services` and `GET /api/integration-status/{service}`
//! (seed 000's zero-touch integration check).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::health::{ServiceHealthStatus, ServiceKind};
use serde::Serialize;

use super::error::{ApiError, ApiPath};
use crate::catalog::view::{self, ServiceView};
use crate::core::Core;
use crate::target::valid_service_name;

#[derive(Debug, Serialize)]
pub struct ServicesBody {
    pub checked_at: DateTime<Utc>,
    /// Up or degraded: see `summary` and each service's `status` for which are degraded.
    pub healthy_services: u32,
    pub total_services: u32,
    /// `2/5 services up · 3 degraded: runner (jenkins), … · 0 down`: never "healthy" for a
    /// degraded service.
    pub summary: String,
    pub services: Vec<ServiceView>,
}

pub async fn list(State(core): State<Core>) -> Result<Json<ServicesBody>, ApiError> {
    let catalog = view::load(&core, None).await?;
    Ok(Json(ServicesBody {
        checked_at: catalog.checked_at,
        healthy_services: catalog.healthy(),
        total_services: catalog.total(),
        summary: catalog.report().summary(),
        services: catalog.services,
    }))
}

#[derive(Debug, Serialize)]
pub struct IntegrationStatus {
    pub service: String,
    pub kind: ServiceKind,
    /// In the catalog: it heartbeated (Runbooks) or is a configured target (external).
    pub registered: bool,
    pub healthy: bool,
    pub status: ServiceHealthStatus,
    /// Every Runbooks service serves Prometheus metrics on its own `/metrics` (the runtime
    /// mounts it); for an external target nothing is known (`null`).
    pub metrics_exposed: Option<bool>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub instances: u32,
    pub instances_up: u32,
    pub versions: Vec<String>,
    pub degraded: Vec<String>,
    pub uptime_percent: view::Uptime,
}

pub async fn integration_status(
    State(core): State<Core>,
    ApiPath(service): ApiPath<String>,
) -> Result<Json<IntegrationStatus>, ApiError> {
    if !valid_service_name(&service) {
        return Err(ApiError::bad_request(
            "service: 1-64 letters, digits, `-`, `_` or `.`",
        ));
    }
    let catalog = view::load(&core, Some(&service)).await?;
    let Some(s) = catalog.get(&service) else {
        return Err(ApiError::not_found(format!(
            "no service named `{service}` has been seen"
        )));
    };
    Ok(Json(IntegrationStatus {
        service: s.service.clone(),
        kind: s.kind,
        registered: true,
        healthy: s.status.is_healthy(),
        status: s.status,
        metrics_exposed: (s.kind == ServiceKind::Runbooks).then_some(true),
        last_seen_at: s.last_seen_at,
        first_seen_at: s.first_seen_at,
        instances: s.instances_total,
        instances_up: s.instances_up,
        versions: s.versions.clone(),
        degraded: s.degraded.clone(),
        uptime_percent: s.uptime_percent,
    }))
}
