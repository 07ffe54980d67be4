//! `/health` (the process is alive), `/ready` (its dependencies answer) and `/metrics`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use domain::health::CheckResult;
use futures_util::future::join_all;
use serde_json::json;

use crate::metrics::Metrics;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A named dependency check (database, broker...) used by `/ready` and heartbeats.
#[derive(Clone)]
pub struct ReadyCheck {
    pub name: String,
    run: Arc<dyn Fn() -> CheckFuture + Send + Sync>,
}

/// Builds a [`ReadyCheck`] from an async closure.
pub fn check<F, Fut>(name: &str, f: F) -> ReadyCheck
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    ReadyCheck {
        name: name.into(),
        run: Arc::new(move || Box::pin(f())),
    }
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl ReadyCheck {
    pub async fn run(&self) -> CheckResult {
        let started = Instant::now();
        let outcome = tokio::time::timeout(CHECK_TIMEOUT, (self.run)()).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(Ok(())) => CheckResult {
                ok: true,
                detail: None,
                latency_ms,
            },
            Ok(Err(e)) => CheckResult {
                ok: false,
                detail: Some(e),
                latency_ms,
            },
            Err(_) => CheckResult {
                ok: false,
                detail: Some(format!("no answer within {CHECK_TIMEOUT:?}")),
                latency_ms,
            },
        }
    }

    /// Runs every check concurrently.
    pub async fn run_all(checks: &[ReadyCheck]) -> BTreeMap<String, CheckResult> {
        let results = join_all(checks.iter().map(|c| c.run())).await;
        checks.iter().map(|c| c.name.clone()).zip(results).collect()
    }
}

#[derive(Clone)]
struct OpsState {
    service: Arc<str>,
    metrics: Metrics,
    checks: Arc<[ReadyCheck]>,
}

/// The operations router every service mounts next to its own routes.
pub fn ops_router(service: &str, metrics: Metrics, checks: Vec<ReadyCheck>) -> Router {
    let state = OpsState {
        service: service.into(),
        metrics,
        checks: checks.into(),
    };
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(prometheus))
        .with_state(state)
}

async fn health(State(s): State<OpsState>) -> impl IntoResponse {
    Json(json!({"status": "ok", "service": &*s.service}))
}

async fn ready(State(s): State<OpsState>) -> impl IntoResponse {
    let results = ReadyCheck::run_all(&s.checks).await;
    let all_ok = results.values().all(|r| r.ok);
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if all_ok { "ready" } else { "not_ready" },
        "service": &*s.service,
        "checks": results,
    });
    (status, Json(body))
}

async fn prometheus(State(s): State<OpsState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tower::ServiceExt;

    async fn get_json(router: Router, path: &str) -> (StatusCode, serde_json::Value) {
        let resp = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn ready_follows_its_checks() {
        let db_up = Arc::new(AtomicBool::new(true));
        let flag = db_up.clone();
        let checks = vec![
            check("database", move || {
                let up = flag.load(Ordering::SeqCst);
                async move {
                    if up {
                        Ok(())
                    } else {
                        Err("connection refused".into())
                    }
                }
            }),
            check("broker", || async { Ok(()) }),
        ];
        let router = ops_router("tests", Metrics::new("tests"), checks);
        let (status, body) = get_json(router.clone(), "/ready").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        db_up.store(false, Ordering::SeqCst);
        let (status, body) = get_json(router.clone(), "/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["checks"]["database"]["ok"], false);
        assert_eq!(body["checks"]["database"]["detail"], "connection refused");
        assert_eq!(body["checks"]["broker"]["ok"], true);
        let (status, _) = get_json(router, "/health").await;
        assert_eq!(status, StatusCode::OK, "liveness ignores dependencies");
    }
}
