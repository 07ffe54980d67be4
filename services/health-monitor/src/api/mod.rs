//! The health-monitor's HTTP side (port 5050).
//!
//! | route | auth |
//! |---|---|
//! | `GET /` dashboard, `GET /check-services`, `GET /audit` | basic |
//! | `/console/...` the operator console ([`crate::console`]) | a person's own API token, session cookie |
//! | `POST /events` | bearer token of a producer (`events.producers`) |
//! | `GET /events`, `GET /metrics` (JSON on request), `GET /metrics/prometheus`, `GET /api/services`, `GET /api/integration-status/{service}` | none |

pub mod auth;
pub mod check;
pub mod dashboard;
mod error;
pub mod events;
pub mod metrics;
pub mod producers;
pub mod services;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router, middleware};

pub use error::ApiError;

use crate::core::Core;

/// The health-monitor's own routes.
pub fn router(core: Core) -> Router {
    let auth = Arc::new(auth::Auth::new(
        &core.settings.dashboard,
        core.metrics.clone(),
    ));
    let protected = Router::new()
        .route("/", get(dashboard::page))
        .route("/check-services", get(check::check_services))
        .route("/audit", get(events::audit))
        .route_layer(middleware::from_fn_with_state(auth, auth::require));
    let body_limit = core.settings.events.body_limit_bytes;
    let producers = Arc::new(producers::Producers::new(&core.settings.events));
    Router::new()
        .route(
            "/events",
            get(events::list)
                .post(events::create)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/metrics/prometheus", get(metrics::prometheus))
        .route("/api/services", get(services::list))
        .route(
            "/api/integration-status/{service}",
            get(services::integration_status),
        )
        .merge(protected)
        .merge(crate::console::router(core.clone()))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .with_state(core)
        .layer(Extension(producers))
}

/// Middleware around every route, `/health`, `/ready` and `/metrics` included: JSON on
/// `/metrics` when asked for, request metrics by route, and CORS for the allowed origins.
pub fn wrap(core: Core) -> impl FnOnce(Router) -> Router + Send + 'static {
    move |router: Router| {
        let cors = crate::cors::layer(&core.settings.dashboard.cors_origins);
        let router = router
            .layer(middleware::from_fn_with_state(
                core.clone(),
                metrics::negotiate,
            ))
            .layer(middleware::from_fn_with_state(
                core.metrics.clone(),
                metrics::record_http,
            ));
        match cors {
            Some(layer) => router.layer(layer),
            None => router,
        }
    }
}
