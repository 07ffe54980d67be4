//! HTTP plumbing: auth, crumbs, safe retries, status mapping, latency hook.
//!
//! Retry policy: reads are retried on transport errors and 5xx; a POST is
//! retried only when the connection could not be established, because any
//! other failure may have reached Jenkins and a trigger must never run twice.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use super::crumb::{Crumb, CrumbCache};
use super::error::JenkinsError;
use super::model::CrumbJson;
use super::settings::JenkinsSettings;

/// Receives `(operation, latency, ok)` for every HTTP request made to Jenkins,
/// retries included; `ok` is false for transport errors and statuses >= 400.
pub type LatencyObserver = Arc<dyn Fn(&'static str, Duration, bool) + Send + Sync>;

const MAX_ATTEMPTS: u32 = 3;
const BACKOFF_BASE: Duration = Duration::from_millis(100);

/// A read response, body included, so that a body cut short can be retried too.
pub(crate) struct Fetched {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// What a POST answered (the body is not needed by any caller).
pub(crate) struct Posted {
    pub status: StatusCode,
    pub headers: HeaderMap,
}

pub(crate) struct Http {
    client: Client,
    base: String,
    username: String,
    token: String,
    observer: Option<LatencyObserver>,
    crumbs: CrumbCache,
}

impl Http {
    pub fn new(
        settings: &JenkinsSettings,
        observer: Option<LatencyObserver>,
    ) -> Result<Self, JenkinsError> {
        let base = parse_base(&settings.url)?;
        if settings.request_timeout_ms == 0 {
            return Err(JenkinsError::Config(
                "request_timeout_ms must be greater than 0".into(),
            ));
        }
        let client = Client::builder()
            .timeout(settings.request_timeout())
            // A redirect answers a POST like stop with an HTML page we must not fetch.
            .redirect(reqwest::redirect::Policy::none())
            // Retries are decided here, where it is known whether a request is safe to repeat.
            .retry(reqwest::retry::never())
            .user_agent(concat!("runbooks-runner/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| JenkinsError::Config(format!("cannot build the http client: {e}")))?;
        Ok(Self {
            client,
            base,
            username: settings.username.clone(),
            token: settings.api_token.expose().to_string(),
            observer,
            crumbs: CrumbCache::new(),
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let rb = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if self.username.is_empty() {
            rb
        } else {
            rb.basic_auth(&self.username, Some(&self.token))
        }
    }

    fn observe(&self, operation: &'static str, started: Instant, ok: bool) {
        if let Some(observer) = &self.observer {
            observer(operation, started.elapsed(), ok);
        }
    }

    /// GET with retries on transport errors and 5xx; any other status is
    /// returned for the caller to interpret.
    pub async fn get(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Fetched, JenkinsError> {
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let result = self.get_once(path, query).await;
            let ok = matches!(&result, Ok(f) if f.status.as_u16() < 400);
            self.observe(operation, started, ok);
            let error = match result {
                Ok(fetched) if !fetched.status.is_server_error() => return Ok(fetched),
                Ok(fetched) => JenkinsError::Server {
                    operation,
                    status: fetched.status.as_u16(),
                },
                Err(e) => self.transport_error(operation, e),
            };
            if attempt >= MAX_ATTEMPTS {
                return Err(error);
            }
            warn!(operation, attempt, error = %error, "jenkins read failed, retrying");
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    async fn get_once(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Result<Fetched> {
        let mut rb = self.request(reqwest::Method::GET, path);
        if !query.is_empty() {
            rb = rb.query(query);
        }
        let response = rb.send().await?;
        let status = response.status();
        let body = response.bytes().await?.to_vec();
        Ok(Fetched { status, body })
    }

    /// GET a JSON document; 404 becomes `NotFound { what }`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, &str)],
        what: impl FnOnce() -> String,
    ) -> Result<T, JenkinsError> {
        let fetched = self.get(operation, path, query).await?;
        if !fetched.status.is_success() {
            return Err(status_error(operation, fetched.status, what));
        }
        serde_json::from_slice(&fetched.body).map_err(|e| JenkinsError::Protocol {
            operation,
            detail: format!("invalid json: {e}"),
        })
    }

    /// POST with the CSRF crumb. A 403 is answered by Jenkins' crumb filter
    /// before anything runs, so it is safe to refresh the crumb and retry once.
    pub async fn post(
        &self,
        operation: &'static str,
        path: &str,
        form: &[(String, String)],
    ) -> Result<Posted, JenkinsError> {
        let crumb = self.crumbs.get(|| self.fetch_crumb()).await?;
        let posted = self
            .post_once(operation, path, form, crumb.as_ref())
            .await?;
        if posted.status != StatusCode::FORBIDDEN {
            return Ok(posted);
        }
        debug!(
            operation,
            "jenkins refused a post (403), refreshing the crumb"
        );
        let fresh = self
            .crumbs
            .refresh(crumb.as_ref(), || self.fetch_crumb())
            .await?;
        let posted = self
            .post_once(operation, path, form, fresh.as_ref())
            .await?;
        if posted.status == StatusCode::FORBIDDEN {
            return Err(JenkinsError::Forbidden { operation });
        }
        Ok(posted)
    }

    /// One logical POST: repeated only while the connection cannot be opened.
    async fn post_once(
        &self,
        operation: &'static str,
        path: &str,
        form: &[(String, String)],
        crumb: Option<&Crumb>,
    ) -> Result<Posted, JenkinsError> {
        let mut attempt = 1;
        loop {
            let mut rb = self.request(reqwest::Method::POST, path);
            if let Some(crumb) = crumb {
                rb = rb.header(crumb.field.clone(), crumb.value.clone());
            }
            if !form.is_empty() {
                rb = rb.form(form);
            }
            let started = Instant::now();
            let result = rb.send().await;
            let ok = matches!(&result, Ok(r) if r.status().as_u16() < 400);
            self.observe(operation, started, ok);
            match result {
                Ok(response) => {
                    return Ok(Posted {
                        status: response.status(),
                        headers: response.headers().clone(),
                    });
                }
                Err(e) if e.is_connect() && attempt < MAX_ATTEMPTS => {
                    let error = self.transport_error(operation, e);
                    warn!(operation, attempt, error = %error, "cannot connect to jenkins, retrying the post");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(self.transport_error(operation, e)),
            }
        }
    }

    async fn fetch_crumb(&self) -> Result<Option<Crumb>, JenkinsError> {
        const OPERATION: &str = "crumb";
        let fetched = self.get(OPERATION, "/crumbIssuer/api/json", &[]).await?;
        if fetched.status == StatusCode::NOT_FOUND {
            debug!("jenkins has no crumb issuer, posting without a crumb");
            return Ok(None);
        }
        if !fetched.status.is_success() {
            return Err(status_error(OPERATION, fetched.status, || {
                "crumb issuer".into()
            }));
        }
        let protocol = |detail: String| JenkinsError::Protocol {
            operation: OPERATION,
            detail,
        };
        let json: CrumbJson = serde_json::from_slice(&fetched.body)
            .map_err(|e| protocol(format!("invalid crumb json: {e}")))?;
        let field = HeaderName::try_from(json.crumb_request_field.as_str())
            .map_err(|_| protocol("crumbRequestField is not a header name".into()))?;
        let value = HeaderValue::try_from(json.crumb.as_str())
            .map_err(|_| protocol("crumb is not a header value".into()))?;
        debug!(field = %field, "fetched a jenkins crumb");
        Ok(Some(Crumb::new(field, value)))
    }

    fn transport_error(&self, operation: &'static str, error: reqwest::Error) -> JenkinsError {
        let connect = error.is_connect();
        let timeout = error.is_timeout();
        if timeout && !connect {
            return JenkinsError::Timeout { operation };
        }
        let reason = self.scrub(describe(error.without_url()));
        if connect {
            JenkinsError::Connect { operation, reason }
        } else {
            JenkinsError::Transport { operation, reason }
        }
    }

    /// Belt and braces: error chains come from libraries we do not control.
    fn scrub(&self, text: String) -> String {
        if self.token.is_empty() || !text.contains(&self.token) {
            text
        } else {
            text.replace(&self.token, "<redacted>")
        }
    }
}

/// Maps a status Jenkins answered to the error for it.
pub(crate) fn status_error(
    operation: &'static str,
    status: StatusCode,
    what: impl FnOnce() -> String,
) -> JenkinsError {
    match status.as_u16() {
        401 => JenkinsError::Unauthorized { operation },
        403 => JenkinsError::Forbidden { operation },
        404 => JenkinsError::NotFound { what: what() },
        409 => JenkinsError::Conflict { operation },
        s @ 500..=599 => JenkinsError::Server {
            operation,
            status: s,
        },
        s => JenkinsError::UnexpectedStatus {
            operation,
            status: s,
        },
    }
}

fn backoff(attempt: u32) -> Duration {
    BACKOFF_BASE * 2u32.pow(attempt.saturating_sub(1))
}

fn describe(error: reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn parse_base(raw: &str) -> Result<String, JenkinsError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| JenkinsError::Config(format!("jenkins url is not a valid url: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(JenkinsError::Config(
            "jenkins url must use http or https".into(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(JenkinsError::Config(
            "jenkins url must not embed credentials; set username and api_token".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(JenkinsError::Config(
            "jenkins url must not have a query or fragment".into(),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_normalised_and_checked() {
        assert_eq!(parse_base("http://ci:8080/").unwrap(), "http://ci:8080");
        assert_eq!(
            parse_base("https://ci.example.com/jenkins/").unwrap(),
            "https://ci.example.com/jenkins"
        );
        let err = parse_base("http://bob:hunter2@ci/").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(err.kind(), "config");
        assert!(parse_base("ftp://ci").is_err());
        assert!(parse_base("not a url").is_err());
    }

    #[test]
    fn backoff_grows() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
    }
}
