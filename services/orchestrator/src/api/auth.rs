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
use crate::auth::oidc::{Identity, Oidc, OidcError, metadata};
use crate::auth::tokens::TokenSet;
use crate::auth::{Actor, SharedPolicy};

/// What the authentication layer needs.
#[derive(Clone)]
pub struct Authn {
    pub tokens: Arc<TokenSet>,
    pub policy: SharedPolicy,
    /// The door the layer guards (`api` for REST, `mcp` for `/mcp`).
    pub channel: Channel,
    /// Access tokens of an OAuth issuer, beside the static tokens (`[oidc]`).
    pub oidc: Option<Arc<Oidc>>,
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

impl Authn {
    /// The actor of a person an issuer's token named: the roles the policy gives the
    /// principal and its groups.
    fn actor_for_identity(&self, id: Identity) -> Caller {
        let roles = self.policy.current().roles_of(&id.principal, &id.groups);
        Caller {
            actor: Actor {
                name: id.principal,
                via: None,
                channel: self.channel,
                roles,
                groups: id.groups,
            },
            development_token: false,
        }
    }

    fn challenge(&self, refused: Option<&str>) -> String {
        match &self.oidc {
            Some(o) => metadata::challenge(o.resource(), refused),
            None => "Bearer".into(),
        }
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
    if let (Some(oidc), Some(token)) = (&authn.oidc, presented)
        && Oidc::looks_like_jwt(token)
    {
        match oidc.verify(token).await {
            Ok(id) => {
                req.extensions_mut().insert(authn.actor_for_identity(id));
                return next.run(req).await;
            }
            Err(OidcError::Keys(_)) => {
                // Nothing can be verified while the issuer's keys cannot be had; the
                // client may retry, its token is not known to be bad.
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the token issuer's keys are unavailable; try again later",
                )
                .into_response();
            }
            Err(e) => {
                tracing::info!(reason = %e, "access token refused");
                return unauthorized(&authn, &e.to_string(), Some(&e.to_string()));
            }
        }
    }
    let message = if authn.tokens.is_empty() && authn.oidc.is_none() {
        "no API tokens are configured (set RUNBOOKS__API__TOKENS; `orchestrator token new NAME --role operator` makes one)"
    } else if presented.is_none() {
        "missing bearer token (Authorization: Bearer <token>)"
    } else {
        "invalid bearer token"
    };
    unauthorized(&authn, message, presented.map(|_| "invalid bearer token"))
}

fn unauthorized(authn: &Authn, message: &str, refused: Option<&str>) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    if let Ok(v) = authn.challenge(refused).parse() {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
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
