//! Per-user identity for HTTP clients: the orchestrator as an OAuth 2.1 resource server.
//! An access token from the configured issuer (Keycloak, Dex, Auth0, …) is a JWT; it is
//! accepted when its signature verifies with one of the issuer's published keys and it was
//! issued for this server (`aud` = the resource URL, RFC 8707) and is in date. The principal
//! is `oidc:<claim>` (the subject by default, or the e-mail), the groups claim becomes
//! `oidc-group:<name>` entries, and the policy maps both to roles like any other principal.
//! Static bearer tokens keep working beside it.
//!
//! - [`jwt`]: the pure checks; [`jwks`]: the issuer's keys, fetched and cached.
//! - [`metadata`]: `/.well-known/oauth-protected-resource` (RFC 9728) and the
//!   `WWW-Authenticate` value that points clients at it.

pub mod jwks;
pub mod jwt;
pub mod metadata;

use serde::Deserialize;
use serde_json::{Map, Value};

pub use jwt::JwtError;

/// `[oidc]`: off unless `issuer` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OidcSettings {
    /// The issuer URL exactly as tokens carry it in `iss` (e.g.
    /// `https://keycloak.example/realms/ops`). Unset: only static tokens are accepted.
    pub issuer: Option<String>,
    /// This server's resource URL, which tokens must carry in `aud`, e.g.
    /// `https://runbooks.example/mcp`. Required with `issuer`.
    pub resource: Option<String>,
    /// Where the issuer publishes its keys; unset: read from the issuer's
    /// `/.well-known/openid-configuration` (`jwks_uri`).
    pub jwks_url: Option<String>,
    /// The claim that names the person: `sub` (default) or e.g. `email`.
    pub principal_claim: String,
    /// The claim with the person's groups (a list of strings), mapped to roles by the
    /// policy as `oidc-group:<name>`.
    pub groups_claim: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// Unknown key ids make the keys be fetched again, at most this often.
    pub refresh_min_secs: u64,
    pub fetch_timeout_ms: u64,
}

impl Default for OidcSettings {
    fn default() -> Self {
        OidcSettings {
            issuer: None,
            resource: None,
            jwks_url: None,
            principal_claim: "sub".into(),
            groups_claim: "groups".into(),
            leeway_secs: 60,
            refresh_min_secs: 30,
            fetch_timeout_ms: 5_000,
        }
    }
}

/// What a settings file can get wrong; the start fails with it.
#[derive(Debug, thiserror::Error)]
#[error("oidc.{key}: {reason}")]
pub struct OidcConfigError {
    pub key: &'static str,
    pub reason: String,
}

/// The person a verified token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub principal: String,
    pub groups: Vec<String>,
}

/// Why a token presented as a JWT is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error(transparent)]
    Token(#[from] JwtError),
    #[error("the token's {0} claim is missing or not a usable name")]
    Principal(String),
    /// The issuer's keys cannot be had: nothing can be verified, which is not the
    /// client's fault (503, not 401).
    #[error("the issuer's keys are unavailable: {0}")]
    Keys(String),
}

/// The resource server: settings checked, keys cached.
pub struct Oidc {
    issuer: String,
    resource: String,
    principal_claim: String,
    groups_claim: String,
    leeway_secs: i64,
    keys: jwks::KeyCache,
}

const MAX_NAME: usize = 200;

impl Oidc {
    /// `None` when no issuer is configured.
    pub fn from_settings(s: &OidcSettings) -> Result<Option<Oidc>, OidcConfigError> {
        let Some(issuer) = s.issuer.clone() else {
            return Ok(None);
        };
        let url = |key: &'static str, v: &str| -> Result<url::Url, OidcConfigError> {
            let u = url::Url::parse(v).map_err(|e| OidcConfigError {
                key,
                reason: format!("not a URL: {e}"),
            })?;
            if !matches!(u.scheme(), "https" | "http") {
                return Err(OidcConfigError {
                    key,
                    reason: "must be an http(s) URL".into(),
                });
            }
            Ok(u)
        };
        url("issuer", &issuer)?;
        let resource = s.resource.clone().ok_or(OidcConfigError {
            key: "resource",
            reason: "required with oidc.issuer: the URL tokens must name in `aud`".into(),
        })?;
        url("resource", &resource)?;
        let source = match &s.jwks_url {
            Some(u) => jwks::Source::Jwks(url("jwks_url", u)?),
            None => jwks::Source::Discovery(url(
                "issuer",
                &format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                ),
            )?),
        };
        for (key, v) in [
            ("principal_claim", &s.principal_claim),
            ("groups_claim", &s.groups_claim),
        ] {
            if v.is_empty() {
                return Err(OidcConfigError {
                    key,
                    reason: "must name a claim".into(),
                });
            }
        }
        Ok(Some(Oidc {
            issuer,
            resource,
            principal_claim: s.principal_claim.clone(),
            groups_claim: s.groups_claim.clone(),
            leeway_secs: s.leeway_secs as i64,
            keys: jwks::KeyCache::new(
                source,
                std::time::Duration::from_secs(s.refresh_min_secs),
                std::time::Duration::from_millis(s.fetch_timeout_ms),
            ),
        }))
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Tokens shaped like a JWT (three dot-separated parts) are this module's to check;
    /// anything else is left to the static tokens.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, OidcError> {
        let unverified = jwt::decode(token)?;
        let keys = self.keys.keys_for(unverified.kid.as_deref()).await?;
        let claims = unverified.verify(&keys)?;
        let want = jwt::Expected {
            issuer: &self.issuer,
            audience: &self.resource,
            now: chrono::Utc::now().timestamp(),
            leeway_secs: self.leeway_secs,
        };
        jwt::check_claims(&claims, &want)?;
        self.identity(&claims)
    }

    fn identity(&self, claims: &Map<String, Value>) -> Result<Identity, OidcError> {
        let name = claims
            .get(&self.principal_claim)
            .and_then(Value::as_str)
            .filter(|n| usable_name(n))
            .ok_or_else(|| OidcError::Principal(self.principal_claim.clone()))?;
        let groups = match claims.get(&self.groups_claim) {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .filter(|g| usable_name(g))
                .map(|g| format!("oidc-group:{g}"))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Identity {
            principal: format!("oidc:{name}"),
            groups,
        })
    }
}

/// Names end up in the audit trail and in Slack: bounded, printable, no spaces.
fn usable_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NAME
        && n.chars()
            .all(|c| c.is_ascii_graphic() || c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: Some("https://issuer.example/realms/ops".into()),
            resource: Some("https://runbooks.example/mcp".into()),
            ..OidcSettings::default()
        }
    }

    #[test]
    fn off_without_an_issuer_and_the_resource_is_required_with_one() {
        assert!(
            Oidc::from_settings(&OidcSettings::default())
                .unwrap()
                .is_none()
        );
        let mut s = settings();
        s.resource = None;
        assert_eq!(Oidc::from_settings(&s).err().unwrap().key, "resource");
        let mut s = settings();
        s.jwks_url = Some("file:///etc/passwd".into());
        assert_eq!(Oidc::from_settings(&s).err().unwrap().key, "jwks_url");
        assert!(Oidc::from_settings(&settings()).unwrap().is_some());
    }

    #[test]
    fn identity_from_the_configured_claims() {
        let mut s = settings();
        s.principal_claim = "email".into();
        let oidc = Oidc::from_settings(&s).unwrap().unwrap();
        let claims = serde_json::json!({"sub": "1234", "email": "ana@example.com",
            "groups": ["sre", "on call", 7, "ops"]});
        let id = oidc.identity(claims.as_object().unwrap()).unwrap();
        assert_eq!(id.principal, "oidc:ana@example.com");
        // Names with spaces or of other types are left out, never turned into something else.
        assert_eq!(id.groups, vec!["oidc-group:sre", "oidc-group:ops"]);
        let claims = serde_json::json!({"sub": "1234", "email": "a b"});
        assert!(matches!(
            oidc.identity(claims.as_object().unwrap()),
            Err(OidcError::Principal(_))
        ));
    }

    #[test]
    fn only_three_part_tokens_are_taken_for_jwts() {
        assert!(Oidc::looks_like_jwt("a.b.c"));
        assert!(!Oidc::looks_like_jwt("rbk_0123abcd"));
        assert!(!Oidc::looks_like_jwt("a.b"));
    }
}
