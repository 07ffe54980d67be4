//! Console sessions: who logged in (the principal the orchestrator named for their token),
//! the SHA-256 of that token (what every button relays, so the orchestrator judges the
//! person, not the console), and the CSRF token every form must carry. Kept in this
//! process's memory: a restart logs everyone out, and replicas need sticky sessions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie (HttpOnly, SameSite=Strict, Path=/console).
pub const COOKIE_NAME: &str = "rb_console";
/// Before login: the double-submit CSRF cookie of the login form.
pub const LOGIN_CSRF_COOKIE: &str = "rb_console_login";
/// Sessions remembered at most; beyond it the oldest go.
const MAX_SESSIONS: usize = 10_000;

/// A message shown once on the next page (what a button did, or why it was refused).
#[derive(Debug, Clone)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub principal: String,
    pub roles: Vec<String>,
    /// Hex SHA-256 of the person's token, relayed as `x-runbooks-token-sha256`.
    pub token_sha256: String,
    pub csrf: String,
    pub flash: Option<Flash>,
    created: Instant,
    last_seen: Instant,
}

/// A fresh random value of 32 bytes, in hex.
pub fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Constant-time equality of two strings (CSRF tokens).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name` in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub struct Sessions {
    /// Keyed by the SHA-256 of the cookie value: a memory dump holds no usable cookie.
    by_id: Mutex<HashMap<[u8; 32], Session>>,
    idle: Duration,
    max_age: Duration,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    pub fn new(idle: Duration, max_age: Duration) -> Sessions {
        Sessions {
            by_id: Mutex::default(),
            idle,
            max_age,
        }
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// Starts a session; its cookie value.
    pub fn create(&self, principal: String, roles: Vec<String>, token_sha256: String) -> String {
        let id = random_hex();
        let now = Instant::now();
        let mut map = self.by_id.lock().expect("sessions lock");
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| !self.expired(s, now));
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            key(&id),
            Session {
                principal,
                roles,
                token_sha256,
                csrf: random_hex(),
                flash: None,
                created: now,
                last_seen: now,
            },
        );
        id
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) > self.idle || now.duration_since(s.created) > self.max_age
    }

    /// The live session of a request's cookie (its idle clock restarted), taking its flash.
    pub fn get(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE_NAME)?;
        let k = key(id);
        let now = Instant::now();
        let mut map = self.by_id.lock().expect("sessions lock");
        let s = map.get_mut(&k)?;
        if self.expired(s, now) {
            map.remove(&k);
            return None;
        }
        s.last_seen = now;
        let out = s.clone();
        s.flash = None;
        Some(out)
    }

    /// Leaves a message for the session's next page.
    pub fn flash(&self, headers: &HeaderMap, ok: bool, text: String) {
        if let Some(id) = cookie(headers, COOKIE_NAME)
            && let Some(s) = self.by_id.lock().expect("sessions lock").get_mut(&key(id))
        {
            s.flash = Some(Flash { ok, text });
        }
    }

    pub fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE_NAME) {
            self.by_id.lock().expect("sessions lock").remove(&key(id));
        }
    }

    /// Ends every session of a token the orchestrator no longer accepts.
    pub fn end_token(&self, token_sha256: &str) {
        self.by_id
            .lock()
            .expect("sessions lock")
            .retain(|_, s| s.token_sha256 != token_sha256);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_str(&format!("a=b; {COOKIE_NAME}={v}")).unwrap(),
        );
        h
    }

    #[test]
    fn sessions_expire_and_flash_once() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(3600));
        let id = s.create("anna".into(), vec!["approver".into()], "ab".into());
        let h = with_cookie(&id);
        assert_eq!(s.get(&h).unwrap().principal, "anna");
        assert!(s.get(&with_cookie("forged")).is_none());
        s.flash(&h, false, "refused".into());
        assert_eq!(s.get(&h).unwrap().flash.unwrap().text, "refused");
        assert!(s.get(&h).unwrap().flash.is_none(), "shown once");
        s.end_token("ab");
        assert!(s.get(&h).is_none());
        let short = Sessions::new(Duration::ZERO, Duration::from_secs(3600));
        let id = short.create("x".into(), vec![], "cd".into());
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.get(&with_cookie(&id)).is_none(), "idle too long");
    }

    #[test]
    fn csrf_compare_is_exact() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd") && !same("abc", "ab"));
    }
}
