//! What can go wrong inside the health-monitor, classified once for HTTP and RPC.

use domain::commands::{CommandReply, ErrorCode};
use store::StoreError;

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
    /// What a bus consumer does with this failure: database failures as the store sorts
    /// them (see `store::DbErrorKind::handler_error`), waiting while a dependency is
    /// unavailable, dead-lettering the rest (they will never work).
    pub fn into_handler_error(self) -> bus::HandlerError {
        match &self {
            MonitorError::Database(e) => {
                let kind = e.kind();
                kind.handler_error(self)
            }
            MonitorError::Unavailable(_) => bus::HandlerError::unavailable(self),
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
