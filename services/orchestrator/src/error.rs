use domain::commands::{CommandReply, ErrorCode};
use store::{DbErrorKind, StoreError};

/// What the service layer (shared by REST, RPC and MCP) says went wrong; each variant maps to
/// one HTTP status and one RPC error code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::BadRequest(_) => ErrorCode::BadRequest,
            ServiceError::NotFound(_) => ErrorCode::NotFound,
            ServiceError::Conflict(_) => ErrorCode::Conflict,
            ServiceError::Forbidden(_) => ErrorCode::Forbidden,
            ServiceError::Unprocessable(_) => ErrorCode::Unprocessable,
            ServiceError::Unavailable(_) => ErrorCode::Unavailable,
            ServiceError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn into_reply(self) -> CommandReply {
        CommandReply::err(self.code(), self.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e.kind() {
            DbErrorKind::NotFound => ServiceError::NotFound(e.to_string()),
            DbErrorKind::UniqueViolation => ServiceError::Conflict(e.to_string()),
            DbErrorKind::InvalidData => ServiceError::Unprocessable(e.to_string()),
            DbErrorKind::Transient => ServiceError::Unavailable(e.to_string()),
            DbErrorKind::Other => ServiceError::Internal(e.to_string()),
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}
