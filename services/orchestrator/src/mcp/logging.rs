//! The MCP logging capability: a client picks a level with `logging/setLevel` and then
//! receives, as `notifications/message`, what the server logs about its own session's calls
//! at or above that level. Nothing is sent before a level is set, so clients that never ask
//! see no notifications. The level belongs to the session handler: over HTTP a session that
//! continues on another replica starts again without a level until the client sets one.
#![allow(deprecated)] // rmcp marks logging deprecated (SEP-2577); clients still use it.

use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
use rmcp::service::RequestContext;

/// The logger name clients see on every message.
pub const LOGGER: &str = "runbooks";

/// Severity rank (RFC 5424 order, as the protocol defines it).
fn rank(l: LoggingLevel) -> u8 {
    match l {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// One session's chosen level (none until `logging/setLevel`).
#[derive(Clone, Default)]
pub struct SessionLog {
    level: Arc<Mutex<Option<LoggingLevel>>>,
}

impl SessionLog {
    pub fn set(&self, level: LoggingLevel) {
        *self.level.lock().unwrap_or_else(|p| p.into_inner()) = Some(level);
    }

    /// Whether a message at `level` goes to the client.
    pub fn wants(&self, level: LoggingLevel) -> bool {
        let chosen = *self.level.lock().unwrap_or_else(|p| p.into_inner());
        chosen.is_some_and(|c| rank(level) >= rank(c))
    }

    /// Sends `data` to the session's client when it asked for `level` or below. A client
    /// gone away is not an error of the call being logged.
    pub async fn send(
        &self,
        ctx: &RequestContext<RoleServer>,
        level: LoggingLevel,
        data: serde_json::Value,
    ) {
        if !self.wants(level) {
            return;
        }
        let message = LoggingMessageNotificationParam::new(level, data).with_logger(LOGGER);
        if let Err(e) = ctx.peer.notify_logging_message(message).await {
            tracing::debug!(error = %e, "mcp log notification not delivered");
        }
    }
}

/// The level of a finished tool call's message: refusals are warnings, failures errors.
pub fn call_level(error: Option<&str>) -> LoggingLevel {
    match error {
        None => LoggingLevel::Info,
        Some(t) if t.starts_with("refused:") => LoggingLevel::Warning,
        Some(_) => LoggingLevel::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_below_the_chosen_level_are_dropped() {
        let log = SessionLog::default();
        assert!(
            !log.wants(LoggingLevel::Emergency),
            "nothing before setLevel"
        );
        log.set(LoggingLevel::Warning);
        assert!(!log.wants(LoggingLevel::Info));
        assert!(log.wants(LoggingLevel::Warning));
        assert!(log.wants(LoggingLevel::Error));
        log.set(LoggingLevel::Debug);
        assert!(log.wants(LoggingLevel::Info));
        assert_eq!(call_level(None), LoggingLevel::Info);
        assert_eq!(call_level(Some("refused: no")), LoggingLevel::Warning);
        assert_eq!(call_level(Some("boom")), LoggingLevel::Error);
    }
}
