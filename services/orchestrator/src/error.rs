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
    /// The infrastructure is unavailable (database unreachable or read-only, pool
    /// exhausted): nothing is wrong with the request.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// The request lost a race in the database (deadlock, serialization failure, lock or
    /// statement timeout): trying again may work.
    #[error("temporarily unavailable, try again: {0}")]
    Transient(String),
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
            ServiceError::Unavailable(_) | ServiceError::Transient(_) => ErrorCode::Unavailable,
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
            DbErrorKind::Unavailable => ServiceError::Unavailable(e.to_string()),
            DbErrorKind::Transient => ServiceError::Transient(e.to_string()),
            DbErrorKind::Other => ServiceError::Internal(e.to_string()),
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}

/// What a bus consumer does with a failure: wait for unavailable infrastructure without
/// spending the message's attempts, retry what may work next time, dead-letter what never
/// will. The one translation every consumer of the orchestrator goes through.
impl From<ServiceError> for bus::HandlerError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unavailable(_) => bus::HandlerError::unavailable(e),
            ServiceError::Transient(_) | ServiceError::Internal(_) => bus::HandlerError::retry(e),
            ServiceError::BadRequest(_)
            | ServiceError::NotFound(_)
            | ServiceError::Conflict(_)
            | ServiceError::Forbidden(_)
            | ServiceError::Unprocessable(_) => bus::HandlerError::reject(e),
        }
    }
}
