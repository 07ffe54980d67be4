//! What can go wrong inside the health-monitor, classified once for HTTP and RPC.

use domain::commands::{CommandReply, ErrorCode};
use store::{DbErrorKind, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Database(#[from] StoreError),
}

impl From<sqlx::Error> for MonitorError {
    fn from(e: sqlx::Error) -> Self {
        MonitorError::Database(StoreError::from(e))
    }
}

impl MonitorError {
    /// Whether trying again later may work (database unreachable, lock timeout).
    pub fn is_transient(&self) -> bool {
        match self {
            MonitorError::Database(e) => e.kind() != DbErrorKind::InvalidData,
            _ => false,
        }
    }

    pub fn into_reply(self) -> CommandReply {
        let code = match &self {
            MonitorError::BadRequest(_) => ErrorCode::BadRequest,
            MonitorError::NotFound(_) => ErrorCode::NotFound,
            MonitorError::Unavailable(_) => ErrorCode::Unavailable,
            MonitorError::Database(_) => ErrorCode::Unavailable,
        };
        if matches!(self, MonitorError::Database(_)) {
            tracing::error!(error = %self, "command failed");
        }
        CommandReply::err(code, self.to_string())
    }
}
