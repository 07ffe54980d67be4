//! Who may register events: `POST /events` needs `Authorization: Bearer <token>` with a
//! token from `events.producers`, and the event's producer is the name that token belongs
//! to — never what the body says. Tokens are compared as digests, in constant time, every
//! configured one each time.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::settings::EventSettings;

/// The configured producers, tokens kept as digests.
pub struct Producers {
    by_digest: Vec<(String, [u8; 32])>,
}

fn digest(s: &[u8]) -> [u8; 32] {
    Sha256::digest(s).into()
}

/// Why a request may not register events.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No producer is configured: registration is off.
    Off,
    Missing,
    Invalid,
}

impl Producers {
    pub fn new(s: &EventSettings) -> Producers {
        Producers {
            by_digest: s
                .producers
                .iter()
                .map(|(name, token)| (name.clone(), digest(token.expose().as_bytes())))
                .collect(),
        }
    }

    /// The producer the request's bearer token belongs to.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<&str, Refused> {
        if self.by_digest.is_empty() {
            return Err(Refused::Off);
        }
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .ok_or(Refused::Missing)?;
        let presented = digest(token.as_bytes());
        let mut found = None;
        for (name, d) in &self.by_digest {
            if bool::from(d.ct_eq(&presented)) && found.is_none() {
                found = Some(name.as_str());
            }
        }
        found.ok_or(Refused::Invalid)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Refused::Off => (
                StatusCode::SERVICE_UNAVAILABLE,
                "event_registration_off",
                "event registration is off: no producer is configured (events.producers)",
            ),
            Refused::Missing => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a producer token is required (Authorization: Bearer <token>)",
            ),
            Refused::Invalid => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the producer token is not valid",
            ),
        };
        let mut resp = ApiError::new(status, code, message).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"runbooks health-monitor events\""),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producers() -> Producers {
        let mut s = EventSettings::default();
        s.producers
            .insert("deploy-bot".into(), "0123456789abcdef-deploy".into());
        s.producers
            .insert("orchestrator".into(), "0123456789abcdef-orch".into());
        Producers::new(&s)
    }

    fn bearer(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(t).unwrap());
        h
    }

    #[test]
    fn the_token_names_the_producer() {
        let p = producers();
        assert_eq!(
            p.authenticate(&bearer("Bearer 0123456789abcdef-orch")),
            Ok("orchestrator")
        );
        assert_eq!(
            p.authenticate(&bearer("bearer 0123456789abcdef-deploy")),
            Ok("deploy-bot")
        );
        assert_eq!(
            p.authenticate(&bearer("Bearer 0123456789abcdef-orc")),
            Err(Refused::Invalid)
        );
        assert_eq!(
            p.authenticate(&bearer("Basic 0123456789abcdef-orch")),
            Err(Refused::Missing)
        );
        assert_eq!(p.authenticate(&HeaderMap::new()), Err(Refused::Missing));
        let off = Producers::new(&EventSettings::default());
        assert_eq!(
            off.authenticate(&bearer("Bearer 0123456789abcdef-orch")),
            Err(Refused::Off)
        );
    }
}
