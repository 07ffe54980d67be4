//! Metrics, two audiences on one path:
//! - `GET /metrics` stays the process's Prometheus exposition (like every service) for
//!   scrapers and anything that does not ask for JSON; with `Accept: application/json`
//!   (or `?format=json`) it answers the seed's JSON (`healthy_services`, `total_services`,
//!   `events_count`, `audits_count`, `uptime_percent`);
//! - `GET /metrics/prometheus` is the fleet in Prometheus text (`runbooks_healthy_services`
//!   ...), computed from the database so every replica answers the same.

use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, Gauge, GaugeVec, IntCounter, IntGauge, Opts, Registry, TextEncoder};
use serde_json::json;

use super::error::ApiError;
use crate::catalog::view;
use crate::core::Core;
use crate::metrics::MonitorMetrics;
use crate::repo::events;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether the client prefers JSON: `?format=json`, or `application/json` in `Accept` with a
/// quality at least that of every text format it lists. Prometheus sends only text formats
/// (and `*/*` at a lower quality), so a scraper always gets the exposition.
pub fn wants_json(req: &Request) -> bool {
    if let Some(q) = req.uri().query()
        && q.split('&').any(|p| p == "format=json")
    {
        return true;
    }
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (mut json_q, mut text_q) = (0.0f32, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|v| v.parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/json" => json_q = json_q.max(q),
            "text/plain" | "text/*" | "application/openmetrics-text" => text_q = text_q.max(q),
            _ => {}
        }
    }
    json_q > 0.0 && json_q >= text_q
}

/// Serves the JSON on `GET /metrics` when asked for, and marks every `/metrics` answer as
/// depending on `Accept`.
pub async fn negotiate(State(core): State<Core>, req: Request, next: Next) -> Response {
    if req.uri().path() != "/metrics" || req.method() != Method::GET {
        return next.run(req).await;
    }
    let mut resp = if wants_json(&req) {
        match json_metrics(&core).await {
            Ok(body) => Json(body).into_response(),
            Err(e) => e.into_response(),
        }
    } else {
        next.run(req).await
    };
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    resp
}

async fn json_metrics(core: &Core) -> Result<serde_json::Value, ApiError> {
    let catalog = view::load(core, None).await?;
    let (events, audits) = events::totals(&core.pool).await?;
    let services: serde_json::Map<String, serde_json::Value> = catalog
        .services
        .iter()
        .map(|s| {
            (
                s.service.clone(),
                json!({"kind": s.kind, "status": s.status, "uptime_percent": s.uptime_percent}),
            )
        })
        .collect();
    Ok(json!({
        "healthy_services": catalog.healthy(),
        "total_services": catalog.total(),
        "events_count": events,
        "audits_count": audits,
        "uptime_percent": catalog.uptime_percent_24h(),
        "checked_at": catalog.checked_at,
        "services": services,
    }))
}

/// `GET /metrics/prometheus`.
pub async fn prometheus(State(core): State<Core>) -> Result<Response, ApiError> {
    let catalog = view::load(&core, None).await?;
    let (events, audits) = events::totals(&core.pool).await?;
    let registry = Registry::new();
    let gauge = |name: &str, help: &str, v: i64| {
        let g = IntGauge::new(name, help).expect("valid gauge");
        g.set(v);
        registry.register(Box::new(g)).expect("registered once");
    };
    gauge(
        "runbooks_healthy_services",
        "Monitored services up or degraded.",
        catalog.healthy().into(),
    );
    gauge(
        "runbooks_total_services",
        "Monitored services (stopped ones excluded).",
        catalog.total().into(),
    );
    let counter = |name: &str, help: &str, v: i64| {
        let c = IntCounter::new(name, help).expect("valid counter");
        c.inc_by(v.max(0) as u64);
        registry.register(Box::new(c)).expect("registered once");
    };
    counter(
        "runbooks_events_total",
        "Events recorded in the event log.",
        events,
    );
    counter(
        "runbooks_audits_total",
        "Entries recorded in the audit trail.",
        audits,
    );
    if let Some(p) = catalog.uptime_percent_24h() {
        let g = Gauge::new(
            "runbooks_uptime_percent",
            "Share of all services' checks that were up over the last 24 hours, in percent.",
        )
        .expect("valid gauge");
        g.set(p);
        registry.register(Box::new(g)).expect("registered once");
    }
    let up = GaugeVec::new(
        Opts::new(
            "runbooks_service_up",
            "1 when the service is up or degraded, 0 when down, stopped or not probed yet.",
        ),
        &["service", "kind"],
    )
    .expect("valid gauge");
    let uptime = GaugeVec::new(
        Opts::new(
            "runbooks_service_uptime_percent",
            "Share of the service's checks that were up over the window, in percent.",
        ),
        &["service", "kind", "window"],
    )
    .expect("valid gauge");
    for s in &catalog.services {
        let kind = s.kind.as_str();
        up.with_label_values(&[s.service.as_str(), kind])
            .set(if s.status.is_healthy() { 1.0 } else { 0.0 });
        for (window, value) in [
            ("1h", s.uptime_percent.h1),
            ("24h", s.uptime_percent.h24),
            ("7d", s.uptime_percent.d7),
        ] {
            if let Some(v) = value {
                uptime
                    .with_label_values(&[s.service.as_str(), kind, window])
                    .set(v);
            }
        }
    }
    registry.register(Box::new(up)).expect("registered once");
    registry
        .register(Box::new(uptime))
        .expect("registered once");
    let mut buf = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buf)
        .expect("text encoding");
    Ok(([(header::CONTENT_TYPE, TEXT_FORMAT)], buf).into_response())
}

/// Counts requests and their latency by route template (never the raw path: bounded
/// cardinality whatever clients send).
pub async fn record_http(State(m): State<MonitorMetrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    m.http_requests
        .with_label_values(&[method.as_str(), route.as_str(), resp.status().as_str()])
        .inc();
    m.http_seconds
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn req(uri: &str, accept: Option<&str>) -> Request {
        let mut b = axum::http::Request::get(uri);
        if let Some(a) = accept {
            b = b.header(header::ACCEPT, a);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn scrapers_get_text_and_json_clients_json() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert!(!wants_json(&req("/metrics", Some(prometheus))));
        assert!(!wants_json(&req("/metrics", None)));
        assert!(!wants_json(&req("/metrics", Some("*/*"))));
        assert!(!wants_json(&req(
            "/metrics",
            Some("text/html,application/xhtml+xml,*/*;q=0.8")
        )));
        assert!(wants_json(&req("/metrics", Some("application/json"))));
        assert!(wants_json(&req(
            "/metrics",
            Some("application/json, text/plain;q=0.5")
        )));
        assert!(!wants_json(&req(
            "/metrics",
            Some("text/plain, application/json;q=0.5")
        )));
        assert!(!wants_json(&req("/metrics", Some("application/json;q=0"))));
        assert!(wants_json(&req("/metrics?format=json", None)));
    }
}
