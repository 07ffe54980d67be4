//! HTTP basic auth for the dashboard, `/check-services` and `/audit`: credentials from
//! `dashboard.user` / `dashboard.password`, compared in constant time (a wrong user name
//! costs as much as a wrong password), failed logins limited per client address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::metrics::MonitorMetrics;
use crate::settings::{DashboardSettings, PASSWORD_KEY};

const REALM: &str = "Basic realm=\"runbooks health-monitor\", charset=\"UTF-8\"";
/// Addresses remembered at most; beyond it expired entries go, then everything.
const MAX_TRACKED: usize = 10_000;

/// The configured credentials, kept as digests so comparisons take the same time whatever
/// the input's length.
struct Credentials {
    user: [u8; 32],
    password: [u8; 32],
}

fn digest(s: &[u8]) -> [u8; 32] {
    Sha256::digest(s).into()
}

impl Credentials {
    fn matches(&self, user: &[u8], password: &[u8]) -> bool {
        // `&` on Choice: both comparisons always run.
        let ok = self.user.ct_eq(&digest(user)) & self.password.ct_eq(&digest(password));
        ok.into()
    }
}

/// Failed logins per client address within a window.
#[derive(Default)]
struct Failures {
    by_addr: HashMap<IpAddr, (u32, Instant)>,
}

pub struct Auth {
    credentials: Option<Credentials>,
    max_failures: u32,
    window: Duration,
    failures: Mutex<Failures>,
    metrics: MonitorMetrics,
}

impl Auth {
    pub fn new(s: &DashboardSettings, metrics: MonitorMetrics) -> Auth {
        Auth {
            credentials: s.password.as_ref().map(|p| Credentials {
                user: digest(s.user.as_bytes()),
                password: digest(p.expose().as_bytes()),
            }),
            max_failures: s.max_failed_logins,
            window: Duration::from_secs(s.failed_login_window_secs),
            failures: Mutex::default(),
            metrics,
        }
    }

    pub fn enabled(&self) -> bool {
        self.credentials.is_some()
    }

    /// How long `addr` must still wait, when it failed too often.
    fn blocked_for(&self, addr: IpAddr) -> Option<Duration> {
        let f = self.failures.lock().expect("failures lock");
        let (count, since) = f.by_addr.get(&addr)?;
        let left = self.window.checked_sub(since.elapsed())?;
        (*count >= self.max_failures).then_some(left)
    }

    fn record_failure(&self, addr: IpAddr) {
        self.metrics.login_failures.inc();
        let mut f = self.failures.lock().expect("failures lock");
        if f.by_addr.len() >= MAX_TRACKED {
            let window = self.window;
            f.by_addr.retain(|_, (_, since)| since.elapsed() < window);
            if f.by_addr.len() >= MAX_TRACKED {
                f.by_addr.clear();
            }
        }
        let entry = f.by_addr.entry(addr).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn clear(&self, addr: IpAddr) {
        self.failures
            .lock()
            .expect("failures lock")
            .by_addr
            .remove(&addr);
    }
}

/// `user:password` from an `Authorization: Basic …` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

fn unauthorized() -> Response {
    let mut resp = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "valid dashboard credentials are required (HTTP basic auth)",
    )
    .into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
    resp
}

/// The middleware in front of the protected routes.
pub async fn require(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let Some(credentials) = &auth.credentials else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "dashboard_disabled",
            format!("the dashboard is off: set {PASSWORD_KEY} to enable it"),
        )
        .into_response();
    };
    // Behind a proxy every client shares its address; the limit then protects the password
    // for all of them together.
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    if let Some(wait) = auth.blocked_for(addr) {
        auth.metrics.login_failures.inc();
        let secs = wait.as_secs().max(1);
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failed_logins",
            format!("too many failed logins from this address; try again in {secs} s"),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return resp;
    }
    match basic_credentials(req.headers()) {
        Some((user, password)) if credentials.matches(&user, &password) => {
            auth.clear(addr);
            next.run(req).await
        }
        Some(_) => {
            auth.record_failure(addr);
            tracing::warn!(client = %addr, "dashboard login failed");
            unauthorized()
        }
        // No credentials yet: the browser's first request, before it asks the person.
        None => unauthorized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn basic_credentials_are_parsed() {
        // "ops:pa:ss" — the password may contain a colon.
        let h = header("Basic b3BzOnBhOnNz");
        assert_eq!(
            basic_credentials(&h),
            Some((b"ops".to_vec(), b"pa:ss".to_vec()))
        );
        assert_eq!(basic_credentials(&header("Bearer abc")), None);
        assert_eq!(basic_credentials(&header("Basic !!!")), None);
        assert_eq!(basic_credentials(&HeaderMap::new()), None);
    }

    #[test]
    fn credentials_match_exactly() {
        let c = Credentials {
            user: digest(b"ops"),
            password: digest(b"secret"),
        };
        assert!(c.matches(b"ops", b"secret"));
        assert!(!c.matches(b"ops", b"secret "));
        assert!(!c.matches(b"opz", b"secret"));
        assert!(!c.matches(b"", b""));
    }
}
