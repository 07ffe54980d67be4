//! A fake Slack Web API that speaks the documented HTTP shapes: `auth.test`,
//! `chat.postMessage`, `chat.update`, `chat.postEphemeral`, `apps.connections.open`, and a
//! `response_url` sink. Bearer tokens are checked (`invalid_auth` otherwise); `Retry-After`
//! 429s, 5xx and API errors can be injected, and a per-channel rate limit like Slack's
//! ("about one message per second per channel") can be enforced. Every call is recorded.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

mod socket;
pub use socket::SocketMode;

/// What the fake answers instead of the real thing.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// HTTP 429 with `Retry-After: <secs>` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// This HTTP status with an empty body (a 5xx outage).
    Status(u16),
    /// HTTP 200 `{"ok": false, "error": <code>}`.
    Api(String),
}

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `chat.postMessage`, `chat.update`, ...
    pub method: String,
    /// The channel as asked (a name or an id).
    pub channel: Option<String>,
    /// The channel id it resolved to.
    pub channel_id: Option<String>,
    pub thread_ts: Option<String>,
    /// The message's ts: assigned (post) or targeted (update).
    pub ts: Option<String>,
    pub text: String,
    pub blocks: Value,
    pub body: Value,
    pub at: Instant,
    /// `ok`, or what was answered instead (`429`, `503`, `error:channel_not_found`).
    pub outcome: String,
}

impl Call {
    pub fn ok(&self) -> bool {
        self.outcome == "ok"
    }

    /// Text and every string inside the blocks, for assertions.
    pub fn all_text(&self) -> String {
        fn walk(v: &Value, out: &mut String) {
            match v {
                Value::String(s) => {
                    out.push_str(s);
                    out.push('\n');
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                Value::Object(o) => o.values().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut s = self.text.clone();
        s.push('\n');
        walk(&self.blocks, &mut s);
        s
    }
}

#[derive(Debug, Clone)]
pub struct FakeSlackConfig {
    pub bot_token: String,
    /// `xapp-…`: `apps.connections.open` with it hands out the fake's Socket Mode URL.
    pub app_token: String,
    /// When set, a second message to one channel sooner than this after the previous one is
    /// answered 429 with `Retry-After: 1`, as Slack does.
    pub channel_rate: Option<Duration>,
}

impl Default for FakeSlackConfig {
    fn default() -> Self {
        FakeSlackConfig {
            bot_token: "xoxb-test-token".into(),
            app_token: "xapp-test-token".into(),
            channel_rate: None,
        }
    }
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    failures: HashMap<String, VecDeque<Failure>>,
    down: Option<u16>,
    last_send: HashMap<String, Instant>,
    seq: u64,
    responses: Vec<(String, Value)>,
    /// User groups: (id, handle, members).
    groups: Vec<(String, String, Vec<String>)>,
    /// ts → (channel id, text, blocks): the messages as they stand now.
    messages: HashMap<String, (String, Option<String>, String, Value)>,
}

#[derive(Clone)]
pub struct FakeSlack {
    url: String,
    cfg: FakeSlackConfig,
    inner: Arc<Mutex<Inner>>,
    socket: SocketMode,
    _stop: Arc<StopOnDrop>,
}

struct StopOnDrop(CancellationToken);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

fn channel_id(channel: &str) -> String {
    match channel.strip_prefix('#') {
        // Names resolve to a stable made-up id, as Slack resolves them to the real one.
        Some(name) => {
            let h = name
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
            format!("C{:08X}", h as u32)
        }
        None => channel.to_string(),
    }
}

impl FakeSlack {
    pub async fn start(cfg: FakeSlackConfig) -> FakeSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let socket = SocketMode::start(stop.clone()).await;
        let fake = FakeSlack {
            url,
            cfg,
            inner: Arc::default(),
            socket,
            _stop: Arc::new(StopOnDrop(stop.clone())),
        };
        let app = Router::new()
            .route("/api/{method}", post(api).get(api_get))
            .route("/response/{id}", post(response))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        fake
    }

    /// The base to set as `SLACK_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.url)
    }

    /// A fresh `response_url` (its posts are in [`FakeSlack::responses`]).
    pub fn response_url(&self) -> String {
        let mut i = self.inner.lock().unwrap();
        i.seq += 1;
        format!("{}/response/{}", self.url, i.seq)
    }

    /// The prefix every `response_url` of this fake starts with.
    pub fn response_url_prefix(&self) -> String {
        format!("{}/response/", self.url)
    }

    pub fn bot_token(&self) -> &str {
        &self.cfg.bot_token
    }

    pub fn app_token(&self) -> &str {
        &self.cfg.app_token
    }

    /// The Socket Mode side: connected clients, envelopes to push, acks received.
    pub fn socket(&self) -> &SocketMode {
        &self.socket
    }

    /// The next `n` calls of `method` get `failure`.
    pub fn fail_next(&self, method: &str, n: usize, failure: Failure) {
        let mut i = self.inner.lock().unwrap();
        let q = i.failures.entry(method.to_string()).or_default();
        q.extend(std::iter::repeat_n(failure, n));
    }

    /// Defines a user group (`S…`) and its members, as `usergroups.list` lists it.
    pub fn set_group(&self, id: &str, handle: &str, users: &[&str]) {
        let mut i = self.inner.lock().unwrap();
        i.groups.retain(|(g, _, _)| g != id);
        i.groups.push((
            id.to_string(),
            handle.to_string(),
            users.iter().map(|u| u.to_string()).collect(),
        ));
    }

    /// Every call answers this HTTP status until [`FakeSlack::up`].
    pub fn down(&self, status: u16) {
        self.inner.lock().unwrap().down = Some(status);
    }

    pub fn up(&self) {
        self.inner.lock().unwrap().down = None;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Accepted calls of `method`.
    pub fn ok_calls(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.ok())
            .collect()
    }

    /// What was posted to `response_url`s: (url path id, body).
    pub fn responses(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().responses.clone()
    }

    /// The current text (with blocks' text) of the message `ts`, after updates.
    pub fn message(&self, ts: &str) -> Option<String> {
        let i = self.inner.lock().unwrap();
        i.messages.get(ts).map(|(_, _, text, blocks)| {
            Call {
                method: String::new(),
                channel: None,
                channel_id: None,
                thread_ts: None,
                ts: None,
                text: text.clone(),
                blocks: blocks.clone(),
                body: Value::Null,
                at: Instant::now(),
                outcome: String::new(),
            }
            .all_text()
        })
    }

    /// A message someone else posted (a user's mention), so replies can thread under it.
    pub fn add_user_message(&self, channel_id: &str, ts: &str, text: &str) {
        self.inner.lock().unwrap().messages.insert(
            ts.to_string(),
            (channel_id.to_string(), None, text.to_string(), Value::Null),
        );
    }

    /// Messages posted at the top of a channel (not in a thread): their ts.
    pub fn top_level(&self) -> Vec<String> {
        self.ok_calls("chat.postMessage")
            .into_iter()
            .filter(|c| c.thread_ts.is_none())
            .filter_map(|c| c.ts)
            .collect()
    }
}

fn slack_error(code: &str) -> Response {
    axum::Json(json!({"ok": false, "error": code})).into_response()
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Value {
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
        let mut m = serde_json::Map::new();
        for (k, v) in pairs {
            let val = serde_json::from_str(&v).unwrap_or(Value::String(v));
            m.insert(k, val);
        }
        Value::Object(m)
    } else {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    }
}

/// Read methods (`usergroups.list`) come as GET with a query string.
async fn api_get(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let mut h = headers;
    h.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let body = parse_body(&h, &Bytes::from(query.unwrap_or_default()));
    handle(fake, method, h, body).await
}

async fn api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = parse_body(&headers, &body);
    handle(fake, method, headers, body).await
}

async fn handle(fake: FakeSlack, method: String, headers: HeaderMap, body: Value) -> Response {
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let channel = s("channel");
    let mut call = Call {
        method: method.clone(),
        channel_id: channel.as_deref().map(channel_id),
        channel: channel.clone(),
        thread_ts: s("thread_ts"),
        ts: s("ts"),
        text: s("text").unwrap_or_default(),
        blocks: body.get("blocks").cloned().unwrap_or(Value::Null),
        body: body.clone(),
        at: Instant::now(),
        outcome: "ok".into(),
    };
    let mut i = fake.inner.lock().unwrap();
    let record = |i: &mut Inner, call: Call| i.calls.push(call);

    if let Some(status) = i.down {
        call.outcome = status.to_string();
        record(&mut i, call);
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    if let Some(f) = i.failures.get_mut(&method).and_then(VecDeque::pop_front) {
        let resp = match &f {
            Failure::RateLimited { retry_after_secs } => {
                call.outcome = "429".into();
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", retry_after_secs.to_string())],
                    axum::Json(json!({"ok": false, "error": "ratelimited"})),
                )
                    .into_response()
            }
            Failure::Status(st) => {
                call.outcome = st.to_string();
                StatusCode::from_u16(*st).unwrap().into_response()
            }
            Failure::Api(code) => {
                call.outcome = format!("error:{code}");
                slack_error(code)
            }
        };
        record(&mut i, call);
        return resp;
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // apps.connections.open takes the app-level token, everything else the bot token.
    let token = if method == "apps.connections.open" {
        &fake.cfg.app_token
    } else {
        &fake.cfg.bot_token
    };
    if auth != format!("Bearer {token}") {
        call.outcome = "error:invalid_auth".into();
        record(&mut i, call);
        return slack_error("invalid_auth");
    }
    let sends = matches!(method.as_str(), "chat.postMessage" | "chat.update");
    if sends && let (Some(rate), Some(cid)) = (fake.cfg.channel_rate, &call.channel_id) {
        let now = Instant::now();
        if let Some(last) = i.last_send.get(cid)
            && now.duration_since(*last) < rate
        {
            call.outcome = "429".into();
            record(&mut i, call);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                axum::Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response();
        }
        i.last_send.insert(cid.clone(), now);
    }
    let resp = match method.as_str() {
        "auth.test" => json!({
            "ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "devops-bot",
            "team_id": "T0FAKE", "user_id": "U0BOT", "bot_id": "B0BOT"
        }),
        "chat.postMessage" => {
            let Some(cid) = call.channel_id.clone() else {
                call.outcome = "error:channel_not_found".into();
                record(&mut i, call);
                return slack_error("channel_not_found");
            };
            if call.text.is_empty() && call.blocks.is_null() {
                call.outcome = "error:no_text".into();
                record(&mut i, call);
                return slack_error("no_text");
            }
            if let Some(t) = &call.thread_ts
                && !i.messages.contains_key(t)
            {
                call.outcome = "error:thread_not_found".into();
                record(&mut i, call);
                return slack_error("thread_not_found");
            }
            i.seq += 1;
            let ts = format!("1700000000.{:06}", i.seq);
            call.ts = Some(ts.clone());
            i.messages.insert(
                ts.clone(),
                (
                    cid.clone(),
                    call.thread_ts.clone(),
                    call.text.clone(),
                    call.blocks.clone(),
                ),
            );
            json!({
                "ok": true, "channel": cid, "ts": ts,
                "message": {"type": "message", "text": call.text, "ts": ts, "user": "U0BOT", "bot_id": "B0BOT"}
            })
        }
        "chat.update" => {
            let (Some(cid), Some(ts)) = (call.channel.clone(), call.ts.clone()) else {
                call.outcome = "error:invalid_arguments".into();
                record(&mut i, call);
                return slack_error("invalid_arguments");
            };
            match i.messages.get_mut(&ts) {
                // chat.update wants the channel id, not a name.
                Some(m) if m.0 == cid => {
                    m.2 = call.text.clone();
                    m.3 = call.blocks.clone();
                }
                Some(_) => {
                    call.outcome = "error:channel_not_found".into();
                    record(&mut i, call);
                    return slack_error("channel_not_found");
                }
                None => {
                    call.outcome = "error:message_not_found".into();
                    record(&mut i, call);
                    return slack_error("message_not_found");
                }
            }
            json!({"ok": true, "channel": cid, "ts": ts, "text": call.text, "message": {"text": call.text}})
        }
        "chat.postEphemeral" => {
            i.seq += 1;
            json!({"ok": true, "message_ts": format!("1700000000.{:06}", i.seq)})
        }
        "apps.connections.open" => json!({"ok": true, "url": fake.socket.url()}),
        "usergroups.list" => {
            let with_users = body
                .get("include_users")
                .is_some_and(|v| v == "true" || v == true);
            let groups: Vec<Value> = i
                .groups
                .iter()
                .map(|(id, handle, users)| {
                    let mut g = json!({
                        "id": id, "team_id": "T0FAKE", "is_usergroup": true, "is_subteam": true,
                        "name": handle, "description": "", "handle": handle, "is_external": false,
                        "date_create": 1_700_000_000, "date_update": 1_700_000_000, "date_delete": 0,
                        "auto_type": null, "created_by": "U0ADMIN", "updated_by": "U0ADMIN",
                        "deleted_by": null, "prefs": {"channels": [], "groups": []},
                        "user_count": users.len()
                    });
                    if with_users {
                        g["users"] = json!(users);
                    }
                    g
                })
                .collect();
            json!({"ok": true, "usergroups": groups})
        }
        _ => {
            call.outcome = "error:unknown_method".into();
            record(&mut i, call);
            return slack_error("unknown_method");
        }
    };
    record(&mut i, call);
    axum::Json(resp).into_response()
}

async fn response(
    State(fake): State<FakeSlack>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = parse_body(&headers, &body);
    fake.inner.lock().unwrap().responses.push((id, body));
    // Slack's response_url answers a plain "ok".
    (StatusCode::OK, [("content-type", "text/html")], "ok").into_response()
}

/// Signs a request body like Slack does (`X-Slack-Signature`).
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}
