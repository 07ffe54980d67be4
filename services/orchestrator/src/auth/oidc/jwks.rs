//! The issuer's signing keys, fetched on first use and cached. A token naming a key id the
//! cache does not hold makes it fetch again (the issuer rotated its keys), but at most once
//! per `refresh_min`: tokens with made-up key ids cannot turn this server into a client that
//! floods the issuer.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::OidcError;
use super::jwt::{Jwk, parse_jwks};

#[derive(Debug, Clone)]
pub enum Source {
    /// The JWK Set URL itself.
    Jwks(url::Url),
    /// The issuer's OpenID configuration, whose `jwks_uri` names the JWK Set.
    Discovery(url::Url),
}

struct Cached {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
}

pub struct KeyCache {
    source: Source,
    refresh_min: Duration,
    client: reqwest::Client,
    cached: Mutex<Cached>,
}

impl KeyCache {
    pub fn new(source: Source, refresh_min: Duration, timeout: Duration) -> KeyCache {
        // Also built by `orchestrator policy check` and tests, which start no runtime.
        runtime::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with a timeout");
        KeyCache {
            source,
            refresh_min,
            client,
            cached: Mutex::new(Cached {
                keys: Vec::new(),
                fetched: None,
            }),
        }
    }

    /// The keys to verify a token whose header names `kid`: the cached ones when they hold
    /// that id (or when the header names none and some are cached), else freshly fetched
    /// when the last fetch is old enough.
    pub async fn keys_for(&self, kid: Option<&str>) -> Result<Vec<Jwk>, OidcError> {
        let mut cached = self.cached.lock().await;
        let has = |c: &Cached| match kid {
            Some(k) => c.keys.iter().any(|j| j.kid.as_deref() == Some(k)),
            None => !c.keys.is_empty(),
        };
        let due = cached
            .fetched
            .is_none_or(|at| at.elapsed() >= self.refresh_min);
        if !has(&cached) && due {
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "oidc signing keys fetched");
                    *cached = Cached {
                        keys,
                        fetched: Some(Instant::now()),
                    };
                }
                Err(reason) if cached.fetched.is_none() => {
                    tracing::warn!(%reason, "oidc signing keys unavailable");
                    return Err(OidcError::Keys(reason));
                }
                Err(reason) => {
                    // Keep the keys we have; try again after refresh_min.
                    tracing::warn!(%reason, "oidc signing keys could not be refreshed");
                    cached.fetched = Some(Instant::now());
                }
            }
        }
        Ok(cached.keys.clone())
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, String> {
        let jwks_url = match &self.source {
            Source::Jwks(u) => u.clone(),
            Source::Discovery(u) => {
                #[derive(serde::Deserialize)]
                struct Configuration {
                    jwks_uri: String,
                }
                let body = self.get(u).await?;
                let c: Configuration = serde_json::from_slice(&body)
                    .map_err(|e| format!("{u}: not an OpenID configuration: {e}"))?;
                let j = url::Url::parse(&c.jwks_uri)
                    .map_err(|e| format!("{u}: jwks_uri is not a URL: {e}"))?;
                if !matches!(j.scheme(), "https" | "http") {
                    return Err(format!("{u}: jwks_uri is not an http(s) URL"));
                }
                j
            }
        };
        let body = self.get(&jwks_url).await?;
        let keys = parse_jwks(&body).map_err(|e| format!("{jwks_url}: {e}"))?;
        if keys.is_empty() {
            return Err(format!("{jwks_url}: no RS256 or ES256 signing key"));
        }
        Ok(keys)
    }

    async fn get(&self, url: &url::Url) -> Result<Vec<u8>, String> {
        let resp = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        // A JWK set is a few KiB; refuse anything absurd.
        let body = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        if body.len() > 1 << 20 {
            return Err(format!("{url}: response over 1 MiB"));
        }
        Ok(body.to_vec())
    }
}
