//! Every error leaves as JSON `{error, message}`: 4xx for bad input, naming the field. The
//! shapes and extractors are shared by every service (`runtime::http`).

use axum::http::StatusCode;

pub use runtime::http::{ApiError, ApiJson, ApiPath, ApiQuery};

use crate::error::MonitorError;

impl From<MonitorError> for ApiError {
    fn from(e: MonitorError) -> Self {
        match e {
            MonitorError::BadRequest(m) => ApiError::bad_request(m),
            MonitorError::NotFound(m) => ApiError::not_found(m),
            MonitorError::Unavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            MonitorError::Database(e) => {
                tracing::error!(error = %e, "request failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database did not answer; try again",
                )
            }
        }
    }
}
