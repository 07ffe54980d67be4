//! With OTEL_EXPORTER_OTLP_ENDPOINT set, spans reach the collector over OTLP/HTTP. Its own
//! test binary: `telemetry::init` installs the process-wide subscriber.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use telemetry::{LogFormat, TelemetrySettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_to_the_otlp_endpoint() {
    // A stand-in collector: records what arrives on the OTLP/HTTP traces path.
    let received: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                sink.lock().unwrap().push((ct, body.len()));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = TelemetrySettings {
        log_format: LogFormat::Json,
        log_level: "info".into(),
        otlp_endpoint: Some(format!("http://{addr}")),
    };
    let guard = telemetry::init(&settings, "tests", "tests-1").unwrap();
    {
        let span = tracing::info_span!("incident_detected", rule = "jenkins_build_failure");
        let _g = span.enter();
        tracing::info!("inside a traced span");
    }
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();
    for _ in 0..50 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = received.lock().unwrap().clone();
    assert!(!got.is_empty(), "no export reached the collector");
    assert_eq!(got[0].0, "application/x-protobuf");
    assert!(got[0].1 > 0);
}
