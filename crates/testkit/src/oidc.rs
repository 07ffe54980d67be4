//! A stand-in OpenID Connect issuer on loopback: `/.well-known/openid-configuration` names
//! its `jwks_uri`, `/jwks` publishes one P-256 signing key generated when it starts, and
//! [`FakeIssuer::token`] mints ES256 access tokens with whatever claims a test wants, the
//! way Keycloak or Dex would sign them. Counts the JWK Set fetches; `set_down` makes both
//! documents answer 503.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The key id the issuer publishes.
pub const KID: &str = "test-key-1";

struct Inner {
    url: String,
    key: EcdsaKeyPair,
    /// Signs tokens with a key the issuer never publishes.
    stranger: EcdsaKeyPair,
    jwks_fetches: AtomicUsize,
    down: AtomicBool,
}

#[derive(Clone)]
pub struct FakeIssuer {
    inner: Arc<Inner>,
    _stop: Arc<StopOnDrop>,
}

struct StopOnDrop(CancellationToken);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

fn generate() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
}

impl FakeIssuer {
    pub async fn start() -> FakeIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let inner = Arc::new(Inner {
            url,
            key: generate(),
            stranger: generate(),
            jwks_fetches: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(configuration))
            .route("/jwks", get(jwks))
            .with_state(inner.clone());
        let token = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
                .ok();
        });
        FakeIssuer {
            inner,
            _stop: Arc::new(StopOnDrop(stop)),
        }
    }

    /// The issuer URL, as tokens carry it in `iss`.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    pub fn jwks_fetches(&self) -> usize {
        self.inner.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    /// An ES256 token with these claims, signed with the published key.
    pub fn token(&self, claims: &Value) -> String {
        sign(&self.inner.key, Some(KID), claims)
    }

    /// The same, signed with a key the issuer does not publish (under `kid`).
    pub fn token_from_unknown_key(&self, kid: &str, claims: &Value) -> String {
        sign(&self.inner.stranger, Some(kid), claims)
    }

    /// Claims a valid access token for `audience` would carry, for `sub`, valid for an hour.
    pub fn claims(&self, sub: &str, audience: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": self.url(), "aud": audience, "sub": sub, "iat": now, "exp": now + 3600})
    }
}

fn sign(key: &EcdsaKeyPair, kid: Option<&str>, claims: &Value) -> String {
    let mut header = json!({"alg": "ES256", "typ": "JWT"});
    if let Some(k) = kid {
        header["kid"] = json!(k);
    }
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let signed = format!("{}.{}", b64(&header), b64(claims));
    let sig = key
        .sign(&SystemRandom::new(), signed.as_bytes())
        .expect("sign");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

async fn configuration(State(s): State<Arc<Inner>>) -> Response {
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(json!({
        "issuer": s.url,
        "jwks_uri": format!("{}/jwks", s.url),
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

async fn jwks(State(s): State<Arc<Inner>>) -> Response {
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    // The public key is the uncompressed point 04 || x || y.
    let point = s.key.public_key().as_ref();
    axum::Json(json!({"keys": [
        {"kty": "EC", "use": "sig", "crv": "P-256", "alg": "ES256", "kid": KID,
         "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}
    ]}))
    .into_response()
}
