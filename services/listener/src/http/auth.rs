//! Shared secrets and GitHub's HMAC signature, compared in constant time.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::settings::Secret;

type HmacSha256 = Hmac<Sha256>;

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether `given` is the secret. Both sides are hashed first so neither the content nor
/// the length of the secret shows in the comparison time.
pub fn secret_matches(expected: &Secret, given: Option<&str>) -> bool {
    let Some(given) = given else {
        return false;
    };
    let a = Sha256::digest(expected.expose().as_bytes());
    let b = Sha256::digest(given.as_bytes());
    a.ct_eq(&b).into()
}

/// `Authorization: Bearer <token>` when a token is configured.
pub fn require_bearer(expected: &Secret, headers: &HeaderMap) -> Result<(), ApiError> {
    if !expected.is_set() {
        return Ok(());
    }
    let given = header(headers, "authorization").and_then(|v| v.strip_prefix("Bearer "));
    if secret_matches(expected, given) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            "missing or wrong bearer token (Authorization: Bearer ...)",
        ))
    }
}

/// `sha256=<hex>` of `body` under `secret`, as GitHub sends in `X-Hub-Signature-256`.
pub fn github_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `X-Hub-Signature-256` against the body.
pub fn verify_github(
    secret: &Secret,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some(signature) = signature else {
        return Err(ApiError::unauthorized("missing X-Hub-Signature-256 header"));
    };
    let wrong = || ApiError::unauthorized("X-Hub-Signature-256 does not match the body");
    let digest = signature
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(wrong)?;
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&digest).map_err(|_| wrong())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of GitHub's "Validating webhook deliveries" page.
    #[test]
    fn githubs_documented_example_verifies() {
        let secret = Secret::new("It's a Secret to Everybody");
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            github_signature(secret.expose().as_bytes(), b"Hello, World!"),
            expected
        );
        assert!(verify_github(&secret, Some(expected), b"Hello, World!").is_ok());
        assert!(verify_github(&secret, Some(expected), b"Hello, World?").is_err());
        assert!(verify_github(&secret, Some("sha256=zz"), b"Hello, World!").is_err());
        assert!(verify_github(&secret, Some(&expected[7..]), b"Hello, World!").is_err());
        assert!(verify_github(&secret, None, b"Hello, World!").is_err());
    }

    #[test]
    fn shared_secrets() {
        let s = Secret::new("s3cret");
        assert!(secret_matches(&s, Some("s3cret")));
        assert!(!secret_matches(&s, Some("s3cret ")));
        assert!(!secret_matches(&s, Some("")));
        assert!(!secret_matches(&s, None));
    }
}
