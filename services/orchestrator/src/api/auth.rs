//! Bearer-token authentication of `/api` and `/mcp`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

#[derive(Clone)]
pub struct Tokens(pub Arc<Vec<String>>);

/// Compares in time independent of where the strings differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn require_token(State(tokens): State<Tokens>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let ok = match presented {
        Some(p) => tokens.0.iter().any(|t| same(t.as_bytes(), p.as_bytes())),
        None => false,
    };
    if ok {
        return next.run(req).await;
    }
    let message = if tokens.0.is_empty() {
        "no API tokens are configured (set RUNBOOKS__API__TOKENS)"
    } else if presented.is_none() {
        "missing bearer token (Authorization: Bearer <token>)"
    } else {
        "invalid bearer token"
    };
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        "Bearer".parse().expect("static header"),
    );
    resp
}
