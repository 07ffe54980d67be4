//! The generic escalation webhook: `POST {webhook_url}` with the page as JSON, signed so the
//! receiver can tell it is ours and fresh:
//! `X-Runbooks-Timestamp: <unix seconds>` and
//! `X-Runbooks-Signature: v1=<hex HMAC-SHA256(webhook_secret, "<timestamp>.<body>")>`.
//! A receiver recomputes the signature and refuses timestamps older than a few minutes
//! (replay); `Idempotency-Key` carries the dedup key, the same for every re-send.

use hmac::{Hmac, Mac};
use runtime::Secret;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{CallOutcome, sort};
use crate::repo::pages::PageRow;

pub const SIGNATURE_HEADER: &str = "x-runbooks-signature";
pub const TIMESTAMP_HEADER: &str = "x-runbooks-timestamp";

/// `v1=<hex>` of HMAC-SHA256 over `"<timestamp>.<body>"`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub(super) fn body(page: &PageRow) -> Value {
    json!({
        "event_action": page.event_action,
        "dedup_key": page.dedup_key,
        "severity": page.severity,
        "details": page.payload,
    })
}

pub(super) async fn send(
    http: &reqwest::Client,
    url: &str,
    secret: &Secret,
    page: &PageRow,
) -> CallOutcome {
    let body = serde_json::to_vec(&body(page)).expect("json serialises");
    let ts = chrono::Utc::now().timestamp();
    let r = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, sign(secret.expose(), ts, &body))
        .header("idempotency-key", &page.dedup_key)
        .body(body)
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            sort(status, body)
        }
        Err(e) => CallOutcome::Retry(e.without_url().to_string()),
    }
}
