//! The HTTP bridge (port 3001): REST under `/api`, direct log ingest under `/mcp/logs`,
//! the OpenAPI document, all behind bearer tokens.

pub mod auth;
pub mod bodies;
mod error;
pub mod openapi;
pub mod routes;
mod runbooks;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router, middleware};

pub use error::ApiError;

use crate::services::Services;

/// Every route of the table plus `/api/openapi.json` (open, so tools can discover the API),
/// behind `authn` (its channel is set to `api`).
pub fn router(services: Services, authn: auth::Authn, body_limit: usize) -> Router {
    let authn = auth::Authn {
        channel: domain::Channel::Api,
        ..authn
    };
    let authn_oidc = authn.oidc.clone();
    let table = routes::table();
    let doc = Arc::new(openapi::document(&table));
    let mut protected: Router<Services> = Router::new();
    for r in table {
        protected = protected.route(r.path, r.handler);
    }
    let protected = protected
        .layer(middleware::from_fn_with_state(authn, auth::require_token))
        .layer(DefaultBodyLimit::max(body_limit));
    let mut open = Router::new().route(
        "/api/openapi.json",
        get(move || async move { Json((*doc).clone()) }),
    );
    // Where an MCP client learns which issuer to get a token from (RFC 9728); open.
    if let Some(o) = &authn_oidc {
        let meta = Arc::new(crate::auth::oidc::metadata::document(
            o.resource(),
            o.issuer(),
        ));
        for path in crate::auth::oidc::metadata::paths_of(o.resource()) {
            let meta = meta.clone();
            open = open.route(&path, get(move || async move { Json((*meta).clone()) }));
        }
    }
    open.merge(protected)
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such route",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .with_state(services)
}
