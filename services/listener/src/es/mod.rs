//! Elasticsearch through the official client: point in time, paged searches, and the
//! detection of servers without the `_pit` API.

pub mod query;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use elasticsearch::auth::Credentials;
use elasticsearch::http::StatusCode;
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::{Elasticsearch, OpenPointInTimeParts, SearchParts};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::error::ListenerError;
use crate::settings::{ElasticsearchSettings, PitMode};

/// What went wrong talking to Elasticsearch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EsError {
    #[error("elasticsearch unreachable: {0}")]
    Unreachable(String),
    #[error("elasticsearch answered {status}: {kind}: {reason}")]
    Status {
        status: u16,
        kind: String,
        reason: String,
    },
    #[error("elasticsearch response not understood: {0}")]
    Decode(String),
    #[error("the point-in-time API is configured on but the server has none ({0})")]
    NoPit(String),
}

impl EsError {
    /// The `kind` label of the failure metric.
    pub fn kind(&self) -> &'static str {
        match self {
            EsError::Unreachable(_) => "unreachable",
            EsError::Status { .. } => "status",
            EsError::Decode(_) => "decode",
            EsError::NoPit(_) => "no_pit",
        }
    }

    /// A concrete index that does not exist (a pattern matching nothing is not an error).
    pub fn is_index_missing(&self) -> bool {
        matches!(self, EsError::Status { kind, .. } if kind == "index_not_found_exception")
    }
}

/// One search hit; `_source` holds only the mapped fields.
#[derive(Debug, Clone, Deserialize)]
pub struct Hit {
    #[serde(rename = "_index")]
    pub index: String,
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_source", default)]
    pub source: Value,
    #[serde(default)]
    pub sort: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Hits {
    #[serde(default)]
    hits: Vec<Hit>,
}

#[derive(Debug, Deserialize)]
struct SearchResponse {
    pit_id: Option<String>,
    hits: Hits,
}

/// One page of results and the point-in-time id to continue with.
pub struct Page {
    pub pit_id: Option<String>,
    pub hits: Vec<Hit>,
}

const PIT_UNKNOWN: u8 = 0;
const PIT_SUPPORTED: u8 = 1;
const PIT_UNSUPPORTED: u8 = 2;

/// The client, shared by every source. Cheap to clone.
#[derive(Clone)]
pub struct EsClient {
    client: Elasticsearch,
    mode: PitMode,
    /// In `auto` mode: what the first open of a point in time found out.
    pit: Arc<AtomicU8>,
    keep_alive: String,
}

impl EsClient {
    pub fn new(settings: &ElasticsearchSettings) -> Result<Self, ListenerError> {
        let mut url = url::Url::parse(&settings.url)
            .map_err(|e| ListenerError::Elasticsearch(format!("elasticsearch.url: {e}")))?;
        // Credentials in the URL (`https://user:pass@es:9200`) become basic auth and leave the
        // URL, which error messages (and so logs and `/ready`) repeat.
        let from_url = (!url.username().is_empty()).then(|| {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(url.username()), decode(url.password().unwrap_or("")))
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(Duration::from_millis(settings.timeout_ms));
        if settings.api_key.is_set() {
            builder = builder.auth(Credentials::EncodedApiKey(
                settings.api_key.expose().to_string(),
            ));
        } else if !settings.username.is_empty() {
            builder = builder.auth(Credentials::Basic(
                settings.username.clone(),
                settings.password.expose().to_string(),
            ));
        } else if let Some((user, password)) = from_url {
            builder = builder.auth(Credentials::Basic(user, password));
        }
        let transport = builder
            .build()
            .map_err(|e| ListenerError::Elasticsearch(e.to_string()))?;
        Ok(EsClient {
            client: Elasticsearch::new(transport),
            mode: settings.point_in_time,
            pit: Arc::new(AtomicU8::new(PIT_UNKNOWN)),
            keep_alive: format!("{}s", settings.pit_keep_alive_secs),
        })
    }

    pub fn keep_alive(&self) -> &str {
        &self.keep_alive
    }

    /// `HEAD /`: whether the server answers at all.
    pub async fn ping(&self) -> Result<(), String> {
        let resp = self
            .client
            .ping()
            .send()
            .await
            .map_err(|e| format!("unreachable: {e}"))?;
        let status = resp.status_code();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {status}"))
        }
    }

    /// Opens a point in time over `index`; `None` when the fallback is in use (configured off,
    /// or the server turned out to have no `_pit` API).
    pub async fn open_pit(&self, index: &str) -> Result<Option<String>, EsError> {
        if self.mode == PitMode::Off || self.pit.load(Ordering::Relaxed) == PIT_UNSUPPORTED {
            return Ok(None);
        }
        let resp = self
            .client
            .open_point_in_time(OpenPointInTimeParts::Index(&[index]))
            .keep_alive(&self.keep_alive)
            .send()
            .await
            .map_err(|e| EsError::Unreachable(e.to_string()))?;
        let status = resp.status_code();
        if status.is_success() {
            #[derive(Deserialize)]
            struct Opened {
                id: String,
            }
            let opened: Opened = resp
                .json()
                .await
                .map_err(|e| EsError::Decode(e.to_string()))?;
            if self.pit.swap(PIT_SUPPORTED, Ordering::Relaxed) == PIT_UNKNOWN {
                info!("elasticsearch has the point-in-time API: tailing with it");
            }
            return Ok(Some(opened.id));
        }
        let err = failure(resp).await;
        if no_pit_api(status, &err) {
            if self.mode == PitMode::On {
                return Err(EsError::NoPit(err.to_string()));
            }
            if self.pit.swap(PIT_UNSUPPORTED, Ordering::Relaxed) != PIT_UNSUPPORTED {
                warn!(
                    status = status.as_u16(),
                    "no point-in-time API on this server: falling back to search_after on (timestamp, tiebreaker)"
                );
            }
            return Ok(None);
        }
        Err(err)
    }

    /// Best effort: an unclosed point in time expires after its keep-alive anyway.
    pub async fn close_pit(&self, id: &str) {
        let result = self
            .client
            .close_point_in_time()
            .body(json!({"id": id}))
            .send()
            .await;
        if let Err(e) = result {
            warn!(error = %e, "closing the point in time failed");
        }
    }

    /// One page: against the point in time when there is one, else against `index`.
    pub async fn search(&self, index: &str, pit: bool, body: Value) -> Result<Page, EsError> {
        let indices = [index];
        let parts = if pit {
            SearchParts::None
        } else {
            SearchParts::Index(&indices)
        };
        let resp = self
            .client
            .search(parts)
            .body(body)
            .send()
            .await
            .map_err(|e| EsError::Unreachable(e.to_string()))?;
        if !resp.status_code().is_success() {
            return Err(failure(resp).await);
        }
        let parsed: SearchResponse = resp
            .json()
            .await
            .map_err(|e| EsError::Decode(e.to_string()))?;
        Ok(Page {
            pit_id: parsed.pit_id,
            hits: parsed.hits.hits,
        })
    }
}

/// 404, 400 "no handler found" or 405 on `POST /{index}/_pit`, other than a missing index,
/// means the endpoint does not exist (OpenSearch, Elasticsearch before 7.10).
fn no_pit_api(status: StatusCode, err: &EsError) -> bool {
    let EsError::Status { kind, reason, .. } = err else {
        return false;
    };
    if kind == "index_not_found_exception" {
        return false;
    }
    status == StatusCode::NOT_FOUND
        || status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::BAD_REQUEST && reason.contains("no handler found"))
}

/// The error type and reason of a failed response, whatever its body shape.
async fn failure(resp: Response) -> EsError {
    let status = resp.status_code().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let (kind, reason) = match &body["error"] {
        Value::Object(e) => {
            let cause = e
                .get("root_cause")
                .and_then(|c| c.get(0))
                .filter(|c| c["type"].is_string());
            let kind = cause
                .and_then(|c| c["type"].as_str())
                .or_else(|| e.get("type").and_then(Value::as_str))
                .unwrap_or("error");
            let reason = e
                .get("reason")
                .and_then(Value::as_str)
                .or_else(|| cause.and_then(|c| c["reason"].as_str()))
                .unwrap_or("");
            (kind.to_string(), reason.to_string())
        }
        Value::String(s) => ("error".to_string(), s.clone()),
        _ => ("error".to_string(), text.chars().take(300).collect()),
    };
    EsError::Status {
        status,
        kind,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(kind: &str, reason: &str) -> EsError {
        EsError::Status {
            status: 0,
            kind: kind.into(),
            reason: reason.into(),
        }
    }

    #[tokio::test]
    async fn credentials_in_the_url_never_reach_error_messages() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Port 9 (discard) on localhost: nothing answers.
        let settings = ElasticsearchSettings {
            url: "http://elastic:s3cr%40t@127.0.0.1:9".into(),
            timeout_ms: 500,
            ..ElasticsearchSettings::default()
        };
        let es = EsClient::new(&settings).unwrap();
        let err = es.ping().await.unwrap_err();
        assert!(!err.contains("s3cr"), "{err}");
        let err = es.open_pit("logs-*").await.unwrap_err().to_string();
        assert!(!err.contains("s3cr") && !err.contains("elastic:"), "{err}");
    }

    #[test]
    fn a_missing_endpoint_is_not_a_missing_index() {
        assert!(no_pit_api(
            StatusCode::NOT_FOUND,
            &status("resource_not_found_exception", "")
        ));
        assert!(no_pit_api(
            StatusCode::BAD_REQUEST,
            &status(
                "error",
                "no handler found for uri [/x/_pit] and method [POST]"
            )
        ));
        assert!(!no_pit_api(
            StatusCode::NOT_FOUND,
            &status("index_not_found_exception", "")
        ));
        assert!(!no_pit_api(
            StatusCode::BAD_REQUEST,
            &status("parsing_exception", "")
        ));
        assert!(!no_pit_api(
            StatusCode::NOT_FOUND,
            &EsError::Unreachable("x".into())
        ));
    }
}
