//! Test-only stand-in for Elasticsearch in the compose check (deploy/compose-check/): the
//! testkit's fake Elasticsearch (the index, bulk, PIT and search APIs the listener and the log
//! generator use), behind a front that also acknowledges the one-shot setup's calls
//! (`deploy/elasticsearch/setup.sh`: users, roles, index templates, data streams).
//!
//! It is not Elasticsearch: no security (any credentials are accepted), no persistence, no
//! aggregations. Never deploy it; it exists so that `docker compose up` can be checked where no
//! Elasticsearch image can be had.
//!
//! `es-sim --host 0.0.0.0 --port 9200`

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use serde_json::json;
use testkit::elasticsearch::{FakeElasticsearch, FakeEsConfig};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "es-sim",
    about = "Test-only Elasticsearch stand-in for the compose check"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long, default_value_t = 9200)]
    port: u16,
}

struct Front {
    inner: String,
    client: reqwest::Client,
}

const MAX_BODY: usize = 64 * 1024 * 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let fake = FakeElasticsearch::start_on(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        FakeEsConfig::default(),
    )
    .await
    .context("cannot start the fake elasticsearch")?;
    let front = Arc::new(Front {
        inner: fake.url(),
        client: reqwest::Client::new(),
    });
    let app = axum::Router::new().fallback(handle).with_state(front);
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, "elasticsearch stand-in started");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    drop(fake);
    Ok(())
}

/// The setup's security and template calls are acknowledged (nothing is enforced); the rest
/// goes to the fake.
async fn handle(State(front): State<Arc<Front>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if setup_call(&path) {
        tracing::info!(method = %req.method(), %path, "setup call acknowledged");
        let body = if path.starts_with("/_security/user/") && !path.ends_with("/_password") {
            json!({"created": true})
        } else if path.starts_with("/_security/role/") {
            json!({"role": {"created": true}})
        } else {
            json!({"acknowledged": true})
        };
        return (StatusCode::OK, axum::Json(body)).into_response();
    }
    match forward(&front, req).await {
        Ok(r) => r,
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(json!({"error": {"type": "stand_in_error", "reason": e.to_string()}, "status": 502})),
        )
            .into_response(),
    }
}

fn setup_call(path: &str) -> bool {
    ["/_security/", "/_index_template/", "/_data_stream/"]
        .iter()
        .any(|p| path.starts_with(p))
}

async fn forward(front: &Front, req: Request) -> anyhow::Result<Response> {
    let (parts, body) = req.into_parts();
    let body: Bytes = to_bytes(body, MAX_BODY).await?;
    let url = format!(
        "{}{}",
        front.inner,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())?;
    let mut out = front.client.request(method, url).body(body.to_vec());
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        out = out.header(reqwest::header::CONTENT_TYPE, ct.as_bytes());
    }
    let resp = out.send().await?;
    let status = StatusCode::from_u16(resp.status().as_u16())?;
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.as_bytes().to_vec());
    let bytes = resp.bytes().await?;
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    if let Some(ct) = ct {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_bytes(&ct)?);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_setup_apis_are_acknowledged_without_the_fake() {
        assert!(setup_call("/_security/user/runbooks-listener"));
        assert!(setup_call("/_index_template/logs-runbooks"));
        assert!(setup_call("/_data_stream/logs-runbooks-default"));
        assert!(!setup_call("/_bulk"));
        assert!(!setup_call("/logs-jenkins*/_pit"));
        assert!(!setup_call("/_search"));
    }
}
