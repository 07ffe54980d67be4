//! `/slack/events`, `/slack/commands`, `/slack/interactions`: verified, acknowledged at once,
//! worked on in the background.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tracing::{debug, warn};

use super::verify::{self, VerifyError};
use super::{Bot, SlashCommand};

pub fn routes(bot: Arc<Bot>) -> Router {
    Router::new()
        .route("/slack/events", post(events))
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .with_state(bot)
}

fn error(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({"error": msg}))).into_response()
}

/// `Ok(true)`: process it; `Ok(false)`: a Slack retry of a request already taken, answer
/// OK without doing it again.
async fn verified(bot: &Bot, headers: &HeaderMap, body: &[u8]) -> Result<bool, Response> {
    let Some(v) = &bot.verifier else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "slack.signing_secret is not configured",
        ));
    };
    match v.verify(&bot.pool, headers, body).await {
        Ok(()) => Ok(true),
        Err(VerifyError::Replayed) if headers.contains_key("x-slack-retry-num") => {
            debug!("slack retry of a request already received");
            Ok(false)
        }
        Err(VerifyError::Store(e)) => {
            warn!(error = %e, "cannot record a slack request");
            Err(error(StatusCode::SERVICE_UNAVAILABLE, "try again"))
        }
        Err(e) => {
            debug!(reason = %e, "slack request refused");
            Err(error(StatusCode::UNAUTHORIZED, &e.to_string()))
        }
    }
}

/// Handles one Events API payload (HTTP or Socket Mode); the answer body for HTTP.
pub async fn handle_event(bot: &Arc<Bot>, v: &Value) -> Value {
    match v.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            json!({"challenge": v.get("challenge").cloned().unwrap_or_default()})
        }
        Some("event_callback") => {
            let event_id = v.get("event_id").and_then(Value::as_str).unwrap_or("");
            // Slack retries an event it thinks we missed: do it once.
            match verify::first_time(&bot.pool, &format!("event:{event_id}")).await {
                Ok(true) => {}
                Ok(false) => {
                    debug!(event_id, "slack event already handled");
                    return json!({});
                }
                Err(e) => warn!(error = %e, "event id not recorded"),
            }
            let e = v.get("event").cloned().unwrap_or_default();
            let kind = e.get("type").and_then(Value::as_str).unwrap_or("");
            let from_bot = e.get("bot_id").is_some() || e.get("subtype").is_some();
            let direct =
                kind == "message" && e.get("channel_type").and_then(Value::as_str) == Some("im");
            if (kind == "app_mention" || direct) && !from_bot {
                let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let (user, channel, text) = (s("user"), s("channel"), s("text"));
                let ts = e
                    .get("thread_ts")
                    .or_else(|| e.get("ts"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let bot = bot.clone();
                tokio::spawn(async move { bot.mention(&user, &channel, &ts, &text).await });
            }
            json!({})
        }
        _ => json!({}),
    }
}

async fn events(State(bot): State<Arc<Bot>>, headers: HeaderMap, body: Bytes) -> Response {
    match verified(&bot, &headers, &body).await {
        Ok(true) => {}
        Ok(false) => return axum::Json(json!({})).into_response(),
        Err(r) => return r,
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    axum::Json(handle_event(&bot, &v).await).into_response()
}

/// The body of an immediate slash-command answer.
pub fn immediate_body(i: &super::Immediate) -> Value {
    json!({
        "response_type": if i.in_channel { "in_channel" } else { "ephemeral" },
        "text": i.content.text,
        "blocks": i.content.blocks,
    })
}

async fn commands(State(bot): State<Arc<Bot>>, headers: HeaderMap, body: Bytes) -> Response {
    match verified(&bot, &headers, &body).await {
        Ok(true) => {}
        Ok(false) => return StatusCode::OK.into_response(),
        Err(r) => return r,
    }
    let cmd: SlashCommand = match serde_urlencoded_form(&body) {
        Ok(c) => c,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid slash command form: {e}"),
            );
        }
    };
    let answer = bot.slash(cmd).await;
    axum::Json(immediate_body(&answer)).into_response()
}

async fn interactions(State(bot): State<Arc<Bot>>, headers: HeaderMap, body: Bytes) -> Response {
    match verified(&bot, &headers, &body).await {
        Ok(true) => {}
        Ok(false) => return StatusCode::OK.into_response(),
        Err(r) => return r,
    }
    #[derive(serde::Deserialize)]
    struct Form {
        payload: String,
    }
    let payload = match serde_urlencoded_form::<Form>(&body)
        .map_err(|e| e.to_string())
        .and_then(|f| serde_json::from_str::<Value>(&f.payload).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid interaction payload: {e}"),
            );
        }
    };
    if payload.get("type").and_then(Value::as_str) == Some("block_actions") {
        let bot = bot.clone();
        tokio::spawn(async move { bot.interaction(&payload).await });
    }
    StatusCode::OK.into_response()
}

fn serde_urlencoded_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_urlencoded::from_bytes(body).map_err(|e| e.to_string())
}
