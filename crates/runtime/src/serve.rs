//! The HTTP server of every service: hyper's HTTP/1.1 connection with the three limits a
//! service on a shared network needs, which `axum::serve` has no knob for:
//!
//! - **headers**: a client has `header_read_timeout_secs` to send a request's headers
//!   (also how long an idle keep-alive connection is kept): a connection that trickles
//!   header bytes cannot be held open;
//! - **body**: a request body that stops arriving for `body_read_timeout_secs` fails the
//!   request (a `Content-Length: 1000` with 8 bytes sent is answered, not waited on);
//! - **total**: a request that has no response after `request_timeout_secs` is answered
//!   `408`. Streaming responses (MCP, server-sent events) are timed only until their
//!   headers go out.
//!
//! Handlers may read the peer address (`ConnectInfo<SocketAddr>`), e.g. to rate-limit
//! failed logins per client. On `stop` the listener closes and every connection finishes
//! its request in flight, then closes.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

/// The limits of one server (see the module's text).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub body_read: Duration,
    pub request: Duration,
}

/// Wraps `router` in the body and total timeouts.
pub fn with_timeouts(router: Router, t: Timeouts) -> Router {
    router
        .layer(RequestBodyTimeoutLayer::new(t.body_read))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            t.request,
        ))
}

/// Serves `router` on `listener` until `stop`; then waits for the connections' requests in
/// flight (the caller bounds how long).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    t: Timeouts,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let router = with_timeouts(router, t);
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: the next accept may work.
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // Finished connections are collected as new ones come, so the set stays small.
        while connections.try_join_next().is_some() {}
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(Body::new)
            })
            .map_err(|e: Infallible| match e {});
        let hyper_service = TowerToHyperService::new(service);
        let stop = stop.clone();
        let header_read = t.header_read;
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read);
            let conn = builder
                .serve_connection(TokioIo::new(stream), hyper_service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, %peer, "http connection ended");
                    }
                    return;
                }
                _ = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "http connection ended");
            }
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(t: Timeouts) -> (SocketAddr, CancellationToken) {
        crate::install_crypto_provider();
        let router = Router::new()
            .route("/echo", post(|body: String| async move { body }))
            .route(
                "/peer",
                get(|ConnectInfo(p): ConnectInfo<SocketAddr>| async move { p.ip().to_string() }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, router, t, stop.clone()));
        (addr, stop)
    }

    fn short() -> Timeouts {
        Timeouts {
            header_read: Duration::from_millis(400),
            body_read: Duration::from_millis(400),
            request: Duration::from_millis(800),
        }
    }

    /// Writes `raw`, then reads until the server closes or answers; the answer, and how
    /// long it took.
    async fn exchange(addr: SocketAddr, raw: &[u8]) -> (String, Duration) {
        let started = std::time::Instant::now();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(raw).await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Err(_) => panic!("the server held the connection for 10 s"),
            }
        }
        (
            String::from_utf8_lossy(&out).into_owned(),
            started.elapsed(),
        )
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_is_answered_not_waited_on() {
        let (addr, _stop) = start(short()).await;
        let (answer, took) = exchange(
            addr,
            b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n12345678",
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 4"),
            "a client error, got {answer:?}"
        );
        assert!(took < Duration::from_secs(3), "{took:?}");
    }

    #[tokio::test]
    async fn headers_that_trickle_close_the_connection() {
        let (addr, _stop) = start(short()).await;
        let (answer, took) = exchange(addr, b"GET /peer HTTP/1.1\r\nhost: x\r\n").await;
        // hyper answers 408 or just closes; either way it does not wait for the rest.
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer:?}"
        );
        assert!(took < Duration::from_secs(3), "{took:?}");
    }

    #[tokio::test]
    async fn a_slow_handler_gets_408_and_fast_requests_are_served_with_the_peer() {
        let (addr, _stop) = start(short()).await;
        let (answer, _) = exchange(addr, b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        let client = reqwest::Client::new();
        let peer = client
            .get(format!("http://{addr}/peer"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(peer, "127.0.0.1");
        let echo = client
            .post(format!("http://{addr}/echo"))
            .body("hello")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(echo, "hello");
    }

    #[tokio::test]
    async fn stop_lets_the_request_in_flight_finish() {
        let t = Timeouts {
            request: Duration::from_secs(30),
            ..short()
        };
        let (addr, stop) = start(t).await;
        let pending = tokio::spawn(async move {
            reqwest::Client::new()
                .get(format!("http://{addr}/slow"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
        assert_eq!(pending.await.unwrap(), "late");
        // And the listener is closed.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
