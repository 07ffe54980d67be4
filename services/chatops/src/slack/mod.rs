//! Where messages go: the Slack Web API (slack-morphism) or, without a bot token, the
//! console. Both take the same [`Content`] and classify failures the same way, so the
//! sender's pacing and retries do not care which one is behind.

mod console;
mod groups;
pub mod probe;
pub mod text;
mod web;

use std::time::Duration;

pub use console::ConsoleSink;
pub use groups::Groups;
pub use web::WebSlack;

/// A message: the fallback/notification text and its Block Kit blocks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Content {
    pub text: String,
    #[serde(default)]
    pub blocks: serde_json::Value,
}

impl Content {
    pub fn text(text: impl Into<String>) -> Content {
        let text = text.into();
        Content {
            blocks: serde_json::json!([{
                "type": "section",
                "text": {"type": "mrkdwn", "text": text}
            }]),
            text,
        }
    }
}

/// A posted message: Slack's id of it and the id of the channel it is in (names like
/// `#incidents` are resolved by Slack; `chat.update` needs the id).
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    pub ts: String,
    pub channel_id: String,
}

/// Why Slack did not take a message, by what to do next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SlackError {
    /// 429: wait this long, then send the same message again.
    #[error("rate limited, retry after {0:?}")]
    RateLimited(Duration),
    /// 5xx, timeouts, network errors: back off and try again.
    #[error("slack unavailable: {0}")]
    Unavailable(String),
    /// The token or the channel needs an operator (revoked token, bot not in channel):
    /// retried slowly, nothing is dropped meanwhile.
    #[error("slack refused the bot: {0}")]
    Blocked(String),
    /// This message can never be sent as it is (invalid blocks, too long, deleted parent).
    #[error("slack rejected the message: {0}")]
    Rejected(String),
}

impl SlackError {
    /// Classifies a Web API `error` code.
    pub fn from_api_code(code: &str) -> SlackError {
        match code {
            "ratelimited" => SlackError::RateLimited(Duration::from_secs(1)),
            "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout"
            | "team_added_to_org" => SlackError::Unavailable(code.to_string()),
            "not_authed"
            | "invalid_auth"
            | "account_inactive"
            | "token_revoked"
            | "token_expired"
            | "no_permission"
            | "missing_scope"
            | "not_in_channel"
            | "channel_not_found"
            | "is_archived"
            | "org_login_required"
            | "ekm_access_denied"
            | "access_denied"
            | "team_access_not_granted" => SlackError::Blocked(code.to_string()),
            other => SlackError::Rejected(other.to_string()),
        }
    }
}

/// The sink every message leaves through.
#[derive(Clone)]
pub enum Sink {
    Web(WebSlack),
    Console(ConsoleSink),
}

impl Sink {
    pub async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        content: &Content,
    ) -> Result<Posted, SlackError> {
        match self {
            Sink::Web(w) => w.post(channel, thread_ts, content).await,
            Sink::Console(c) => Ok(c.post(channel, thread_ts, content)),
        }
    }

    pub async fn update(
        &self,
        channel_id: &str,
        ts: &str,
        content: &Content,
    ) -> Result<(), SlackError> {
        match self {
            Sink::Web(w) => w.update(channel_id, ts, content).await,
            Sink::Console(c) => {
                c.update(channel_id, ts, content);
                Ok(())
            }
        }
    }

    pub async fn ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        content: &Content,
    ) -> Result<(), SlackError> {
        match self {
            Sink::Web(w) => w.ephemeral(channel, user, thread_ts, content).await,
            Sink::Console(c) => {
                c.ephemeral(channel, user, content);
                Ok(())
            }
        }
    }

    pub fn is_console(&self) -> bool {
        matches!(self, Sink::Console(_))
    }
}
