//! Every error leaves as JSON `{error, message}` with a 4xx for bad input, never a 500 with
//! database text. The shapes and extractors are shared by every service (`runtime::http`);
//! what is the orchestrator's own is how its service errors map onto them.

use axum::http::StatusCode;
use serde_json::json;

pub use runtime::http::{ApiError, ApiJson, ApiJsonValue, ApiPath, ApiQuery};

use crate::error::ServiceError;

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let (status, error) = match &e {
            ServiceError::BadRequest(_) | ServiceError::Invalid { .. } => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ServiceError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ServiceError::Forbidden(_) | ServiceError::Denied(_) => {
                (StatusCode::FORBIDDEN, "forbidden")
            }
            ServiceError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ServiceError::Unavailable(_) | ServiceError::Transient(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ServiceError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "request failed");
        }
        let extra = match &e {
            ServiceError::Invalid { field, .. } => {
                serde_json::Map::from_iter([("field".to_string(), json!(field))])
            }
            ServiceError::Denied(d) => {
                let mut m = serde_json::Map::from_iter([("clause".to_string(), json!(d.clause))]);
                if let Some(r) = &d.missing_role {
                    m.insert("missing_role".into(), json!(r));
                }
                m
            }
            _ => Default::default(),
        };
        // The cause of a server-side failure stays in the log: database text never leaves.
        let message = match &e {
            ServiceError::Internal(_) => "internal error; the cause is in the service log".into(),
            ServiceError::Unavailable(_) | ServiceError::Transient(_) => {
                "temporarily unavailable (database or broker); retry later".into()
            }
            other => other.to_string(),
        };
        ApiError {
            extra,
            ..ApiError::new(status, error, message)
        }
    }
}
