//! Push paths next to tailing: Jenkins and GitHub webhooks, NDJSON ingest. Each publishes
//! with confirms before answering, so a 2xx means the broker has the records.

mod auth;
mod github;
mod ingest;
mod jenkins;
mod scm;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bus::Bus;
use domain::LogRecord;
use serde_json::{Value, json};

use crate::metrics::ListenerMetrics;
use crate::publish;
use crate::settings::{Secret, WebhookSettings};

pub use auth::github_signature;

#[derive(Clone)]
pub struct HttpState {
    pub bus: Bus,
    pub metrics: ListenerMetrics,
    pub webhooks: Arc<WebhookSettings>,
    pub ingest_token: Secret,
    pub body_limit: usize,
}

pub fn router(state: HttpState) -> Router {
    let limit = state.body_limit;
    Router::new()
        .route("/webhooks/jenkins", post(jenkins::handle))
        .route("/webhooks/github", post(github::handle))
        .route("/ingest/{source}", post(ingest::handle))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

pub use runtime::http::ApiError;

/// The `outcome` label of the request metric.
pub fn outcome(e: &ApiError) -> &'static str {
    match e.status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::NOT_FOUND => "not_found",
        _ => "invalid",
    }
}

/// The body, or 413 when it is over `http.body_limit_bytes`.
pub fn body(b: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    b.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("body larger than {limit} bytes"),
            )
        } else {
            ApiError::bad_request(r.body_text())
        }
    })
}

pub fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))
}

/// Publishes a webhook's records; 422 naming the field when one breaks a limit the
/// orchestrator would refuse it for (`LogRecord::validate`, the same check), before anything
/// is published; 503 when the broker did not confirm them all (the sender retries, and
/// source ids make the retry harmless).
pub async fn publish_or_503(
    state: &HttpState,
    path: &'static str,
    records: Vec<LogRecord>,
) -> Result<usize, ApiError> {
    for r in &records {
        r.validate().map_err(|e| {
            ApiError::field(
                e.field,
                format!("{e}: the record would not be stored, nothing was published"),
            )
        })?;
    }
    let sources: Vec<&'static str> = records.iter().map(|r| r.source().as_str()).collect();
    let results = publish::publish_records(&state.bus, records).await;
    let mut failure = None;
    for (source, r) in sources.iter().zip(&results) {
        match r {
            Ok(()) => state
                .metrics
                .published
                .with_label_values(&[source, path])
                .inc(),
            Err(e) => {
                state
                    .metrics
                    .publish_failures
                    .with_label_values(&[source])
                    .inc();
                failure.get_or_insert(e.to_string());
            }
        }
    }
    match failure {
        None => Ok(results.len()),
        Some(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the broker did not confirm the records, retry: {e}"),
        )),
    }
}

/// Counts the request and turns the outcome into a response.
pub fn finish(
    state: &HttpState,
    endpoint: &'static str,
    result: Result<(StatusCode, &'static str, Value), ApiError>,
) -> Response {
    let (outcome, resp) = match result {
        Ok((status, outcome, body)) => (outcome, (status, axum::Json(body)).into_response()),
        Err(e) => (outcome(&e), e.into_response()),
    };
    state
        .metrics
        .webhook_requests
        .with_label_values(&[endpoint, outcome])
        .inc();
    resp
}

pub fn published(n: usize) -> (StatusCode, &'static str, Value) {
    (
        StatusCode::ACCEPTED,
        "published",
        json!({"status": "published", "published": n}),
    )
}

pub fn ignored(reason: impl Into<String>) -> (StatusCode, &'static str, Value) {
    (
        StatusCode::ACCEPTED,
        "ignored",
        json!({"status": "ignored", "reason": reason.into()}),
    )
}
