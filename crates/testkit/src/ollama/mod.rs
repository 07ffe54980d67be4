//! A fake Ollama: `/api/chat` answers scripted replies (tool calls in Ollama's JSON shape,
//! plain text, or HTTP errors) in order, `/api/tags` lists the model. Requests are recorded,
//! so tests can check which tools and which user text were sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub enum Reply {
    /// `message.tool_calls = [{function: {name, arguments}}]`.
    ToolCall { name: String, arguments: Value },
    /// Several tool calls at once.
    ToolCalls(Vec<(String, Value)>),
    /// A plain answer without a tool call.
    Text(String),
    /// An HTTP error with Ollama's `{"error": ...}` body.
    Error(u16, String),
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    requests: Vec<Value>,
}

#[derive(Clone)]
pub struct FakeOllama {
    url: String,
    model: String,
    inner: Arc<Mutex<Inner>>,
    _stop: Arc<StopOnDrop>,
}

struct StopOnDrop(CancellationToken);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl FakeOllama {
    pub async fn start(model: &str) -> FakeOllama {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let fake = FakeOllama {
            url,
            model: model.to_string(),
            inner: Arc::default(),
            _stop: Arc::new(StopOnDrop(stop.clone())),
        };
        let app = Router::new()
            .route("/api/chat", post(chat))
            .route("/api/tags", get(tags))
            // The server holds the script, not the handle: dropping every handle stops it,
            // so a test can take Ollama down.
            .with_state(Served {
                model: fake.model.clone(),
                inner: fake.inner.clone(),
            });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        fake
    }

    /// The base to set as `OLLAMA_URL`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Queues the reply to the next `/api/chat` request.
    pub fn script(&self, reply: Reply) {
        self.inner.lock().unwrap().script.push_back(reply);
    }

    pub fn tool_call(&self, name: &str, arguments: Value) {
        self.script(Reply::ToolCall {
            name: name.into(),
            arguments,
        });
    }

    /// The bodies of the `/api/chat` requests received.
    pub fn requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().requests.clone()
    }
}

fn done(model: &str, message: Value) -> Value {
    json!({
        "model": model,
        "created_at": chrono::Utc::now().to_rfc3339(),
        "message": message,
        "done": true,
        "done_reason": "stop",
        "total_duration": 1_000_000u64,
        "load_duration": 1_000u64,
        "prompt_eval_count": 42u64,
        "prompt_eval_duration": 1_000u64,
        "eval_count": 7u64,
        "eval_duration": 1_000u64
    })
}

#[derive(Clone)]
struct Served {
    model: String,
    inner: Arc<Mutex<Inner>>,
}

async fn chat(State(fake): State<Served>, axum::Json(body): axum::Json<Value>) -> Response {
    let reply = {
        let mut i = fake.inner.lock().unwrap();
        i.requests.push(body.clone());
        i.script.pop_front()
    };
    if body.get("model").and_then(Value::as_str) != Some(fake.model.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": format!("model '{}' not found", body["model"])})),
        )
            .into_response();
    }
    let call = |name: &str, args: &Value| json!({"function": {"name": name, "arguments": args}});
    let message = match reply {
        Some(Reply::ToolCall { name, arguments }) => {
            json!({"role": "assistant", "content": "", "tool_calls": [call(&name, &arguments)]})
        }
        Some(Reply::ToolCalls(calls)) => json!({
            "role": "assistant", "content": "",
            "tool_calls": calls.iter().map(|(n, a)| call(n, a)).collect::<Vec<_>>()
        }),
        Some(Reply::Text(t)) => json!({"role": "assistant", "content": t}),
        Some(Reply::Error(status, msg)) => {
            return (
                StatusCode::from_u16(status).unwrap(),
                axum::Json(json!({"error": msg})),
            )
                .into_response();
        }
        None => json!({"role": "assistant", "content": "I am not sure what you mean."}),
    };
    axum::Json(done(&fake.model, message)).into_response()
}

async fn tags(State(fake): State<Served>) -> Response {
    axum::Json(json!({"models": [{
        "name": format!("{}:latest", fake.model), "model": format!("{}:latest", fake.model),
        "modified_at": "2026-11-01T10:00:00Z", "size": 2_019_393_189u64,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}
    }]}))
    .into_response()
}
