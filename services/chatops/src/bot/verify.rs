//! Every request to `/slack/*` is signed by Slack: v0 HMAC-SHA256 of `v0:{timestamp}:{body}`
//! with the signing secret, compared in constant time, within 5 minutes (slack-morphism's
//! verifier). A signature is accepted once: a replayed request is refused.

use axum::http::HeaderMap;
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use sqlx::PgPool;

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing signature headers")]
    Missing,
    #[error("bad signature or stale timestamp")]
    Invalid,
    #[error("request already received")]
    Replayed,
    #[error("database: {0}")]
    Store(String),
}

#[derive(Clone)]
pub struct Verifier {
    inner: SlackEventSignatureVerifier,
}

impl Verifier {
    pub fn new(secret: &str) -> Self {
        Verifier {
            inner: SlackEventSignatureVerifier::new(&SlackSigningSecret::new(secret.into())),
        }
    }

    /// Checks the signature and the time window only.
    pub fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<String, VerifyError> {
        let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
        let (Some(sig), Some(ts)) = (
            get(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
            get(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
        ) else {
            return Err(VerifyError::Missing);
        };
        let body = std::str::from_utf8(body).map_err(|_| VerifyError::Invalid)?;
        self.inner
            .verify(sig, body, ts)
            .map_err(|_| VerifyError::Invalid)?;
        Ok(sig.to_string())
    }

    /// Checks the request and remembers its signature, refusing one seen before.
    pub async fn verify(
        &self,
        pool: &PgPool,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let sig = self.check(headers, body)?;
        if first_time(pool, &format!("sig:{sig}")).await? {
            Ok(())
        } else {
            Err(VerifyError::Replayed)
        }
    }
}

/// Records `key` in `slack_seen`; `true` the first time.
pub async fn first_time(pool: &PgPool, key: &str) -> Result<bool, VerifyError> {
    let n = sqlx::query("INSERT INTO slack_seen (key) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(key)
        .execute(pool)
        .await
        .map_err(|e| VerifyError::Store(e.to_string()))?
        .rows_affected();
    Ok(n == 1)
}
