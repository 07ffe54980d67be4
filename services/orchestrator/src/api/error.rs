//! Every error leaves as JSON `{error, message}` with a 4xx for bad input, never a 500.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::ServiceError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: &'static str,
    pub message: String,
    /// More members of the JSON body (`field`, `clause`, `missing_role`...).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            message: message.into(),
            extra: Default::default(),
        }
    }

    /// Adds a member to the JSON body.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.extra;
        body.insert("error".into(), json!(self.error));
        body.insert("message".into(), json!(self.message));
        (self.status, Json(serde_json::Value::Object(body))).into_response()
    }
}

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
            ServiceError::Unavailable(_) => {
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

/// A JSON object body deserialized as `T`, with JSON errors: 400 for malformed JSON, 415
/// without a JSON content type, 413 for oversized bodies, 422 for anything but an object,
/// wrong types or missing fields. (serde would also read a struct from an array.)
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJsonValue(v) = ApiJsonValue::from_request(req, state).await?;
        if !v.is_object() {
            return Err(ApiError::unprocessable("the body must be a JSON object"));
        }
        serde_json::from_value(v)
            .map(ApiJson)
            .map_err(|e| ApiError::unprocessable(format!("invalid body: {e}")))
    }
}

/// Any JSON body (objects and arrays), with the same errors as [`ApiJson`].
pub struct ApiJsonValue(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for ApiJsonValue {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<serde_json::Value>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJsonValue(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => ApiError::unprocessable(e.body_text()),
                JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(e.body_text()),
                JsonRejection::MissingJsonContentType(e) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    e.body_text(),
                ),
                other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    other.body_text(),
                ),
                other => ApiError::bad_request(other.body_text()),
            }),
        }
    }
}

/// `Path<T>` answering 400 with JSON for ids that are not numbers.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| ApiError::bad_request(e.body_text()))
    }
}

/// `Query<T>` answering 400 with JSON for unknown or malformed parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::bad_request(e.body_text()))
    }
}
