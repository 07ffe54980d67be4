//! Logging in with one's own orchestrator API token: the form posts the token, the console
//! asks the orchestrator who it belongs to (`command.auth.whoami`, relaying only the
//! token's SHA-256) and starts a session for that principal. The token itself is neither
//! kept nor logged.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use domain::commands::WhoAmI;
use sha2::{Digest, Sha256};

use super::orch::{CallError, call};
use super::session::{COOKIE_NAME, LOGIN_CSRF_COOKIE, cookie, random_hex, same};
use super::{ConsoleState, refusal, same_origin};

/// Longest token accepted in the form (real ones are 68 characters).
const MAX_TOKEN: usize = 512;

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
}

fn cookie_header(name: &str, value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("cookie of hex and fixed words")
}

fn render(status: StatusCode, page: LoginPage, set: Vec<HeaderValue>) -> Response {
    let html = match page.render() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "login template failed");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            );
        }
    };
    let mut resp = (status, Html(html)).into_response();
    for c in set {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// The form, with a fresh double-submit CSRF token (cookie and hidden field).
fn fresh_form(
    state: &ConsoleState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let csrf = random_hex();
    let c = cookie_header(LOGIN_CSRF_COOKIE, &csrf, 3600, state.secure(headers));
    render(status, LoginPage { csrf, error }, vec![c])
}

pub async fn form(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    if state.sessions.get(&headers).is_some() {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/console")]).into_response();
    }
    fresh_form(&state, &headers, StatusCode::OK, None)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    token: String,
    csrf: String,
}

pub async fn submit(
    State(state): State<ConsoleState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if !same_origin(&headers) || expected.is_empty() || !same(expected, &f.csrf) {
        return fresh_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some("the form expired or came from elsewhere; log in again".into()),
        );
    }
    let token = f.token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN || token.chars().any(char::is_control) {
        return fresh_form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            Some("paste your API token (from `orchestrator token new NAME --role ...`)".into()),
        );
    }
    let addr = peer.ip();
    if let Some(wait) = state.limiter.blocked_for(addr, token) {
        state.core.metrics.login_failures.inc();
        let secs = wait.as_secs().max(1);
        let mut resp = fresh_form(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some(format!(
                "too many failed logins with this token or from this address; try again in {secs} s"
            )),
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return resp;
    }
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    match call(&state.core.bus, &hash, &WhoAmI {}, state.timeout()).await {
        Ok(me) => {
            state.limiter.succeeded(token);
            tracing::info!(principal = %me.principal, "console login");
            let id = state.sessions.create(me.principal, me.roles, hash);
            let secure = state.secure(&headers);
            let max_age = state.sessions.max_age().as_secs();
            let mut resp =
                (StatusCode::SEE_OTHER, [(header::LOCATION, "/console")]).into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                cookie_header(COOKIE_NAME, &id, max_age, secure),
            );
            h.append(
                header::SET_COOKIE,
                cookie_header(LOGIN_CSRF_COOKIE, "", 0, secure),
            );
            resp
        }
        Err(e @ CallError::Refused(_)) => {
            state.limiter.failed(addr, token);
            state.core.metrics.login_failures.inc();
            tracing::warn!(client = %addr, reason = %e.text(), "console login refused");
            fresh_form(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some("that token is not valid here".into()),
            )
        }
        // Not the person's fault: nothing is counted against them.
        Err(e) => fresh_form(
            &state,
            &headers,
            StatusCode::SERVICE_UNAVAILABLE,
            Some(e.text()),
        ),
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn logout(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(s) = state.sessions.get(&headers) {
        if !same_origin(&headers) || !same(&s.csrf, &f.csrf) {
            return refusal(StatusCode::FORBIDDEN, "that form came from elsewhere");
        }
        state.sessions.end(&headers);
    }
    let mut resp = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, "/console/login")],
    )
        .into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(COOKIE_NAME, "", 0, state.secure(&headers)),
    );
    resp
}
