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

    /// What a bus consumer does with this failure: wait (without spending the message's
    /// attempts) while the database is unavailable, retry what may work next time,
    /// dead-letter what never will. The one translation the health-monitor's consumers use.
    pub fn into_handler_error(self) -> bus::HandlerError {
        match &self {
            MonitorError::Database(e) if e.kind() == DbErrorKind::Unavailable => {
                bus::HandlerError::unavailable(self)
            }
            MonitorError::Unavailable(_) => bus::HandlerError::unavailable(self),
            _ if self.is_transient() => bus::HandlerError::retry(self),
            _ => bus::HandlerError::reject(self),
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
