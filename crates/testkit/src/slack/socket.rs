//! The fake's Socket Mode: a WebSocket endpoint (handed out by `apps.connections.open`)
//! that greets each client with `hello`, lets tests push envelopes (`events_api`,
//! `slash_commands`, `interactive`) and records the acknowledgements clients send back.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Inner {
    clients: Vec<mpsc::UnboundedSender<String>>,
    received: Vec<Value>,
    seq: u64,
}

#[derive(Clone)]
pub struct SocketMode {
    url: String,
    inner: Arc<Mutex<Inner>>,
}

impl SocketMode {
    pub(super) async fn start(stop: CancellationToken) -> SocketMode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/link/?ticket=fake", listener.local_addr().unwrap());
        let sm = SocketMode {
            url,
            inner: Arc::default(),
        };
        let inner = sm.inner.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    _ = stop.cancelled() => return,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                };
                let inner = inner.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let (mut sink, mut stream) = ws.split();
                    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
                    let hello = json!({
                        "type": "hello", "num_connections": 1,
                        "debug_info": {"host": "fake-slack", "build_number": 1, "approximate_connection_time": 3600},
                        "connection_info": {"app_id": "A0APP"}
                    });
                    if sink
                        .send(Message::Text(hello.to_string().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    inner.lock().unwrap().clients.push(tx);
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            out = rx.recv() => match out {
                                Some(text) => if sink.send(Message::Text(text.into())).await.is_err() { return },
                                None => return,
                            },
                            msg = stream.next() => match msg {
                                Some(Ok(Message::Text(t))) => {
                                    if let Ok(v) = serde_json::from_str::<Value>(&t) {
                                        inner.lock().unwrap().received.push(v);
                                    }
                                }
                                Some(Ok(Message::Ping(p))) => { let _ = sink.send(Message::Pong(p)).await; }
                                Some(Ok(_)) => {}
                                _ => return,
                            },
                        }
                    }
                });
            }
        });
        sm
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Clients that received their `hello`.
    pub fn connected(&self) -> usize {
        self.inner
            .lock()
            .unwrap()
            .clients
            .iter()
            .filter(|c| !c.is_closed())
            .count()
    }

    /// Sends an envelope of `kind` with `payload` to one connected client; its envelope id.
    pub fn push(&self, kind: &str, payload: Value) -> String {
        let mut i = self.inner.lock().unwrap();
        i.seq += 1;
        let id = format!("env-{}", i.seq);
        let envelope = json!({
            "envelope_id": id, "type": kind, "payload": payload,
            "accepts_response_payload": kind != "events_api", "retry_attempt": 0, "retry_reason": ""
        });
        let client = i
            .clients
            .iter()
            .find(|c| !c.is_closed())
            .expect("a connected client");
        client.send(envelope.to_string()).expect("client connected");
        id
    }

    /// The acknowledgement a client sent for `envelope_id`, if any.
    pub fn ack(&self, envelope_id: &str) -> Option<Value> {
        self.inner
            .lock()
            .unwrap()
            .received
            .iter()
            .find(|v| v["envelope_id"] == envelope_id)
            .cloned()
    }
}
