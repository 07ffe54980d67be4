//! The operator console under `/console`: people log in with their own orchestrator API
//! token and every button calls the orchestrator over the bus as that person
//! ([`orch`]), so the one policy judges them. Server-rendered (askama, auto-escaped); its
//! stylesheet and script ship in the binary; a strict CSP, CSRF tokens on every form,
//! HttpOnly SameSite=Strict cookies and a login limit per token prefix ([`limit`]).
//!
//! - [`login`]: the login form, logout; [`pages`]: the overview, an incident, a
//!   post-mortem; [`buttons`]: acknowledge, resolve, approve, deny.
//! - [`view`] and [`charts`]: what the pages show, as pure functions.

pub mod buttons;
pub mod charts;
pub mod filters;
pub mod limit;
pub mod login;
pub mod orch;
pub mod pages;
pub mod session;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::core::Core;
use limit::LoginLimiter;
use session::{Session, Sessions};

/// Nothing but this origin: no inline script or style, no frames, forms post here only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

#[derive(Clone)]
pub struct ConsoleState {
    pub core: Core,
    pub sessions: Arc<Sessions>,
    pub limiter: Arc<LoginLimiter>,
}

impl ConsoleState {
    pub fn new(core: Core) -> ConsoleState {
        let c = &core.settings.console;
        ConsoleState {
            sessions: Arc::new(Sessions::new(
                Duration::from_secs(c.session_idle_mins * 60),
                Duration::from_secs(c.session_max_hours * 3600),
            )),
            limiter: Arc::new(LoginLimiter::new(
                c.max_failed_logins,
                c.max_failed_logins_per_address,
                Duration::from_secs(c.failed_login_window_secs),
            )),
            core,
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.core.settings.console.rpc_timeout_ms)
    }

    /// Whether cookies get `Secure`: always, never, or when the request came over TLS.
    pub fn secure(&self, headers: &HeaderMap) -> bool {
        match self.core.settings.console.secure_cookie.as_str() {
            "always" => true,
            "never" => false,
            _ => headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.eq_ignore_ascii_case("https")),
        }
    }
}

pub fn router<S>(core: Core) -> Router<S> {
    let state = ConsoleState::new(core);
    Router::new()
        .route("/console", get(pages::overview))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/incidents/{id}", get(pages::incident))
        .route("/console/incidents/{id}/postmortem", get(pages::postmortem))
        .route(
            "/console/incidents/{id}/acknowledge",
            post(buttons::acknowledge),
        )
        .route("/console/incidents/{id}/resolve", post(buttons::resolve))
        .route("/console/actions/{id}/approve", post(buttons::approve))
        .route("/console/actions/{id}/deny", post(buttons::deny))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .layer(middleware::from_fn(secure_headers))
        .with_state(state)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Every console answer: the CSP, no sniffing, no framing, no caching of pages, referrers
/// only to this origin (with `no-referrer` browsers send `Origin: null` on posts).
async fn secure_headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/console/assets/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// A page for a request the console will not serve (bad filter, cross-site post).
pub fn refusal(status: StatusCode, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Runbooks console</title><link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head><body><main><p id=\"refusal\" class=\"flash error\">{}</p><p><a href=\"/console\">Back to the console</a></p></main></body></html>",
        askama_escape(text)
    );
    (status, Html(body)).into_response()
}

fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A state-changing request must come from this origin: a browser says where a request
/// comes from (`Sec-Fetch-Site`, `Origin`); a cross-site one is refused before its CSRF
/// token is even looked at.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| !matches!(s, "same-origin" | "none")) {
        return false;
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        // An opaque origin is believed only when the browser says the post is same-origin.
        (Some("null"), _) => site == Some("same-origin"),
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host),
        (Some(_), None) => false,
        _ => true,
    }
}

/// The way to the login form, for a request without a live session.
pub fn to_login() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, "/console/login")],
    )
        .into_response()
}

/// The live session of a request, if any.
pub fn session_of(state: &ConsoleState, headers: &HeaderMap) -> Option<Session> {
    state.sessions.get(headers)
}

/// The console's own page state: light, dark or the system's; wall mode (large type).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Look {
    pub theme: Option<String>,
    pub wall: Option<String>,
}

impl Look {
    pub fn theme(&self) -> &'static str {
        match self.theme.as_deref() {
            Some("dark") => "dark",
            Some("light") => "light",
            _ => "auto",
        }
    }

    pub fn wall(&self) -> bool {
        self.wall.as_deref() == Some("1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_site_posts_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("mon:5050"));
        assert!(same_origin(&h), "no Origin (curl) relies on the CSRF token");
        h.insert(header::ORIGIN, HeaderValue::from_static("http://mon:5050"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
    }
}
