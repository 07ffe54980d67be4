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

/// Whether a failing check makes the service unready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// The service's own infrastructure (database, broker): failing means not ready.
    Required,
    /// A system outside Runbooks (Jenkins, Elasticsearch, Slack, Ollama): failing means
    /// `degraded`, reported but never a reason to take the service out of rotation, or a
    /// Jenkins outage would stall every rolling deploy.
    External,
}

/// A named dependency check (database, broker, Jenkins...) used by `/ready` and heartbeats.
#[derive(Clone)]
pub struct ReadyCheck {
    pub name: String,
    pub kind: CheckKind,
    run: Arc<dyn Fn() -> CheckFuture + Send + Sync>,
}

/// Builds a required [`ReadyCheck`] from an async closure.
pub fn check<F, Fut>(name: &str, f: F) -> ReadyCheck
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    ReadyCheck {
        name: name.into(),
        kind: CheckKind::Required,
        run: Arc::new(move || Box::pin(f())),
    }
}

/// Builds an [`CheckKind::External`] check: its failure shows as `degraded`.
pub fn external_check<F, Fut>(name: &str, f: F) -> ReadyCheck
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    ReadyCheck {
        kind: CheckKind::External,
        ..check(name, f)
    }
}

/// What a round of checks found: every result, whether the required ones pass, and which
/// external dependencies fail.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub checks: BTreeMap<String, CheckResult>,
    pub ready: bool,
    pub degraded: Vec<String>,
}

impl Readiness {
    pub async fn evaluate(checks: &[ReadyCheck]) -> Readiness {
        let results = ReadyCheck::run_all(checks).await;
        let ready = checks
            .iter()
            .filter(|c| c.kind == CheckKind::Required)
            .all(|c| results.get(&c.name).is_some_and(|r| r.ok));
        let degraded = checks
            .iter()
            .filter(|c| c.kind == CheckKind::External)
            .filter(|c| results.get(&c.name).is_none_or(|r| !r.ok))
            .map(|c| c.name.clone())
            .collect();
        Readiness {
            checks: results,
            ready,
            degraded,
        }
    }

    /// Sets `runbooks_dependency_up{dependency, kind}` from this round.
    pub fn record(&self, metrics: &Metrics, checks: &[ReadyCheck]) {
        let gauge = metrics.dependency_gauge();
        for c in checks {
            let kind = match c.kind {
                CheckKind::Required => "required",
                CheckKind::External => "external",
            };
            let up = self.checks.get(&c.name).is_some_and(|x| x.ok);
            gauge.with_label_values(&[&c.name, kind]).set(up as i64);
        }
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
    let r = Readiness::evaluate(&s.checks).await;
    r.record(&s.metrics, &s.checks);
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let label = match (r.ready, r.degraded.is_empty()) {
        (false, _) => "not_ready",
        (true, true) => "ready",
        (true, false) => "degraded",
    };
    let body = json!({
        "status": label,
        "service": &*s.service,
        "degraded": r.degraded,
        "checks": r.checks,
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

    #[tokio::test]
    async fn an_external_failure_degrades_without_failing_readiness() {
        let checks = vec![
            check("database", || async { Ok(()) }),
            external_check("jenkins", || async { Err("connection refused".into()) }),
        ];
        let metrics = Metrics::new("tests");
        let router = ops_router("tests", metrics.clone(), checks);
        let (status, body) = get_json(router.clone(), "/ready").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "degraded");
        assert_eq!(body["degraded"], serde_json::json!(["jenkins"]));
        assert_eq!(body["checks"]["jenkins"]["detail"], "connection refused");
        let text = metrics.render();
        assert!(
            text.contains(
                r#"runbooks_dependency_up{dependency="jenkins",kind="external",service="tests"} 0"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"runbooks_dependency_up{dependency="database",kind="required",service="tests"} 1"#
            ),
            "{text}"
        );
    }
}
