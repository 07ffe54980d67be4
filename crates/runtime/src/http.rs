//! JSON errors and extractors every service's HTTP routes share: every error leaves as
//! `{"error", "message", ...}` with a 4xx for bad input (never a 500 with some library's text),
//! and the request extractors turn their rejections into such errors.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// An HTTP error: status, a short machine word, a sentence, and optional members
/// (`field`, `clause`, `missing_role`...).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: &'static str,
    pub message: String,
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds a member to the JSON body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 422 naming the offending field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::unprocessable(message).with("field", field)
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.extra;
        body.insert("error".into(), json!(self.error));
        body.insert("message".into(), json!(self.message));
        (self.status, Json(Value::Object(body))).into_response()
    }
}

/// A database error that reached a handler untranslated: its class decides the status, and
/// its text stays in the log (it may name tables or values).
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        use store::DbErrorKind;
        let kind = store::StoreError::from(e);
        tracing::error!(error = %kind, "request failed on the database");
        match kind.kind() {
            DbErrorKind::Unavailable | DbErrorKind::Transient => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database did not answer; try again",
            ),
            DbErrorKind::InvalidData | DbErrorKind::UniqueViolation => {
                ApiError::unprocessable("a value is outside what the database accepts")
            }
            DbErrorKind::NotFound => ApiError::not_found("not found"),
            DbErrorKind::Other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; the cause is in the service log",
            ),
        }
    }
}

/// A JSON object body deserialized as `T`: 400 for malformed JSON, 415 without a JSON
/// content type, 413 for an oversized body, 422 for anything but an object, a wrong type, a
/// missing or unknown field. (serde alone would also read a struct from an array.)
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
pub struct ApiJsonValue(pub Value);

impl<S: Send + Sync> FromRequest<S> for ApiJsonValue {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<Value>::from_request(req, state).await {
            Ok(Json(v)) => match unstorable_number(&v) {
                Some((field, reason)) => Err(ApiError::field(&field, reason)),
                None => Ok(ApiJsonValue(v)),
            },
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => ApiError::unprocessable(e.body_text()),
                JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(e.body_text()),
                JsonRejection::MissingJsonContentType(e) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    e.body_text(),
                ),
                other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::payload_too_large(other.body_text())
                }
                other => ApiError::bad_request(other.body_text()),
            }),
        }
    }
}

/// A number anywhere in a body that PostgreSQL's jsonb would store but serde could not read
/// back, with its path (`params.x`, `[3].details.n`): refused before anything sees it.
fn unstorable_number(v: &Value) -> Option<(String, String)> {
    match v {
        Value::Object(m) => m
            .iter()
            .find_map(|(k, x)| domain::json::unstorable_number(k, x)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| domain::json::unstorable_number(&format!("[{i}]"), x)),
        other => domain::json::unstorable_number("body", other),
    }
}

/// `Path<T>` answering 400 with JSON for ids that do not parse.
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body1 {
        name: Option<String>,
    }

    async fn call(body: &str, content_type: Option<&str>) -> (StatusCode, Value) {
        let app = axum::Router::new().route("/", post(|ApiJson(_): ApiJson<Body1>| async { "ok" }));
        let mut req = axum::http::Request::post("/");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = app
            .oneshot(req.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn every_rejection_is_a_json_error() {
        let json = Some("application/json");
        assert_eq!(call("{}", json).await.0, StatusCode::OK);
        let (s, b) = call("{nope", json).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request"))
        );
        assert_eq!(
            call("[null]", json).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            call(r#"{"sudo": 1}"#, json).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(call("{}", None).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let e = ApiError::bad_request("x")
            .with("field", "name")
            .into_response();
        let bytes = axum::body::to_bytes(e.into_body(), 1 << 16).await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (v["field"].as_str(), v["message"].as_str()),
            (Some("name"), Some("x"))
        );
    }
}
