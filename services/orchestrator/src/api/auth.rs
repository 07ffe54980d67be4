//! Bearer-token authentication of `/api` and `/mcp`: the token decides the principal and
//! its roles; handlers receive the [`Caller`] and never read identity from a body.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::Channel;

use super::error::ApiError;
use crate::auth::tokens::TokenSet;
use crate::auth::{Actor, SharedPolicy};

/// What the authentication layer needs.
#[derive(Clone)]
pub struct Authn {
    pub tokens: Arc<TokenSet>,
    pub policy: SharedPolicy,
    /// The door the layer guards (`api` for REST, `mcp` for `/mcp`).
    pub channel: Channel,
}

/// The authenticated caller of a request, put there by [`require_token`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub development_token: bool,
}

impl Authn {
    /// The actor a presented bearer token stands for: the token's name and roles, plus
    /// the roles the policy maps to that name.
    pub fn actor_for(&self, presented: &str) -> Option<Caller> {
        let entry = self.tokens.find(presented)?;
        let mut roles = entry.roles.clone();
        roles.extend(&self.policy.current().roles_of(&entry.name, &[]));
        Some(Caller {
            actor: Actor {
                name: entry.name.clone(),
                via: None,
                channel: self.channel,
                roles,
                groups: Vec::new(),
            },
            development_token: entry.bare,
        })
    }
}

pub fn bearer(parts: &axum::http::HeaderMap) -> Option<&str> {
    parts
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

pub async fn require_token(State(authn): State<Authn>, mut req: Request, next: Next) -> Response {
    let presented = bearer(req.headers());
    if let Some(caller) = presented.and_then(|p| authn.actor_for(p)) {
        req.extensions_mut().insert(caller);
        return next.run(req).await;
    }
    let message = if authn.tokens.is_empty() {
        "no API tokens are configured (set RUNBOOKS__API__TOKENS; `orchestrator token new NAME --role operator` makes one)"
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

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "not authenticated",
            )
        })
    }
}
