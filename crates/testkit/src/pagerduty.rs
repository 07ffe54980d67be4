//! A fake PagerDuty Events API v2 (`POST /v2/enqueue`) and a webhook sink (`POST
//! /hooks/{name}`), the pager stand-ins of escalation tests. The Events API is checked as
//! documented: `routing_key` (one of the configured keys), `event_action` `trigger` /
//! `acknowledge` / `resolve`, `dedup_key`, and for a trigger `payload.summary`, `source` and
//! `severity` (`critical`, `error`, `warning`, `info`); a valid event is answered 202
//! `{"status":"success","message":"Event processed","dedup_key":…}`, an invalid one 400
//! `{"status":"invalid event",…}`. Triggers with the same dedup key join one alert, as in
//! PagerDuty. 5xx answers can be injected. Every call is recorded.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `enqueue` or `hook:<name>`.
    pub endpoint: String,
    pub headers: BTreeMap<String, String>,
    pub raw: Vec<u8>,
    pub body: Value,
    /// The HTTP status answered.
    pub status: u16,
}

/// An alert as PagerDuty keeps it: one per dedup key.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub routing_key: String,
    pub dedup_key: String,
    /// `triggered` or `resolved`.
    pub status: String,
    /// Accepted triggers for this dedup key (a re-sent trigger joins the alert).
    pub triggers: usize,
    pub summary: String,
    pub severity: String,
}

#[derive(Default)]
struct Inner {
    routing_keys: Vec<String>,
    calls: Vec<Call>,
    fail: HashMap<String, VecDeque<u16>>,
    alerts: BTreeMap<String, Alert>,
}

#[derive(Clone)]
pub struct FakePagerDuty {
    url: String,
    inner: Arc<Mutex<Inner>>,
    _stop: Arc<StopOnDrop>,
}

struct StopOnDrop(CancellationToken);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl FakePagerDuty {
    /// A fake that accepts events for these routing keys.
    pub async fn start(routing_keys: &[&str]) -> FakePagerDuty {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let inner = Inner {
            routing_keys: routing_keys.iter().map(|k| k.to_string()).collect(),
            ..Inner::default()
        };
        let fake = FakePagerDuty {
            url,
            inner: Arc::new(Mutex::new(inner)),
            _stop: Arc::new(StopOnDrop(stop.clone())),
        };
        let app = Router::new()
            .route("/v2/enqueue", post(enqueue))
            .route("/hooks/{name}", post(hook))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        fake
    }

    /// The Events API base (`…/v2/enqueue` is below it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A webhook URL whose calls are recorded as `hook:<name>`.
    pub fn hook_url(&self, name: &str) -> String {
        format!("{}/hooks/{name}", self.url)
    }

    /// The next `n` calls of `endpoint` (`enqueue`, `hook:<name>`) are answered `status`
    /// with an empty body.
    pub fn fail_next(&self, endpoint: &str, n: usize, status: u16) {
        let mut i = self.inner.lock().unwrap();
        let q = i.fail.entry(endpoint.to_string()).or_default();
        q.extend(std::iter::repeat_n(status, n));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Calls of one endpoint (`enqueue`, `hook:<name>`).
    pub fn calls_to(&self, endpoint: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.endpoint == endpoint)
            .collect()
    }

    /// Accepted Events API calls with this `event_action`.
    pub fn accepted(&self, event_action: &str) -> Vec<Call> {
        self.calls_to("enqueue")
            .into_iter()
            .filter(|c| c.status == 202 && c.body["event_action"] == event_action)
            .collect()
    }

    pub fn alerts(&self) -> Vec<Alert> {
        self.inner
            .lock()
            .unwrap()
            .alerts
            .values()
            .cloned()
            .collect()
    }
}

fn record(fake: &FakePagerDuty, endpoint: String, headers: &HeaderMap, raw: &Bytes) -> Call {
    Call {
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        raw: raw.to_vec(),
        body: serde_json::from_slice(raw).unwrap_or(Value::Null),
        status: (fake.inner.lock().unwrap().fail.get_mut(&endpoint))
            .and_then(|q| q.pop_front())
            .unwrap_or(0),
        endpoint,
    }
}

fn keep(fake: &FakePagerDuty, call: Call) {
    fake.inner.lock().unwrap().calls.push(call);
}

async fn hook(
    State(fake): State<FakePagerDuty>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let mut call = record(&fake, format!("hook:{name}"), &headers, &raw);
    if call.status == 0 {
        call.status = 200;
    }
    let status = StatusCode::from_u16(call.status).unwrap();
    keep(&fake, call);
    (status, axum::Json(json!({"ok": true}))).into_response()
}

/// Why an event is invalid, as PagerDuty lists it.
fn invalid(body: &Value, keys: &[String]) -> Vec<String> {
    let mut errors = Vec::new();
    let s = |v: &Value| v.as_str().map(str::to_string);
    match s(&body["routing_key"]) {
        Some(k) if keys.contains(&k) => {}
        _ => errors.push("'routing_key' is invalid".to_string()),
    }
    let action = s(&body["event_action"]).unwrap_or_default();
    if !["trigger", "acknowledge", "resolve"].contains(&action.as_str()) {
        errors.push("'event_action' is invalid".into());
    }
    if action != "trigger" && s(&body["dedup_key"]).is_none() {
        errors.push("'dedup_key' is required for acknowledge and resolve".into());
    }
    if action == "trigger" {
        let p = &body["payload"];
        if s(&p["summary"]).is_none_or(|x| x.is_empty() || x.len() > 1024) {
            errors.push("'payload.summary' is missing or too long".into());
        }
        if s(&p["source"]).is_none() {
            errors.push("'payload.source' is missing".into());
        }
        let sev = s(&p["severity"]).unwrap_or_default();
        if !["critical", "error", "warning", "info"].contains(&sev.as_str()) {
            errors.push("'payload.severity' is invalid".into());
        }
    }
    errors
}

async fn enqueue(State(fake): State<FakePagerDuty>, headers: HeaderMap, raw: Bytes) -> Response {
    let mut call = record(&fake, "enqueue".into(), &headers, &raw);
    if call.status != 0 {
        let status = StatusCode::from_u16(call.status).unwrap();
        keep(&fake, call);
        return status.into_response();
    }
    let body = call.body.clone();
    let mut i = fake.inner.lock().unwrap();
    let errors = invalid(&body, &i.routing_keys);
    if !errors.is_empty() {
        call.status = 400;
        i.calls.push(call);
        let answer = json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors});
        return (StatusCode::BAD_REQUEST, axum::Json(answer)).into_response();
    }
    let key = body["dedup_key"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let action = body["event_action"].as_str().unwrap_or_default();
    match action {
        "trigger" => {
            let alert = i.alerts.entry(key.clone()).or_insert_with(|| Alert {
                routing_key: body["routing_key"].as_str().unwrap_or_default().into(),
                dedup_key: key.clone(),
                status: "triggered".into(),
                triggers: 0,
                summary: String::new(),
                severity: String::new(),
            });
            alert.triggers += 1;
            alert.status = "triggered".into();
            alert.summary = body["payload"]["summary"].as_str().unwrap_or("").into();
            alert.severity = body["payload"]["severity"].as_str().unwrap_or("").into();
        }
        // PagerDuty accepts a resolve of an unknown key and does nothing.
        "resolve" => {
            if let Some(a) = i.alerts.get_mut(&key) {
                a.status = "resolved".into();
            }
        }
        _ => {}
    }
    call.status = 202;
    i.calls.push(call);
    let answer = json!({"status": "success", "message": "Event processed", "dedup_key": key});
    (StatusCode::ACCEPTED, axum::Json(answer)).into_response()
}
