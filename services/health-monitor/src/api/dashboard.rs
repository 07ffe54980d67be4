//! `GET /`: one server-rendered page (askama, auto-escaped) with every service, the open
//! incidents (asked of the orchestrator over the bus), recent events and audit entries. It
//! reloads itself, loads nothing from elsewhere (inline CSS, no script) and forbids it with
//! a Content-Security-Policy.

use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::commands::{Command, IncidentFilter};

use super::error::ApiError;
use crate::catalog::view::{self, ServiceView};
use crate::core::Core;
use crate::repo::events::{self, AuditFilter, EventFilter};

const RECENT: i64 = 15;
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub struct ServiceLine {
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub instances: String,
    pub versions: String,
    pub last_seen: String,
    pub uptime_1h: String,
    pub uptime_24h: String,
    pub uptime_7d: String,
    pub degraded: String,
    pub detail: String,
}

pub struct IncidentLine {
    pub id: i64,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub target: String,
    pub occurrences: i64,
    pub detected: String,
}

pub struct EventLine {
    pub at: String,
    pub kind: String,
    pub severity: String,
    pub producer: String,
}

pub struct AuditLine {
    pub at: String,
    pub verb: String,
    pub actor: String,
    pub channel: String,
    pub outcome: String,
    pub target: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct Dashboard {
    pub refresh_secs: u64,
    pub checked_at: String,
    pub healthy: u32,
    pub total: u32,
    /// What is up, degraded and down, by name.
    pub summary: String,
    pub uptime: String,
    pub services: Vec<ServiceLine>,
    pub incidents: Vec<IncidentLine>,
    pub incidents_total: i64,
    /// Why incidents are not shown, when the orchestrator did not answer.
    pub incidents_unavailable: Option<String>,
    pub events: Vec<EventLine>,
    pub audits: Vec<AuditLine>,
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "—".into(), |p| format!("{p:.2} %"))
}

fn line(s: &ServiceView) -> ServiceLine {
    let detail = match &s.probe {
        Some(p) => p
            .last_check
            .as_ref()
            .and_then(|c| c.get("error").and_then(|e| e.as_str()))
            .map(str::to_string)
            .unwrap_or_default(),
        None if !s.not_ready.is_empty() => format!("not ready: {}", s.not_ready.join(", ")),
        None => String::new(),
    };
    ServiceLine {
        name: s.service.clone(),
        kind: s.kind.as_str(),
        status: s.status.as_str(),
        instances: format!("{}/{}", s.instances_up, s.instances_total),
        versions: s.versions.join(", "),
        last_seen: s.last_seen_at.map_or_else(|| "never".into(), when),
        uptime_1h: percent(s.uptime_percent.h1),
        uptime_24h: percent(s.uptime_percent.h24),
        uptime_7d: percent(s.uptime_percent.d7),
        degraded: s.degraded.join(", "),
        detail,
    }
}

/// Open (and acknowledged, still unresolved) incidents, or why they are not available.
async fn incidents(core: &Core) -> Result<(Vec<IncidentLine>, i64), String> {
    let timeout = Duration::from_millis(core.settings.dashboard.incidents_timeout_ms);
    let filter = IncidentFilter {
        status: Some("active".into()),
        limit: Some(20),
        ..IncidentFilter::default()
    };
    let request = serde_json::to_value(&filter).map_err(|e| e.to_string())?;
    let reply = core
        .bus
        .request_with_timeout(IncidentFilter::KEY, request, timeout)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "open incidents not available");
            "incidents unavailable: the orchestrator did not answer".to_string()
        })?;
    let data = reply
        .into_result()
        .map_err(|e| format!("incidents unavailable: {}", e.message))?;
    let page: <IncidentFilter as Command>::Reply = serde_json::from_value(data)
        .map_err(|e| format!("incidents unavailable: unexpected answer ({e})"))?;
    let lines = page
        .items
        .into_iter()
        .map(|i| IncidentLine {
            id: i.id,
            severity: i.severity,
            status: i.status,
            title: i.title,
            target: i.job_name.or(i.service).unwrap_or_default(),
            occurrences: i.occurrences,
            detected: when(i.detected_at),
        })
        .collect();
    Ok((lines, page.total))
}

pub async fn page(State(core): State<Core>) -> Result<Response, ApiError> {
    let (catalog, incidents) = tokio::join!(view::load(&core, None), incidents(&core));
    let catalog = catalog?;
    let recent_events = events::list(
        &core.pool,
        &EventFilter {
            limit: RECENT,
            ..EventFilter::default()
        },
    )
    .await?;
    let recent_audits = events::list_audit(
        &core.pool,
        &AuditFilter {
            limit: RECENT,
            ..AuditFilter::default()
        },
    )
    .await?;
    let (incident_lines, incidents_total, incidents_unavailable) = match incidents {
        Ok((lines, total)) => (lines, total, None),
        Err(why) => (Vec::new(), 0, Some(why)),
    };
    let page = Dashboard {
        refresh_secs: core.settings.dashboard.refresh_secs,
        checked_at: when(catalog.checked_at),
        healthy: catalog.healthy(),
        total: catalog.total(),
        summary: catalog.report().summary(),
        uptime: percent(catalog.uptime_percent_24h()),
        services: catalog.services.iter().map(line).collect(),
        incidents: incident_lines,
        incidents_total,
        incidents_unavailable,
        events: recent_events
            .into_iter()
            .map(|e| EventLine {
                at: when(e.occurred_at),
                kind: e.event_type,
                severity: e.severity,
                producer: e.producer,
            })
            .collect(),
        audits: recent_audits
            .into_iter()
            .map(|a| AuditLine {
                at: when(a.occurred_at),
                verb: a.verb,
                actor: match a.on_behalf_of {
                    Some(user) => format!("{} for {user}", a.actor),
                    None => a.actor,
                },
                channel: a.channel,
                outcome: a.outcome,
                target: match a.target_id {
                    Some(id) => format!("{} {id}", a.target_type),
                    None => a.target_type,
                },
            })
            .collect(),
    };
    let html = page.render().map_err(|e| {
        tracing::error!(error = %e, "dashboard template failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the dashboard could not be rendered",
        )
    })?;
    let mut resp = Html(html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}
