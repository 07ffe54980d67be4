use domain::commands::{CommandReply, ErrorCode};
use store::{DbErrorKind, StoreError};

/// What the service layer (shared by REST, RPC and MCP) says went wrong; each variant maps to
/// one HTTP status and one RPC error code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    BadRequest(String),
    /// A field breaks a documented limit; the field is named in the reply.
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// Refused by a role or the policy (already audited as `audit.denied`).
    #[error("{}", .0.message)]
    Denied(crate::auth::Denial),
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
            ServiceError::BadRequest(_) | ServiceError::Invalid { .. } => ErrorCode::BadRequest,
            ServiceError::NotFound(_) => ErrorCode::NotFound,
            ServiceError::Conflict(_) => ErrorCode::Conflict,
            ServiceError::Forbidden(_) | ServiceError::Denied(_) => ErrorCode::Forbidden,
            ServiceError::Unprocessable(_) => ErrorCode::Unprocessable,
            ServiceError::Unavailable(_) | ServiceError::Transient(_) => ErrorCode::Unavailable,
            ServiceError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn into_reply(self) -> CommandReply {
        let message = match &self {
            ServiceError::Internal(_)
            | ServiceError::Unavailable(_)
            | ServiceError::Transient(_) => {
                tracing::warn!(error = %self, "command failed");
                match self {
                    ServiceError::Internal(_) => {
                        "internal error; the cause is in the orchestrator log"
                    }
                    _ => "temporarily unavailable (database or broker); retry later",
                }
                .to_string()
            }
            ServiceError::Denied(d) => {
                return CommandReply::err_with(
                    ErrorCode::Forbidden,
                    d.message.clone(),
                    serde_json::json!({"clause": d.clause, "missing_role": d.missing_role}),
                );
            }
            ServiceError::Invalid { field, message } => {
                return CommandReply::err_with(
                    ErrorCode::BadRequest,
                    message.clone(),
                    serde_json::json!({"field": field}),
                );
            }
            _ => self.to_string(),
        };
        CommandReply::err(self.code(), message)
    }
}

/// The one place database errors become service errors. Callers see a class and a plain
/// sentence; the database's own text (table names, values) only reaches the log.
impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        let kind = e.kind();
        if matches!(
            kind,
            DbErrorKind::UniqueViolation | DbErrorKind::InvalidData
        ) {
            tracing::debug!(error = %e, "database refused a change");
        }
        match kind {
            DbErrorKind::NotFound => ServiceError::NotFound("not found".into()),
            DbErrorKind::UniqueViolation => {
                ServiceError::Conflict("conflicts with an existing record".into())
            }
            DbErrorKind::InvalidData => ServiceError::Unprocessable(
                "a value is outside what the database accepts (too long, out of range or malformed)"
                    .into(),
            ),
            DbErrorKind::Unavailable => ServiceError::Unavailable(e.to_string()),
            DbErrorKind::Transient => ServiceError::Transient(e.to_string()),
            DbErrorKind::Other => ServiceError::Internal(e.to_string()),
        }
    }
}

impl From<domain::logs::FieldError> for ServiceError {
    fn from(e: domain::logs::FieldError) -> Self {
        ServiceError::Invalid {
            field: e.field.to_string(),
            message: e.to_string(),
        }
    }
}

impl From<domain::commands::InvalidField> for ServiceError {
    fn from(e: domain::commands::InvalidField) -> Self {
        ServiceError::Invalid {
            field: e.field.to_string(),
            message: e.message,
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
            | ServiceError::Invalid { .. }
            | ServiceError::NotFound(_)
            | ServiceError::Conflict(_)
            | ServiceError::Forbidden(_)
            | ServiceError::Denied(_)
            | ServiceError::Unprocessable(_) => bus::HandlerError::reject(e),
        }
    }
}
